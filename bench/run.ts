/**
 * `npm run bench`: Livetable and a bare node:http broadcaster (the
 * baseline) under the same load tool, in one run, on this machine. Prints
 * one JSON object with every number and each target next to what was
 * measured. Needs `npm run build` first. Set BENCH_QUICK=1 for a short run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runLoad, type LoadResult } from './loadClient.js';
import { nchanMissing, startNchan } from './nchan.js';
import { cpuMs } from './procCpu.js';
import { spawnServer, type ServerProcess } from '../test-support/serverProcess.js';

const QUICK = Boolean(process.env.BENCH_QUICK);
/** BENCH_ONLY=timeToInit,bytesPerEvent runs just those scenarios. */
const ONLY = process.env.BENCH_ONLY?.split(',');
const wanted = (name: string) => ONLY === undefined || ONLY.includes(name);
const SECONDS = QUICK ? 3 : 10;
const HOST = '127.0.0.1';
/** Rounds of the fan-out scenarios, each server once a round, in turn (BENCH_ROUNDS, default 3). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
/** BENCH_ARGS='--flush-interval 10': more options for every Livetable the bench starts. */
const EXTRA_ARGS = process.env.BENCH_ARGS?.split(' ').filter(Boolean) ?? [];
/** BENCH_PIN=1: each server on CPU 0, this process (the load) on CPU 1, with taskset. */
const PIN = Boolean(process.env.BENCH_PIN);

function pin(pid: number, cpu: number): void {
  if (PIN) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

function start(command: string[], extra: string[]): Promise<ServerProcess> {
  return spawnServer([...command, ...extra], { stderr: 'inherit' });
}

const livetableArgs = (interval: number, perTick: number, more: string[] = []) => [
  '--port',
  '0',
  '--store',
  'memory',
  '--static-dir',
  'no-such-dir',
  '--log-level',
  'info',
  '--update-interval',
  String(interval),
  '--changes-per-tick',
  String(perTick),
  '--heartbeat-interval',
  '5000',
  '--max-connections',
  '20000',
  '--max-connections-per-session',
  '20000',
  // The load client is one address.
  '--max-connections-per-address',
  '20000',
  ...more,
  ...EXTRA_ARGS,
];

async function livetable(interval: number, perTick: number, more: string[] = []) {
  const server = await start(['dist/server/main.js'], livetableArgs(interval, perTick, more));
  const started = (await (await fetch(`${server.url}/api/start`, { method: 'POST' })).json()) as { session_id: string };
  return { ...server, path: `/api/stream/${started.session_id}` };
}

async function baseline(interval: number, perTick: number) {
  const server = await start(
    ['--import', 'tsx', 'bench/baseline.ts'],
    ['--port', '0', '--update-interval', String(interval), '--changes-per-tick', String(perTick)],
  );
  return { ...server, path: '/stream' };
}

const stop = (server: ServerProcess) => {
  server.child.kill('SIGKILL');
};

/** A fan-out run against one server: what the load saw, and the server's CPU while it counted. */
interface FanoutResult extends LoadResult {
  cpuMsPerSecond: number;
  /** Server CPU per event delivered to one client, in µs. */
  cpuUsPerDelivery: number;
}

async function loadWithCpu(server: { pid: number; port: number; path: string }, clients: number) {
  pin(server.pid, 0);
  let from = 0;
  let used = 0;
  const result = await runLoad({
    host: HOST,
    port: server.port,
    path: server.path,
    clients,
    seconds: SECONDS,
    onCount: (counting) => {
      if (counting) from = cpuMs(server.pid);
      else used = cpuMs(server.pid) - from;
    },
  });
  return {
    ...result,
    cpuMsPerSecond: Math.round(used / result.seconds),
    cpuUsPerDelivery: result.events === 0 ? NaN : round((used * 1000) / result.events),
  } satisfies FanoutResult;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Medians over the rounds of what the comparison needs, with each round's value. */
function summary(runs: FanoutResult[]) {
  const pick = (f: (r: FanoutResult) => number) => ({ median: round(median(runs.map(f))), rounds: runs.map(f) });
  return {
    eventsPerSecond: pick((r) => r.eventsPerSecond),
    p99Ms: pick((r) => r.latencyMs.p99),
    cpuUsPerDelivery: pick((r) => r.cpuUsPerDelivery),
    cpuMsPerSecond: pick((r) => r.cpuMsPerSecond),
    gaps: pick((r) => r.gaps),
    failed: pick((r) => r.failed),
  };
}

/**
 * The bare Node broadcaster, Livetable and (when installed) Nchan under the
 * same load, in turn, ROUNDS times: medians and every round.
 */
async function fanout(clients: number, interval: number, perTick: number) {
  const nchanWhy = nchanMissing();
  const runs: { baseline: FanoutResult[]; livetable: FanoutResult[]; nchan: FanoutResult[] } = {
    baseline: [],
    livetable: [],
    nchan: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    const base = await baseline(interval, perTick);
    runs.baseline.push(await loadWithCpu({ ...base, pid: base.child.pid as number }, clients));
    stop(base);
    const live = await livetable(interval, perTick);
    runs.livetable.push(await loadWithCpu({ ...live, pid: live.child.pid as number }, clients));
    stop(live);
    if (nchanWhy === null) {
      const nchan = await startNchan(interval, perTick);
      // The others make their events on the server's core: so does Nchan's publisher.
      pin(nchan.publisherPid, 0);
      runs.nchan.push(await loadWithCpu(nchan, clients));
      nchan.stop();
    }
  }
  const baselineSummary = summary(runs.baseline);
  const livetableSummary = summary(runs.livetable);
  const nchanSummary = nchanWhy === null ? summary(runs.nchan) : null;
  const ratio = (a: number, b: number) => round(a / Math.max(b, 1e-9));
  return {
    baseline: baselineSummary,
    livetable: livetableSummary,
    nchan: nchanSummary ?? { missing: nchanWhy },
    eventsPerSecondRatio: ratio(livetableSummary.eventsPerSecond.median, baselineSummary.eventsPerSecond.median),
    p99Ratio: ratio(livetableSummary.p99Ms.median, Math.max(1, baselineSummary.p99Ms.median)),
    vsNchan:
      nchanSummary === null
        ? null
        : {
            eventsPerSecond: ratio(livetableSummary.eventsPerSecond.median, nchanSummary.eventsPerSecond.median),
            cpuPerDelivery: ratio(livetableSummary.cpuUsPerDelivery.median, nchanSummary.cpuUsPerDelivery.median),
            p99: ratio(livetableSummary.p99Ms.median, Math.max(1, nchanSummary.p99Ms.median)),
          },
  };
}

/** A process's resident memory in bytes, from /proc (the same figure as Node's `rss`). */
function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

/**
 * Holds `clients` streams open while `perTick` changes come every
 * `interval` ms: latency, and the server's memory per open stream (peak RSS
 * over what it had before they connected). The bare Node broadcaster,
 * Livetable and, with `nchan`, Nchan, in turn.
 */
async function manyStreams(clients: number, interval: number, perTick: number, nchan = false) {
  const measure = async (server: { pid: number; port: number; path: string; stop: () => void }) => {
    pin(server.pid, 0);
    const before = rssOf(server.pid);
    let peak = before;
    // Sampled while runLoad holds every stream open.
    const timer = setInterval(() => (peak = Math.max(peak, rssOf(server.pid))), 500);
    const result = await runLoad({
      host: HOST,
      port: server.port,
      path: server.path,
      clients,
      seconds: SECONDS,
      concurrency: 500,
    });
    clearInterval(timer);
    server.stop();
    return { ...result, rssPerStreamKiB: round((peak - before) / clients / 1024) };
  };
  const node = (server: ServerProcess & { path: string }) => ({
    ...server,
    pid: server.child.pid as number,
    stop: () => stop(server),
  });
  const baseResult = await measure(node(await baseline(interval, perTick)));
  const liveResult = await measure(node(await livetable(interval, perTick)));
  const nchanWhy = nchan ? nchanMissing() : 'not asked for';
  const startedNchan = nchanWhy === null ? await startNchan(interval, perTick) : null;
  if (startedNchan !== null) pin(startedNchan.publisherPid, 0);
  const nchanResult = startedNchan === null ? null : await measure(startedNchan);
  return {
    baseline: baseResult,
    livetable: liveResult,
    nchan: nchanResult ?? { missing: nchanWhy },
    memoryRatio: round(liveResult.rssPerStreamKiB / baseResult.rssPerStreamKiB),
    vsNchan:
      nchanResult === null
        ? null
        : {
            memoryPerStream: round(liveResult.rssPerStreamKiB / nchanResult.rssPerStreamKiB),
            p99: round(liveResult.latencyMs.p99 / Math.max(1, nchanResult.latencyMs.p99)),
          },
  };
}

/**
 * Bytes per change event as the table grows: updates only (delta and
 * ?full=1), and the default mix of adds, updates and deletes (an add
 * carries a whole row, so it is the biggest change event).
 */
async function bytesPerEvent(rows: number) {
  const table = ['--seed-rows', String(rows), '--max-records', String(rows * 2)];
  const measure = async (weights: string, full: boolean) => {
    // 50 changes/s give the mix a fair sample in 2 s; whole-table events come 5 a second.
    const live = await livetable(full ? 200 : 20, 1, [...table, '--weights', weights]);
    const path = full ? `${live.path}?full=1` : live.path;
    const result = await runLoad({ host: HOST, port: live.port, path, clients: 1, seconds: 2 });
    stop(live);
    return result.bytesPerEvent;
  };
  return {
    rows,
    delta: await measure('0,1,0', false),
    full: await measure('0,1,0', true),
    mixed: await measure('40,50,10', false),
  };
}

/** From POST /api/start to a complete init, with a big table. */
async function timeToInit(rows: number) {
  const server = await start(
    ['dist/server/main.js'],
    livetableArgs(1000, 1, ['--seed-rows', String(rows), '--max-records', String(rows * 2)]),
  );
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const { session_id } = (await (await fetch(`${server.url}/api/start`, { method: 'POST' })).json()) as {
      session_id: string;
    };
    const response = await fetch(`${server.url}/api/stream/${session_id}`);
    const reader = response.body!.getReader();
    // The body starts `retry: …\n\n`, then the init: it is complete at the
    // second blank line. Only the bytes of each new chunk are searched.
    let blankLines = 0;
    let previous = 0;
    let received = 0;
    while (blankLines < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      received += value.length;
      for (let i = 0; i < value.length; i++) {
        const byte = value[i] as number;
        if (byte === 10 && previous === 10) blankLines++;
        previous = byte;
      }
    }
    times.push(Math.round(performance.now() - t0));
    bytes = received;
    await reader.cancel();
    await fetch(`${server.url}/api/stop/${session_id}`, { method: 'POST' });
  }
  stop(server);
  return { rows, ms: times, initBytes: bytes };
}

const round = (n: number) => Math.round(n * 100) / 100;

type Target = { measured: unknown; met: boolean };

async function main() {
  const results: Record<string, unknown> = {
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    seconds: SECONDS,
  };
  const targets: Record<string, Target> = {};
  const progress = (name: string, value: unknown) => {
    results[name] = value;
    console.error(JSON.stringify({ [name]: value }));
  };
  const clients = QUICK ? 200 : 1000;
  pin(process.pid, 1);
  results.pinned = PIN;

  if (wanted('fanout100')) {
    const fan = await fanout(clients, 10, 1);
    progress('fanout100', { clients, changesPerSecond: 100, ...fan });
    targets['fan-out 100/s: events/s ≥ 0.9× baseline'] = {
      measured: fan.eventsPerSecondRatio,
      met: fan.eventsPerSecondRatio >= 0.9,
    };
    targets['fan-out 100/s: p99 ≤ 2× baseline'] = { measured: fan.p99Ratio, met: fan.p99Ratio <= 2 };
    if (fan.vsNchan !== null) {
      const { eventsPerSecond, cpuPerDelivery, p99 } = fan.vsNchan;
      targets['fan-out 100/s: events/s ≥ 1.0× Nchan'] = { measured: eventsPerSecond, met: eventsPerSecond >= 1 };
      targets['fan-out 100/s: CPU per delivery ≤ Nchan'] = { measured: cpuPerDelivery, met: cpuPerDelivery <= 1 };
      targets['fan-out 100/s: p99 ≤ Nchan'] = { measured: p99, met: p99 <= 1 };
      targets['fan-out 100/s: events/s ≥ 1.1× baseline'] = {
        measured: fan.eventsPerSecondRatio,
        met: fan.eventsPerSecondRatio >= 1.1,
      };
    }
  }
  if (wanted('fanout1000')) {
    const coalesce = await fanout(clients, 10, 10);
    progress('fanout1000', { clients, changesPerSecond: 1000, ...coalesce });
    targets['fan-out 1000/s: events/s > baseline'] = {
      measured: coalesce.eventsPerSecondRatio,
      met: coalesce.eventsPerSecondRatio > 1,
    };
  }
  if (wanted('manyStreams')) {
    const streams = QUICK ? 1000 : 10_000;
    const many = await manyStreams(streams, 1000, 1);
    progress('manyStreams', { clients: streams, changesPerSecond: 1, ...many });
    targets['many streams: p99 < 250 ms'] = {
      measured: many.livetable.latencyMs.p99,
      met: many.livetable.latencyMs.p99 < 250,
    };
    targets['many streams: memory per stream ≤ 1.5× baseline'] = {
      measured: many.memoryRatio,
      met: many.memoryRatio <= 1.5,
    };
  }
  if (wanted('streams5000')) {
    const streams = QUICK ? 500 : 5000;
    const five = await manyStreams(streams, 100, 1, true);
    progress('streams5000', { clients: streams, changesPerSecond: 10, ...five });
    if (five.vsNchan !== null) {
      targets['5,000 streams × 10/s: memory per stream ≤ Nchan'] = {
        measured: five.vsNchan.memoryPerStream,
        met: five.vsNchan.memoryPerStream <= 1,
      };
      targets['5,000 streams × 10/s: p99 ≤ Nchan'] = { measured: five.vsNchan.p99, met: five.vsNchan.p99 <= 1 };
    }
  }
  if (wanted('bytesPerEvent')) {
    const bytes = [];
    for (const rows of QUICK ? [10, 1000] : [10, 1000, 100_000]) bytes.push(await bytesPerEvent(rows));
    progress('bytesPerEvent', bytes);
    targets['bytes per change event ≤ 250 at every size'] = {
      measured: bytes.map((b) => ({ rows: b.rows, updates: b.delta, mixed: b.mixed })),
      met: bytes.every((b) => b.delta <= 250 && b.mixed <= 250),
    };
  }
  if (wanted('timeToInit')) {
    const init = await timeToInit(QUICK ? 10_000 : 100_000);
    progress('timeToInit', init);
    targets['start → init < 1 s'] = { measured: init.ms, met: init.ms.every((ms) => ms < 1000) };
  }
  results.targets = targets;
  console.log(JSON.stringify(results, null, 2));
}

void main().then(() => process.exit(0));
