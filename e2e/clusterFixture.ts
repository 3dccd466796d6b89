import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Page } from '@playwright/test';
import type { DataResponse, MetricsResponse, StreamEvent } from '../shared/protocol.js';
import { freePort } from '../test-support/serverProcess.js';
import { startLoadBalancer, type LoadBalancer } from '../test-support/loadBalancer.js';
import { startRedis, type RedisServer } from '../test-support/redisServer.js';
import { test as base } from './fixtures.js';

/** One Livetable process of the cluster, from the built app, on a port of its own. */
export interface ClusterNode {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Resolves once the process has exited, however it ended. */
  readonly exited: Promise<void>;
  readonly alive: boolean;
  /** The end of what it wrote: its JSON log lines and anything on stderr. */
  readonly output: string;
  /** Every JSON log line it wrote. */
  readonly logs: readonly Record<string, unknown>[];
  metrics(): Promise<MetricsResponse>;
  data(): Promise<DataResponse>;
  /** Sends `signal` to this node's pid and resolves once it has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Nodes on one Redis, behind haproxy with the operators' configuration. */
export interface Cluster {
  /** The proxy's URL: what a browser opens. */
  readonly url: string;
  readonly prefix: string;
  readonly redis: RedisServer;
  readonly proxy: LoadBalancer;
  readonly nodes: readonly ClusterNode[];
  /** `GET /api/data` through the proxy. */
  data(): Promise<DataResponse>;
  /** Stops every process by its own pid: the nodes, then the proxy, then Redis. */
  stop(): Promise<void>;
}

/** Fast timings, as the single-server journeys use. */
export const CLUSTER_NODE_ARGS = ['--update-interval', '150', '--heartbeat-interval', '1000'];

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 6_000;
const OUTPUT_KEPT = 32_768;

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => child.pid === undefined && resolve());
  });
}

async function startNode(name: string, args: string[]): Promise<ClusterNode> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['dist/server/main.js', '--static-dir', 'dist/web', '--host', '127.0.0.1', '--port', String(port), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const logs: Record<string, unknown>[] = [];
  const keep = (text: string) => (output = (output + text).slice(-OUTPUT_KEPT));
  child.stderr!.on('data', (chunk: Buffer) => keep(chunk.toString()));
  child.on('error', (error) => keep(`\n${error.message}\n`));
  const exited = exitOf(child);
  const url = `http://127.0.0.1:${port}`;
  const node: ClusterNode = {
    name,
    url,
    port,
    process: child,
    exited,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    get output() {
      return output;
    },
    logs,
    metrics: () => json<MetricsResponse>(`${url}/api/metrics`),
    data: () => json<DataResponse>(`${url}/api/data`),
    async kill(signal) {
      if (node.alive) process.kill(child.pid!, signal);
      await exited;
    },
  };

  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      if (node.alive) process.kill(child.pid!, 'SIGKILL');
      reject(new Error(`${name} on port ${port} ${why}:\n${output}`));
    };
    const timer = setTimeout(() => fail(`did not log "listening" within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    void exited.then(() => fail('exited before listening'));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      keep(`${line}\n`);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'listening') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return node;
}

/** SIGTERM, as an operator stops a node; SIGKILL if it has not exited after STOP_TIMEOUT_MS. */
async function stopNode(node: ClusterNode): Promise<void> {
  if (!node.alive) return;
  // A node stopped with SIGSTOP would never act on SIGTERM.
  process.kill(node.process.pid!, 'SIGCONT');
  process.kill(node.process.pid!, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
  const outcome = await Promise.race([node.exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') await node.kill('SIGKILL');
}

/**
 * Starts a real redis-server, `count` nodes of the built app on it with a key
 * prefix of their own, and haproxy in front, each on a free loopback port with
 * its files in a temporary directory. On a failure part way, stops whatever it
 * started before throwing.
 */
export async function startCluster(count = 3, args: string[] = CLUSTER_NODE_ARGS): Promise<Cluster> {
  const prefix = `e2e-${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}:`;
  let redis: RedisServer | undefined;
  let proxy: LoadBalancer | undefined;
  const nodes: ClusterNode[] = [];

  const stop = async () => {
    const failures: unknown[] = [];
    const attempt = async (step: () => Promise<void>) => {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    };
    await Promise.all(nodes.map((node) => attempt(() => stopNode(node))));
    if (proxy) await attempt(() => proxy!.stop());
    if (redis) await attempt(() => redis!.stop());
    if (failures.length > 0) throw new AggregateError(failures, 'the cluster did not stop cleanly');
  };

  try {
    redis = await startRedis();
    const storeArgs = ['--store', 'redis', '--redis-url', redis.url, '--redis-prefix', prefix, '--trust-proxy', '1'];
    for (let i = 1; i <= count; i++) nodes.push(await startNode(`node${i}`, [...storeArgs, ...args]));
    proxy = await startLoadBalancer(nodes.map((node) => node.port));
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  const url = proxy.url;
  return {
    url,
    prefix,
    redis,
    proxy,
    nodes,
    data: () => json<DataResponse>(`${url}/api/data`),
    stop,
  };
}

/** What the page's EventSources saw, as `recordStreams` keeps it. */
export interface StreamRecord {
  at: number;
  url: string;
  kind: 'open' | 'message' | 'error';
  data?: string;
}

/** The changes of a state of the connection badge, as `recordStreams` keeps them. */
export interface BadgeRecord {
  at: number;
  state: string;
}

interface Recorded {
  __streams: StreamRecord[];
  __badge: BadgeRecord[];
}

/**
 * Installed in the page before it loads: keeps every open, message and error
 * of every EventSource the page makes, and every state of the connection
 * badge with the time (Date.now()) it took it. Only watches; the page's
 * EventSource works as before.
 */
function recordStreams(): void {
  const recorded = window as unknown as Recorded;
  recorded.__streams = [];
  recorded.__badge = [];
  const Native = window.EventSource;
  class RecordedEventSource extends Native {
    constructor(url: string | URL, init?: EventSourceInit) {
      super(url, init);
      const href = String(url);
      const keep = (kind: StreamRecord['kind'], data?: string) =>
        recorded.__streams.push({ at: Date.now(), url: href, kind, ...(data === undefined ? {} : { data }) });
      this.addEventListener('open', () => keep('open'));
      this.addEventListener('message', (event) => keep('message', (event as MessageEvent<string>).data));
      this.addEventListener('error', () => keep('error'));
    }
  }
  window.EventSource = RecordedEventSource;

  let last: string | null = null;
  const look = () => {
    const state = document.querySelector('[data-testid="connection"]')?.getAttribute('data-state') ?? null;
    if (state !== null && state !== last) {
      last = state;
      recorded.__badge.push({ at: Date.now(), state });
    }
  };
  new MutationObserver(look).observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-state'],
  });
}

/** Every EventSource event of the page so far. */
export function streamRecords(page: Page): Promise<StreamRecord[]> {
  return page.evaluate(() => (window as unknown as Recorded).__streams);
}

/** Every state the connection badge has shown so far, in order. */
export function badgeRecords(page: Page): Promise<BadgeRecord[]> {
  return page.evaluate(() => (window as unknown as Recorded).__badge);
}

/** The parsed events of the records whose stream URL passes `which`, in the order they came. */
export function eventsOf(records: readonly StreamRecord[], which: (url: string) => boolean): StreamEvent[] {
  return records
    .filter((r) => r.kind === 'message' && r.data !== undefined && which(r.url))
    .map((r) => JSON.parse(r.data!) as StreamEvent);
}

/**
 * The single-server journeys' fixtures, with the page opened through haproxy
 * in front of a cluster (`cluster`) instead of one server, and its streams
 * and connection badge recorded (`streamRecords`, `badgeRecords`).
 */
export const test = base.extend<{ clusterSize: number; cluster: Cluster }>({
  clusterSize: [3, { option: true }],
  cluster: async ({ clusterSize, serverArgs }, use, testInfo) => {
    const cluster = await startCluster(clusterSize, serverArgs);
    try {
      await use(cluster);
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) {
        for (const node of cluster.nodes) {
          await testInfo.attach(`${node.name}.log`, { body: node.output, contentType: 'text/plain' });
        }
        await testInfo.attach('haproxy.log', { body: cluster.proxy.output, contentType: 'text/plain' });
      }
      await cluster.stop();
    }
  },
  baseURL: async ({ cluster }, use) => use(cluster.url),
  page: async ({ page }, use) => {
    await page.addInitScript(recordStreams);
    await use(page);
  },
});

export { expect } from './fixtures.js';
