import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the metrics read from the running node at each scrape. */
export interface MetricsSource {
  /** SSE streams open on this node, watch streams included. */
  openStreams(): number;
  /** Sessions running on this node. */
  sessionsHere(): number;
  /** Sessions running in the whole cluster; read it from a value the node keeps, not from a round trip. */
  sessionsAll(): number;
  /** The table version this node has applied. */
  version(): number;
  /** Changes in the shared log this node has not applied yet; 0 for an embedded store. */
  behind(): number;
  /** Whether the store answers; always true for an embedded store. */
  storeConnected(): boolean;
  /** The store's kind, as `--store` names it. */
  readonly store: string;
}

export interface Metrics {
  /** This node's registry: its own metrics and the process's. */
  registry: Registry;
  /** Changes this node committed to the table: `inc(n)` once per commit. */
  changesCommitted: Counter;
  /** Changes written to streams: events × the streams each one went to. */
  changesDelivered: Counter;
  /** Bytes written to SSE streams. */
  bytesSent: Counter;
  /** Streams closed because their reader fell `--max-buffer` behind. */
  slowClientsCut: Counter;
  /** Seconds one commit took; `startTimer()` returns the function that observes it. */
  commitDuration: Histogram;
  /**
   * Seconds from a change's commit timestamp to its write to this node's
   * sockets. The commit may be another node's, so the nodes' clocks must
   * agree (NTP); skew shows up here, negative values included.
   */
  deliveryLag: Histogram;
  /** Answers `GET /metrics` in the Prometheus text format (`HEAD` too: Node drops the body). */
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/** 0.1 ms to 1 s; slower lands in +Inf alone, which is all an alert on it needs. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** The version in package.json, found from here in the sources and in dist alike. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Every handle (socket, timer) walked at each scrape: on this server nearly
 * all of them are stream sockets, which `streams_open` counts for free, and
 * the four walks took 5 ms of blocked event loop per scrape at 10,000 streams.
 */
const HANDLE_WALKS = [
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

let processRegistry: Registry | undefined;

/**
 * Node's default process metrics (CPU, memory, heap, GC, event loop lag,
 * file descriptors) but the handle walks, collected once per process: they
 * describe the process, and each collection starts an event-loop-delay timer
 * and a GC observer that are never stopped. A scrape of them blocks the event
 * loop for about 2 ms at 1,000 open streams and 10 ms at 10,000, nearly all
 * of it `process_open_fds` reading /proc/self/fd, kept for the alert on
 * running out of descriptors.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    for (const name of HANDLE_WALKS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/**
 * A node's Prometheus metrics, in a registry of its own: the gauges read
 * `source` at each scrape, the counters and histograms are fed by the code
 * that commits and delivers changes.
 */
export function createMetrics(source: MetricsSource, options: { prefix?: string } = {}): Metrics {
  const prefix = options.prefix ?? 'livetable_';
  const own = new Registry();
  const registers = [own];

  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name: prefix + name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge('streams_open', 'SSE streams open on this node, watch streams included.', () => source.openStreams());
  gauge('sessions_running', 'Sessions running on this node.', () => source.sessionsHere());
  // Not a label of sessions_running: summed over a label, node and cluster
  // would count every session twice.
  gauge('cluster_sessions_running', 'Sessions running in the whole cluster, as this node sees them.', () =>
    source.sessionsAll(),
  );
  gauge('table_version', 'The table version this node has applied.', () => source.version());
  gauge('changes_behind', 'Changes in the shared log this node has not applied yet.', () => source.behind());
  // Always present, 1 for an embedded store (it cannot be unreachable), so one
  // alert on `== 0` covers every store and a missing series means a missing node.
  gauge('store_connected', 'Whether the store answers: 1 yes, 0 no; always 1 for an embedded store.', () =>
    source.storeConnected() ? 1 : 0,
  );
  new Gauge({
    name: `${prefix}info`,
    help: 'Always 1; the labels name the Livetable version and the store.',
    labelNames: ['version', 'store'],
    registers,
  }).set({ version: packageVersion(), store: source.store }, 1);

  const counter = (name: string, help: string) => new Counter({ name: prefix + name, help, registers });
  const histogram = (name: string, help: string) =>
    new Histogram({ name: prefix + name, help, buckets: LATENCY_BUCKETS, registers });

  const metrics = {
    changesCommitted: counter('changes_committed_total', 'Changes this node committed to the table.'),
    changesDelivered: counter('changes_delivered_total', 'Changes written to streams, once per stream.'),
    bytesSent: counter('stream_sent_bytes_total', 'Bytes written to SSE streams.'),
    slowClientsCut: counter('slow_disconnects_total', 'Streams closed because their reader fell too far behind.'),
    commitDuration: histogram('commit_duration_seconds', 'Seconds one commit to the table took.'),
    deliveryLag: histogram(
      'delivery_lag_seconds',
      "Seconds from a change's commit to its write to this node's sockets.",
    ),
  };

  // Merged last: a merged registry holds the metrics registered before it.
  const registry = Registry.merge([own, processMetrics()]);
  return {
    ...metrics,
    registry,
    async handler(req, res) {
      const text = await registry.metrics();
      res.writeHead(200, {
        'Content-Type': registry.contentType,
        'Content-Length': Buffer.byteLength(text),
        'Cache-Control': 'no-store',
      });
      res.end(text);
    },
  };
}
