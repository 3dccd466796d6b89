/**
 * The browser benchmark: a real Chromium shows a 100,000-row table while the
 * server streams about 1,000 changes a second and the grid is scrolled, and
 * one JSON object of what it measured is printed. It asserts nothing.
 *
 *   npm run build && npx tsx bench/browser.ts
 *
 * BENCH_PROFILE=file.cpuprofile also records the page's JavaScript while it
 * streams (open the file in Chrome DevTools) and prints the top functions.
 * BENCH_HEAP=file.heapprofile records what the page's JavaScript allocates
 * while it streams (sampled, collected objects included) and prints the top
 * allocating functions. BENCH_TRACE=file.json records a DevTools trace of the
 * stream (open it in Chrome DevTools' Performance panel or Perfetto) and prints
 * what made the page restyle and repaint most often.
 * Each of these slows the page: read its frame numbers as disturbed.
 * BENCH_CSS='…' adds a style sheet to the page once it has loaded (see tablePage.ts).
 * BENCH_INSTRUMENTED=1 measures a page of Playwright's own instead of one it
 * does not instrument (see benchPage.ts).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, systemChromium } from '../test-support/chromium.js';
import { seededServerArgs, startBuiltServer } from '../test-support/serverProcess.js';
import type { BenchPage } from './benchPage.js';
import { INSTRUMENTED, openTablePage } from './tablePage.js';

const ROWS = 100_000;
const STREAM_MS = 20_000;
const IDLE_MS = 5_000;
const SERVER_ARGS = seededServerArgs(ROWS, [
  // 10 changes every 10 ms: 1,000 a second (a 1 ms timer only manages about 800 ticks).
  '--update-interval',
  '10',
  '--changes-per-tick',
  '10',
  '--heartbeat-interval',
  '2000',
]);
const TARGETS = { frame_p95_ms: 20, longest_task_after_load_ms: 100, dom_rows: 200 };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** The share of `frames` (ms) over the p95 target, in percent. */
const overTargetPct = (frames: number[]) =>
  round((100 * frames.filter((ms) => ms > TARGETS.frame_p95_ms).length) / frames.length);

/** Installed before the app loads: records long tasks from the very start. */
function recordLongTasks(): void {
  const tasks: { start: number; duration: number }[] = [];
  (window as unknown as { __benchTasks: typeof tasks }).__benchTasks = tasks;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
}

interface Measured {
  seconds: number;
  deltas: number[];
  loadTasks: number[];
  after: number[];
  maxDomRows: number;
  /** The furthest the grid was scrolled, in px: proof that it scrolled. */
  scrolledTo: number;
  domRows: number;
  heap: { used: number; total: number } | null;
  changes: number;
  versions: number;
  records: number;
}

/**
 * Starts recording, in the page, the time between animation frames. It reads
 * nothing that forces a layout (only a row count, every 30th frame), so the
 * measuring does not add work a reader scrolling the page would not cause.
 */
function startMeasuring(): void {
  const w = window as unknown as Record<string, unknown>;
  const text = (id: string) => document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() ?? '';
  const version = () => Number(document.querySelector('[data-testid="table"]')?.getAttribute('data-version'));
  const tasks = w.__benchTasks as { start: number; duration: number }[];
  const state = {
    t0: performance.now(),
    loadTasks: tasks.length,
    updates0: Number(text('stat-updates')),
    version0: version(),
    deltas: [] as number[],
    maxDomRows: 0,
    scrolledTo: 0,
    running: true,
  };
  w.__benchMeasure = state;
  let last = performance.now();
  const scroller = document.querySelector('[data-testid="grid-scroller"]');
  const rows = () => document.querySelectorAll('[data-testid="grid-scroller"] tbody tr[data-row-id]').length;
  const frame = (now: number) => {
    state.deltas.push(now - last);
    last = now;
    if (state.deltas.length % 30 === 0) {
      state.maxDomRows = Math.max(state.maxDomRows, rows());
      state.scrolledTo = Math.max(state.scrolledTo, scroller?.scrollTop ?? 0);
    }
    if (state.running) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  w.__benchStop = (): Measured => {
    state.running = false;
    const seconds = (performance.now() - state.t0) / 1000;
    const after = tasks.slice(state.loadTasks).filter((task) => task.start >= state.t0);
    const memory = (performance as unknown as { memory?: { usedJSHeapSize: number; totalJSHeapSize: number } }).memory;
    return {
      seconds,
      deltas: state.deltas,
      loadTasks: tasks.slice(0, state.loadTasks).map((task) => task.duration),
      after: after.map((task) => task.duration),
      maxDomRows: Math.max(state.maxDomRows, rows()),
      scrolledTo: state.scrolledTo,
      domRows: rows(),
      heap: memory ? { used: memory.usedJSHeapSize, total: memory.totalJSHeapSize } : null,
      changes: Number(text('stat-updates')) - state.updates0,
      versions: version() - state.version0,
      records: Number(text('stat-records')),
    };
  };
}

/**
 * Scrolls the grid for `ms` the way a reader does, with the browser's own
 * smooth-scroll gestures (mouse wheel, 4,000 px a second, down then up).
 */
async function scrollFor(page: BenchPage, ms: number): Promise<Measured> {
  const box = await page.evaluate(() => {
    const rect = document.querySelector('[data-testid="grid-scroller"]')?.getBoundingClientRect();
    return rect && { x: rect.x, y: rect.y, width: rect.width, height: rect.height };
  });
  if (!box) throw new Error('the grid is not on screen');
  await page.evaluate(startMeasuring);
  const end = Date.now() + ms;
  for (let down = true; Date.now() < end; down = !down) {
    await page.send('Input.synthesizeScrollGesture', {
      x: box.x + box.width / 2,
      y: box.y + box.height / 2,
      yDistance: down ? -4000 : 4000,
      speed: 4000,
      gestureSourceType: 'mouse',
    });
  }
  return page.evaluate(() => (window as unknown as { __benchStop: () => Measured }).__benchStop());
}

/** A reading of CPU time: per thread ("pid/tid"), its group ("process type:thread name") and ms used so far. */
type CpuReading = Map<string, { group: string; ms: number }>;

/**
 * CPU time of every thread of the server and of Chromium's processes (every
 * other descendant of this process; this process itself, the driver, is left
 * out). Linux only: null elsewhere.
 */
function threadCpu(roots: [server: number, driver: number]): CpuReading | null {
  if (!existsSync('/proc/self/task')) return null;
  const tick = 10; // ms per clock tick (USER_HZ is 100 on Linux's common architectures)
  const stat = (path: string) => {
    const text = readFileSync(path, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')),
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
    };
  };
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parent.set(Number(entry), stat(`/proc/${entry}/stat`).ppid);
    } catch {
      // gone meanwhile
    }
  }
  const owner = (pid: number): 'server' | 'chromium' | null => {
    for (
      let at: number | undefined = pid, depth = 0;
      at !== undefined && at > 1 && depth < 10;
      at = parent.get(at), depth++
    ) {
      if (at === roots[0]) return 'server';
      if (at === roots[1]) return 'chromium';
    }
    return null;
  };
  const reading: CpuReading = new Map();
  for (const pid of parent.keys()) {
    const who = owner(pid);
    if (who === null || pid === roots[1]) continue;
    let type: string;
    let tids: string[];
    try {
      type =
        who === 'server'
          ? 'server'
          : (/--type=([a-z-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? 'browser');
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tids) {
      try {
        const thread = stat(`/proc/${pid}/task/${tid}/stat`);
        reading.set(`${pid}/${tid}`, { group: `${type}:${thread.name.replace(/\d+$/, '')}`, ms: thread.ticks * tick });
      } catch {
        // this thread is gone meanwhile
      }
    }
  }
  return reading;
}

/**
 * CPU ms per second of wall time between two readings, by group, busiest
 * first (groups under 10 ms/s left out of the list, not of the total). Each
 * thread counts from the first reading, or from 0 if it started since; a
 * thread that ended meanwhile is not counted.
 */
function cpuBetween(before: CpuReading | null, after: CpuReading | null, seconds: number) {
  if (before === null || after === null) return null;
  const groups = new Map<string, number>();
  for (const [thread, { group, ms }] of after) {
    const used = Math.max(0, ms - (before.get(thread)?.ms ?? 0));
    groups.set(group, (groups.get(group) ?? 0) + used / seconds);
  }
  const out: Record<string, number> = {};
  for (const [group, ms] of [...groups].sort((a, b) => b[1] - a[1])) if (ms >= 10) out[group] = Math.round(ms);
  out.total = Math.round([...groups.values()].reduce((sum, ms) => sum + ms, 0));
  return out;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}

interface HeapProfile {
  head: HeapNode;
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** Adds `amount` to the total kept for `key`. */
function addTo(totals: Map<string, number>, key: string, amount: number): void {
  totals.set(key, (totals.get(key) ?? 0) + amount);
}

/** The `count` largest totals, largest first, one `line` each. */
function largest(totals: Map<string, number>, count: number, line: (key: string, amount: number) => string): string[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, amount]) => line(key, amount));
}

/** "name file:line" of a profile's call frame. */
function frameName(frame: { functionName: string; url: string; lineNumber: number } | undefined): string {
  return `${frame?.functionName || '(anonymous)'} ${frame?.url.split('/').pop() ?? ''}:${frame?.lineNumber ?? 0}`;
}

const share = (part: number, total: number) => `${((100 * part) / total).toFixed(1).padStart(5)}%`;

/** The functions that allocated the most themselves, as "KB  share  name url:line" lines. */
function topAllocators(profile: HeapProfile, count = 25): string {
  const self = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode) => {
    addTo(self, frameName(node.callFrame), node.selfSize);
    total += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  return [
    `${(total / 2 ** 20).toFixed(1)} MB allocated`,
    ...largest(
      self,
      count,
      (key, bytes) => `${(bytes / 1024).toFixed(0).padStart(7)} KB ${share(bytes, total)}  ${key}`,
    ),
  ].join('\n');
}

/** The functions that took the most time themselves, as "ms  share  name url:line" lines. */
function topFunctions(profile: CpuProfile, count = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  (profile.samples ?? []).forEach((id, i) => {
    const micros = profile.timeDeltas?.[i] ?? 0;
    addTo(self, frameName(byId.get(id)?.callFrame), micros);
    total += micros;
  });
  return largest(
    self,
    count,
    (key, micros) => `${(micros / 1000).toFixed(0).padStart(7)} ms ${share(micros, total)}  ${key}`,
  ).join('\n');
}

interface Trace {
  traceEvents: { name: string; ph: string; args?: { data?: { nodeName?: string; reason?: string } } }[];
}

/**
 * Why the page restyled and what it painted, per second of the stream: the
 * most frequent style invalidations (element and reason) and the elements
 * painted most often. Something near 60 a second is redone every frame.
 */
function topInvalidations(trace: Trace, seconds: number, count = 12): string {
  const perSecond = (events: Trace['traceEvents']) => {
    const counts = new Map<string, number>();
    for (const event of events) {
      addTo(counts, `${event.args?.data?.nodeName ?? '?'}  ${event.args?.data?.reason ?? ''}`, 1);
    }
    return largest(counts, count, (key, n) => `${(n / seconds).toFixed(1).padStart(7)}/s  ${key}`);
  };
  const events = trace.traceEvents;
  return [
    'style invalidations:',
    ...perSecond(events.filter((event) => event.name === 'StyleRecalcInvalidationTracking')),
    'paints:',
    ...perSecond(events.filter((event) => event.name === 'Paint' && event.ph === 'X')),
  ].join('\n');
}

async function main(): Promise<void> {
  const { url, child } = await startBuiltServer(SERVER_ARGS, { stderr: 'inherit' });
  try {
    await measure(url, child.pid ?? -1);
  } finally {
    child.kill('SIGTERM');
  }
}

async function measure(url: string, serverPid: number): Promise<void> {
  const browser = await chromium.launch({ executablePath: systemChromium(), args: CHROMIUM_ARGS });
  try {
    const { page, loadMs: pageLoadMs } = await openTablePage(browser, url, ROWS, [recordLongTasks]);
    const version = () =>
      page.evaluate(() => Number(document.querySelector('[data-testid="table"]')?.getAttribute('data-version')));
    const click = async (testId: string) => {
      const clicked = await page.evaluate((id) => {
        const button = document.querySelector<HTMLButtonElement>(`[data-testid="${id}"]`);
        if (!button || button.disabled) return false;
        button.click();
        return true;
      }, testId);
      if (!clicked) throw new Error(`the ${testId} button is missing or disabled`);
    };

    // What scrolling alone costs on this machine: no session, nothing streams.
    // The server, and everything else this process started: Chromium's processes.
    const roots: [number, number] = [serverPid, process.pid];
    const idleCpu0 = threadCpu(roots);
    const idleStart = Date.now();
    const idle = await scrollFor(page, IDLE_MS);
    const idleCpu = cpuBetween(idleCpu0, threadCpu(roots), (Date.now() - idleStart) / 1000);
    const idleFrames = [...idle.deltas.slice(1)].sort((a, b) => a - b);

    // The session's init carries the whole table again; the first load ends once it is applied.
    const startClicked = Date.now();
    const clickedAt = await page.evaluate(() => performance.now());
    await click('start');
    // The session's own stream: the page followed the table on the watch stream until now.
    await page.waitFor(
      () =>
        document.querySelector('[data-testid="stop"]')?.hasAttribute('disabled') === false &&
        document.querySelector('[data-testid="connection"]')?.getAttribute('data-state') === 'live',
    );
    await page.waitFor(
      (v) => Number(document.querySelector('[data-testid="table"]')?.getAttribute('data-version')) > v + 100,
      await version(),
      60_000,
    );
    const sessionLoadMs = Date.now() - startClicked;
    // Long tasks from the Start click until the session's changes show: a
    // snapshot of the whole table would be one.
    const startTasks = await page.evaluate(
      (since) =>
        (window as unknown as { __benchTasks: { start: number; duration: number }[] }).__benchTasks
          .filter((task) => task.start >= since)
          .map((task) => task.duration),
      clickedAt,
    );

    const profileFile = process.env.BENCH_PROFILE;
    if (profileFile) {
      await page.send('Profiler.enable');
      await page.send('Profiler.start');
    }
    const heapFile = process.env.BENCH_HEAP;
    if (heapFile) {
      await page.send('HeapProfiler.enable');
      await page.send('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    const traceFile = process.env.BENCH_TRACE;
    if (traceFile)
      await browser.startTracing(undefined, {
        categories: [
          'devtools.timeline',
          'disabled-by-default-devtools.timeline',
          'disabled-by-default-devtools.timeline.frame',
          // What made the page restyle, lay out or repaint, with the script's stack.
          'disabled-by-default-devtools.timeline.invalidationTracking',
          'disabled-by-default-devtools.timeline.stack',
        ],
      });
    const cpu0 = threadCpu(roots);
    const driver0 = process.cpuUsage();
    const cpuStart = Date.now();
    const result = await scrollFor(page, STREAM_MS);
    const streamedSeconds = (Date.now() - cpuStart) / 1000;
    const cpu = cpuBetween(cpu0, threadCpu(roots), streamedSeconds);
    const driver = process.cpuUsage(driver0);
    if (profileFile) {
      const { profile } = await page.send<{ profile: CpuProfile }>('Profiler.stop');
      writeFileSync(profileFile, JSON.stringify(profile));
      console.error(topFunctions(profile));
    }

    if (heapFile) {
      const { profile } = await page.send<{ profile: HeapProfile }>('HeapProfiler.stopSampling');
      writeFileSync(heapFile, JSON.stringify(profile));
      console.error(topAllocators(profile));
    }
    if (traceFile) {
      const trace = await browser.stopTracing();
      writeFileSync(traceFile, trace);
      console.error(topInvalidations(JSON.parse(trace.toString()) as Trace, streamedSeconds));
    }

    // What the page holds, not what waits for the collector: a full GC first.
    await page.send('HeapProfiler.collectGarbage');
    const { usedSize: heapAfterGc } = await page.send<{ usedSize: number }>('Runtime.getHeapUsage');

    await click('stop');
    const frames = [...result.deltas.slice(1)].sort((a, b) => a - b);
    const longest = Math.max(0, ...result.after);
    const output = {
      benchmark: 'browser',
      rows_at_start: ROWS,
      rows_at_end: result.records,
      page_load_ms: pageLoadMs,
      session_load_ms: sessionLoadMs,
      long_tasks_after_start_click: { count: startTasks.length, longest_ms: round(Math.max(0, ...startTasks)) },
      stream_seconds: round(result.seconds),
      frames: frames.length,
      frame_ms: {
        p50: round(percentile(frames, 50)),
        p95: round(percentile(frames, 95)),
        p99: round(percentile(frames, 99)),
        max: round(frames.at(-1) ?? NaN),
      },
      frames_over_20ms_pct: overTargetPct(frames),
      scroll_only_frame_ms: {
        p50: round(percentile(idleFrames, 50)),
        p95: round(percentile(idleFrames, 95)),
        p99: round(percentile(idleFrames, 99)),
      },
      scroll_only_frames_over_20ms_pct: overTargetPct(idleFrames),
      scroll_only_cpu_ms_per_s: idleCpu,
      long_tasks_during_load: { count: result.loadTasks.length, longest_ms: round(Math.max(0, ...result.loadTasks)) },
      long_tasks_after_load: { count: result.after.length, longest_ms: round(longest) },
      total_blocking_time_ms: round(result.after.reduce((sum, d) => sum + Math.max(0, d - 50), 0)),
      dom_rows: { end: result.domRows, max: result.maxDomRows },
      scrolled_px: { idle: Math.round(idle.scrolledTo), streaming: Math.round(result.scrolledTo) },
      js_heap_mb: result.heap
        ? {
            used: round(result.heap.used / 2 ** 20),
            total: round(result.heap.total / 2 ** 20),
            after_gc: round(heapAfterGc / 2 ** 20),
          }
        : null,
      changes_applied_per_s: round(result.changes / result.seconds),
      // CPU ms per second while streaming, by process type and thread (Linux only).
      cpu_ms_per_s: cpu,
      // This process: it drives the browser, and shares the machine with it.
      driver: {
        page: INSTRUMENTED ? 'playwright' : 'bare',
        cpu_ms_per_s: Math.round((driver.user + driver.system) / 1000 / streamedSeconds),
      },
      seq_advanced_per_s: round(result.versions / result.seconds),
      targets: TARGETS,
      meets: {
        frame_p95: percentile(frames, 95) <= TARGETS.frame_p95_ms,
        no_long_task_over_100ms_after_load: longest <= TARGETS.longest_task_after_load_ms,
        dom_rows: result.maxDomRows <= TARGETS.dom_rows,
      },
    };
    console.log(JSON.stringify(output));
  } finally {
    await browser.close();
  }
}

await main();
