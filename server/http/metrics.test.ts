import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics, type Metrics, type MetricsSource } from './metrics.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  help: string;
  type: string;
  samples: Sample[];
}

/** Reads the Prometheus text format into metric families by name. */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      current = families.get(name) ?? { help: '', type: '', samples: [] };
      families.set(name, current);
      if (kind === 'HELP') current.help = rest;
      else current.type = rest;
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    current?.samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return families;
}

/** Asks a real server answering with `metrics.handler` for /metrics; a rejection answers 500. */
async function scrape(metrics: Metrics, method = 'GET') {
  const server = createServer((req, res) => {
    metrics.handler(req, res).catch(() => {
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { method });
    const text = await response.text();
    return { response, text, families: parse(text) };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function fakeSource(values: Partial<Omit<MetricsSource, 'store'>> = {}, store = 'memory'): MetricsSource {
  return {
    openStreams: () => 3,
    sessionsHere: () => 2,
    sessionsAll: () => 7,
    version: () => 42,
    behind: () => 0,
    storeConnected: () => true,
    ...values,
    store,
  };
}

/** The one value of an unlabelled metric. */
function valueOf(families: Map<string, Family>, name: string): number | undefined {
  return families.get(name)?.samples.find((s) => s.name === name)?.value;
}

const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('createMetrics', () => {
  it('answers in the Prometheus text format with every metric named, typed and explained', async () => {
    const { response, families } = await scrape(createMetrics(fakeSource()));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const types = Object.fromEntries(
      [...families].filter(([name]) => name.startsWith('livetable_')).map(([name, f]) => [name, f.type]),
    );
    expect(types).toEqual({
      livetable_streams_open: 'gauge',
      livetable_sessions_running: 'gauge',
      livetable_cluster_sessions_running: 'gauge',
      livetable_table_version: 'gauge',
      livetable_changes_behind: 'gauge',
      livetable_store_connected: 'gauge',
      livetable_info: 'gauge',
      livetable_changes_committed_total: 'counter',
      livetable_changes_delivered_total: 'counter',
      livetable_stream_sent_bytes_total: 'counter',
      livetable_slow_disconnects_total: 'counter',
      livetable_commit_duration_seconds: 'histogram',
      livetable_delivery_lag_seconds: 'histogram',
    });
    for (const [name, family] of families) expect(family.help, name).not.toBe('');
  });

  it('reads the gauges from the source at each scrape', async () => {
    let streams = 3;
    let connected = true;
    const metrics = createMetrics(
      fakeSource({ openStreams: () => streams, storeConnected: () => connected, behind: () => 12 }),
    );
    let { families } = await scrape(metrics);
    expect(valueOf(families, 'livetable_streams_open')).toBe(3);
    expect(valueOf(families, 'livetable_sessions_running')).toBe(2);
    expect(valueOf(families, 'livetable_cluster_sessions_running')).toBe(7);
    expect(valueOf(families, 'livetable_table_version')).toBe(42);
    expect(valueOf(families, 'livetable_changes_behind')).toBe(12);
    expect(valueOf(families, 'livetable_store_connected')).toBe(1);

    streams = 250;
    connected = false;
    ({ families } = await scrape(metrics));
    expect(valueOf(families, 'livetable_streams_open')).toBe(250);
    expect(valueOf(families, 'livetable_store_connected')).toBe(0);
  });

  it('names the package version and the store in livetable_info', async () => {
    const { families } = await scrape(createMetrics(fakeSource({}, 'redis')));
    expect(families.get('livetable_info')?.samples).toEqual([
      { name: 'livetable_info', labels: { version: packageVersion, store: 'redis' }, value: 1 },
    ]);
  });

  it('counts from zero what the committing and delivering code adds', async () => {
    const metrics = createMetrics(fakeSource());
    let { families } = await scrape(metrics);
    expect(valueOf(families, 'livetable_changes_committed_total')).toBe(0);

    metrics.changesCommitted.inc(3);
    metrics.changesCommitted.inc(2);
    metrics.changesDelivered.inc(5 * 40);
    metrics.bytesSent.inc(123_456);
    metrics.slowClientsCut.inc();
    ({ families } = await scrape(metrics));
    expect(valueOf(families, 'livetable_changes_committed_total')).toBe(5);
    expect(valueOf(families, 'livetable_changes_delivered_total')).toBe(200);
    expect(valueOf(families, 'livetable_stream_sent_bytes_total')).toBe(123_456);
    expect(valueOf(families, 'livetable_slow_disconnects_total')).toBe(1);
  });

  it('puts latencies from 0.1 ms to 1 s into buckets, and what is slower into +Inf only', async () => {
    const metrics = createMetrics(fakeSource());
    metrics.commitDuration.observe(0.0002);
    metrics.commitDuration.observe(0.003);
    metrics.commitDuration.observe(2);
    metrics.deliveryLag.observe(0.04);
    const { families } = await scrape(metrics);

    const commit = families.get('livetable_commit_duration_seconds')!.samples;
    const buckets = Object.fromEntries(
      commit.filter((s) => s.name.endsWith('_bucket')).map((s) => [s.labels.le, s.value]),
    );
    expect(buckets).toEqual({
      '0.0001': 0,
      '0.00025': 1,
      '0.0005': 1,
      '0.001': 1,
      '0.0025': 1,
      '0.005': 2,
      '0.01': 2,
      '0.025': 2,
      '0.05': 2,
      '0.1': 2,
      '0.25': 2,
      '0.5': 2,
      '1': 2,
      '+Inf': 3,
    });
    expect(commit.find((s) => s.name.endsWith('_count'))?.value).toBe(3);
    expect(commit.find((s) => s.name.endsWith('_sum'))?.value).toBeCloseTo(2.0032, 6);

    const lag = families.get('livetable_delivery_lag_seconds')!.samples;
    expect(lag.find((s) => s.labels.le === '0.025')?.value).toBe(0);
    expect(lag.find((s) => s.labels.le === '0.05')?.value).toBe(1);
  });

  it("times a commit with the histogram's timer", async () => {
    const metrics = createMetrics(fakeSource());
    const done = metrics.commitDuration.startTimer();
    const seconds = done();
    const { families } = await scrape(metrics);
    const samples = families.get('livetable_commit_duration_seconds')!.samples;
    expect(samples.find((s) => s.name.endsWith('_count'))?.value).toBe(1);
    expect(samples.find((s) => s.name.endsWith('_sum'))?.value).toBeCloseTo(seconds, 9);
  });

  it("adds Node's process metrics, but not the walks over every handle", async () => {
    const { families } = await scrape(createMetrics(fakeSource()));
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    expect(families.get('nodejs_eventloop_lag_p99_seconds')?.type).toBe('gauge');
    expect(families.get('nodejs_gc_duration_seconds')?.type).toBe('histogram');
    if (process.platform === 'linux') expect(valueOf(families, 'process_open_fds')).toBeGreaterThan(0);
    expect(families.has('nodejs_active_handles')).toBe(false);
    expect(families.has('nodejs_active_handles_total')).toBe(false);
    expect(families.has('nodejs_active_resources')).toBe(false);
  });

  it('keeps each node its own registry, apart from the global one', async () => {
    const a = createMetrics(fakeSource({ openStreams: () => 1 }));
    const b = createMetrics(fakeSource({ openStreams: () => 2 }));
    a.changesCommitted.inc(4);
    const [fromA, fromB] = await Promise.all([scrape(a), scrape(b)]);
    expect(valueOf(fromA.families, 'livetable_changes_committed_total')).toBe(4);
    expect(valueOf(fromB.families, 'livetable_changes_committed_total')).toBe(0);
    expect(valueOf(fromA.families, 'livetable_streams_open')).toBe(1);
    expect(valueOf(fromB.families, 'livetable_streams_open')).toBe(2);
    expect(fromB.families.has('process_cpu_user_seconds_total')).toBe(true);
    expect(await globalRegistry.metrics()).not.toContain('livetable_');
  });

  it('names its own metrics with the prefix given, and the process metrics as Node does', async () => {
    const { families } = await scrape(createMetrics(fakeSource(), { prefix: 'other_' }));
    expect(valueOf(families, 'other_streams_open')).toBe(3);
    expect(families.has('livetable_streams_open')).toBe(false);
    expect(families.has('process_cpu_user_seconds_total')).toBe(true);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const { response, text } = await scrape(createMetrics(fakeSource()), 'HEAD');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(Number(response.headers.get('content-length'))).toBeGreaterThan(0);
    expect(text).toBe('');
  });

  it('rejects, for the error handler to answer, when the source fails', async () => {
    const metrics = createMetrics(
      fakeSource({
        sessionsAll: () => {
          throw new Error('store gone');
        },
      }),
    );
    const { response } = await scrape(metrics);
    expect(response.status).toBe(500);
  });
});
