/**
 * What one move of the grid's window costs the page's main thread. A real
 * Chromium shows a 100,000-row table (nothing streams); the grid is scrolled
 * by exactly one window step (20 rows) 60 times, 80 ms apart, under a
 * DevTools trace, and the median of each phase of the task that laid out
 * the new rows is printed as one JSON object. Tracing slows everything, so
 * compare the numbers with each other, not with a frame's 16.7 ms.
 *
 *   npm run build && npx tsx bench/window-step.ts
 *
 * BENCH_CSS='…' adds a style sheet once the page has loaded (as in bench/browser.ts).
 */
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, systemChromium } from '../test-support/chromium.js';
import { seededServerArgs, startBuiltServer } from '../test-support/serverProcess.js';
import { openTablePage } from './tablePage.js';

const ROWS = 100_000;
const STEPS = 60;
/** DataTable.svelte's WINDOW_STEP. */
const STEP_ROWS = 20;
const PHASES = ['Layout', 'Paint', 'UpdateLayoutTree', 'PrePaint', 'Layerize', 'Commit', 'FunctionCall'];

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  args?: { name?: string; beginData?: { dirtyObjects?: number } };
}

async function measure(url: string): Promise<void> {
  const browser = await chromium.launch({ executablePath: systemChromium(), args: CHROMIUM_ARGS });
  try {
    const { page } = await openTablePage(browser, url, ROWS);
    await new Promise((resolve) => setTimeout(resolve, 500));

    await browser.startTracing(undefined, {
      categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'],
    });
    await page.evaluate(
      async ({ steps, stepRows }) => {
        const grid = document.querySelector<HTMLElement>('[data-testid="grid-scroller"]')!;
        const rowHeight = grid.querySelector('tbody tr[data-row-id]')!.getBoundingClientRect().height;
        for (let i = 1; i <= steps; i++) {
          grid.scrollTop = i * stepRows * rowHeight + 5;
          await new Promise((resolve) => setTimeout(resolve, 80));
        }
      },
      { steps: STEPS, stepRows: STEP_ROWS },
    );
    const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] } | TraceEvent[];
    const events = Array.isArray(trace) ? trace : trace.traceEvents;

    // The page's renderer: the one that laid anything out (Chromium may keep
    // a spare renderer process, idle, with a main thread of the same name).
    const layouts = new Map<string, number>();
    for (const e of events)
      if (e.name === 'Layout') layouts.set(`${e.pid}/${e.tid}`, (layouts.get(`${e.pid}/${e.tid}`) ?? 0) + 1);
    const laidOut = (e: TraceEvent) => layouts.get(`${e.pid}/${e.tid}`) ?? 0;
    const main = events
      .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
      .sort((a, b) => laidOut(b) - laidOut(a))[0];
    if (main === undefined) throw new Error('no renderer main thread in the trace');
    const slices = events
      .filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur !== undefined)
      .sort((a, b) => a.ts - b.ts);
    const tasks = slices.filter((e) => e.name === 'RunTask');
    const within = (outer: TraceEvent, e: TraceEvent) => e.ts >= outer.ts && e.ts <= outer.ts + outer.dur!;
    // A step lays out 20 new rows: far more objects than a frame's text changes.
    const stepTasks = new Set(
      slices
        .filter((e) => e.name === 'Layout' && (e.args?.beginData?.dirtyObjects ?? 0) > 100)
        .map((layout) => tasks.find((task) => within(task, layout)))
        .filter((task): task is TraceEvent => task !== undefined),
    );
    // Each step should show up once; far fewer means the grid did not move or the trace changed shape.
    if (stepTasks.size < STEPS / 2)
      throw new Error(`found ${stepTasks.size} window steps in the trace, expected ${STEPS}`);
    const samples: Record<string, number[]> = { task: [] };
    for (const task of stepTasks) {
      samples.task!.push(task.dur! / 1000);
      const inner = slices.filter((e) => e !== task && within(task, e));
      for (const phase of PHASES)
        (samples[phase] ??= []).push(inner.filter((e) => e.name === phase).reduce((sum, e) => sum + e.dur!, 0) / 1000);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
    console.log(
      JSON.stringify({
        benchmark: 'window-step',
        steps: stepTasks.size,
        median_ms: Object.fromEntries(
          Object.entries(samples).map(([phase, values]) => [phase, Math.round(median(values) * 100) / 100]),
        ),
      }),
    );
  } finally {
    await browser.close();
  }
}

const { url, child } = await startBuiltServer(seededServerArgs(ROWS), { stderr: 'inherit' });
try {
  await measure(url);
} finally {
  child.kill('SIGTERM');
}
