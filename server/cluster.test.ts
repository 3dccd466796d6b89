import { EventSource } from 'eventsource';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DataResponse, StartResponse, StopResponse, StreamEvent } from '../shared/protocol.js';
import { freePort, startChildServer, type ServerProcess } from '../test-support/serverProcess.js';
import { startLoadBalancer, type LoadBalancer } from '../test-support/loadBalancer.js';
import { startRedis, type RedisServer } from '../test-support/redisServer.js';
import { replay, seqsOf } from '../test-support/replay.js';

const HEARTBEAT_MS = 500;

interface Watcher {
  url: string;
  source: EventSource;
  events: StreamEvent[];
  opens: number;
}

function watch(url: string): Watcher {
  const watcher: Watcher = { url, source: new EventSource(url), events: [], opens: 0 };
  watcher.source.onopen = () => watcher.opens++;
  watcher.source.onmessage = (message) => watcher.events.push(JSON.parse(message.data) as StreamEvent);
  return watcher;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const lastSeq = (w: Watcher) => Math.max(0, ...seqsOf(w.events));
const data = async (url: string) => (await (await fetch(`${url}/api/data`)).json()) as DataResponse;

/**
 * What a client must see: after its init, consecutive seqs with no gap and
 * no duplicate, across every reconnect (a fresh init may restart the count
 * only at a seq it has not passed).
 */
function expectConsecutive(events: readonly StreamEvent[]): void {
  let last: number | undefined;
  for (const event of events) {
    if (event.type === 'init') {
      if (last !== undefined) expect(event.version).toBeGreaterThanOrEqual(last);
      last = event.version;
    } else if ('seq' in event) {
      expect(event.seq, `after ${last}`).toBe((last as number) + 1);
      last = event.seq;
    }
  }
}

let redis: RedisServer;
let prefixes = 0;
const nodes: ServerProcess[] = [];
let proxy: LoadBalancer | undefined;
const watchers: Watcher[] = [];

beforeAll(async () => {
  redis = await startRedis({ persist: true });
});
afterEach(async () => {
  for (const w of watchers.splice(0)) w.source.close();
  await proxy?.stop();
  proxy = undefined;
  for (const node of nodes.splice(0)) {
    if (node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGTERM');
      await node.exited;
    }
  }
});
afterAll(async () => {
  await redis?.stop();
});

/** Three nodes on one table in Redis, each on a port of its own. */
async function cluster(count = 3): Promise<ServerProcess[]> {
  const prefix = `c${++prefixes}-${process.pid}:`;
  const started: ServerProcess[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const node = await startChildServer([
      ...['--store', 'redis', '--redis-url', redis.url, '--redis-prefix', prefix],
      ...['--port', String(port), '--host', '127.0.0.1', '--static-dir', 'no-such-dir'],
      ...['--update-interval', '20', '--heartbeat-interval', String(HEARTBEAT_MS), '--seed-rows', '20'],
      ...['--weights', '40,40,10,10', '--trust-proxy', '1', '--start-burst', '100'],
    ]);
    nodes.push(node);
    started.push(node);
  }
  return started;
}

describe('three nodes on one Redis, behind haproxy', () => {
  it('start on one node, stream on the others and through the proxy, stop on a third: one table, in order, everywhere', async () => {
    const [a, b, c] = await cluster();
    proxy = await startLoadBalancer(nodes.map((node) => Number(new URL(node.url).port)));
    const started = (await (await fetch(`${a!.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
    const id = started.session_id;
    for (const url of [b!.url, c!.url, proxy.url, proxy.url]) watchers.push(watch(`${url}/api/stream/${id}`));
    watchers.push(watch(`${a!.url}/api/stream`));
    await until(() => watchers.every((w) => lastSeq(w) >= 40), '40 changes on every stream');

    const stop = await fetch(`${c!.url}/api/stop/${id}`, { method: 'POST' });
    expect(((await stop.json()) as StopResponse).outcome).toBe('stopped');
    const sessionStreams = watchers.slice(0, 4);
    await until(() => sessionStreams.every((w) => w.events.at(-1)?.type === 'end'), 'end on every session stream');
    // A stop on another node is "already ended"; an unknown id is 404 on every node.
    const again = await fetch(`${b!.url}/api/stop/${id}`, { method: 'POST' });
    expect(((await again.json()) as StopResponse).outcome).toBe('already_ended');
    expect((await fetch(`${a!.url}/api/stream/AAAAAAAAAAAAAAAA`)).status).toBe(404);

    const tables = await Promise.all([a, b, c].map((node) => data(node!.url)));
    for (const table of tables) expect(table).toMatchObject({ version: tables[0]!.version, data: tables[0]!.data });
    for (const w of sessionStreams) {
      expectConsecutive(w.events);
      // The end comes after the session's last change, and the stream holds the whole table at it.
      expect(replay(w.events)).toEqual({ rows: tables[0]!.data, version: tables[0]!.version });
    }
    // Every change once, in order, on every node: the watch stream too.
    await until(() => lastSeq(watchers[4]!) === tables[0]!.version, 'the watch stream at the final version');
    expectConsecutive(watchers[4]!.events);
    expect(replay(watchers[4]!.events)).toEqual({ rows: tables[0]!.data, version: tables[0]!.version });
  });

  it('--max-sessions counts every node: a start past it is refused on any node', async () => {
    const [a, b] = await cluster(2);
    nodes.push(
      await startChildServer([
        ...['--store', 'redis', '--redis-url', redis.url, '--redis-prefix', `limit-${process.pid}:`],
        ...['--port', '0', '--host', '127.0.0.1', '--static-dir', 'no-such-dir', '--max-sessions', '2'],
      ]),
    );
    const limited = nodes.at(-1)!;
    const peer = await startChildServer([
      ...['--store', 'redis', '--redis-url', redis.url, '--redis-prefix', `limit-${process.pid}:`],
      ...['--port', '0', '--host', '127.0.0.1', '--static-dir', 'no-such-dir', '--max-sessions', '2'],
    ]);
    nodes.push(peer);
    expect((await fetch(`${limited.url}/api/start`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${peer.url}/api/start`, { method: 'POST' })).status).toBe(200);
    const refused = await fetch(`${limited.url}/api/start`, { method: 'POST' });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ code: 'too_many_sessions' });
    expect(a && b).toBeTruthy();
  });

  it('a node killed with SIGKILL: its clients resume through the proxy with no gap, and its session is taken over', async () => {
    const [a, b, c] = await cluster();
    proxy = await startLoadBalancer(nodes.map((node) => Number(new URL(node.url).port)));
    const { session_id: id } = (await (await fetch(`${a!.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
    // The generator runs where the session's first viewer is: node a.
    watchers.push(watch(`${a!.url}/api/stream/${id}`));
    await until(() => lastSeq(watchers[0]!) > 0, 'the generator running on node a');
    for (let i = 0; i < 4; i++) watchers.push(watch(`${proxy.url}/api/stream/${id}`));
    watchers.push(watch(`${b!.url}/api/stream/${id}`), watch(`${c!.url}/api/stream/${id}`));
    const survivors = watchers.slice(1);
    await until(() => survivors.every((w) => lastSeq(w) >= 30), '30 changes everywhere');

    watchers[0]!.source.close();
    const before = Math.max(...survivors.map(lastSeq));
    const killedAt = Date.now();
    a!.child.kill('SIGKILL');
    await a!.exited;
    // Another node takes the session over within three heartbeats; the streams go on.
    await until(() => survivors.every((w) => lastSeq(w) >= before + 30), 'changes after the kill', 20_000);
    const resumedWithin = Date.now() - killedAt;
    expect(resumedWithin).toBeLessThan(20_000);

    await fetch(`${b!.url}/api/stop/${id}`, { method: 'POST' });
    await until(() => survivors.every((w) => w.events.at(-1)?.type === 'end'), 'end on every stream');
    const final = await data(c!.url);
    for (const w of survivors) {
      expectConsecutive(w.events);
      expect(replay(w.events)).toEqual({ rows: final.data, version: final.version });
    }
  });

  it('Redis killed with SIGKILL and restarted from its AOF: nodes stay up, refuse starts with 503, and lose nothing a client saw', async () => {
    const [a, b, c] = await cluster(3);
    const { session_id: id } = (await (await fetch(`${a!.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
    watchers.push(watch(`${a!.url}/api/stream/${id}`), watch(`${b!.url}/api/stream/${id}`));
    await until(() => watchers.every((w) => lastSeq(w) >= 20), '20 changes');

    await redis.kill();
    const seen = Math.max(...watchers.map(lastSeq));
    const refused = await fetch(`${b!.url}/api/start`, { method: 'POST' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ status: 'error', code: 'store_unavailable' });
    // Reads go on from what the node has; a new stream is still a stream, not a 5xx.
    expect((await data(a!.url)).version).toBeGreaterThanOrEqual(seen - 1);
    const during = watch(`${b!.url}/api/stream`);
    // Node c never saw the session: it takes it on trust rather than answer 5xx.
    const unknownHere = watch(`${c!.url}/api/stream/${id}`);
    watchers.push(during, unknownHere);
    await until(() => during.events.some((e) => e.type === 'init'), 'init on a stream opened during the outage');
    await until(() => unknownHere.events.some((e) => e.type === 'init'), 'init on a session unknown to its node');
    expect(unknownHere.source.readyState).toBe(EventSource.OPEN);
    const opensBefore = watchers.map((w) => w.opens);

    await redis.restart();
    await until(() => watchers.every((w) => lastSeq(w) >= seen + 20), 'changes after Redis is back', 20_000);
    const final = await data(a!.url);
    expect(final.version).toBeGreaterThanOrEqual(seen);
    await fetch(`${b!.url}/api/stop/${id}`, { method: 'POST' });
    const sessionStreams = [watchers[0]!, watchers[1]!, unknownHere];
    await until(() => sessionStreams.every((w) => w.events.at(-1)?.type === 'end'), 'end on the session streams');
    const last = await data(b!.url);
    for (const w of sessionStreams) {
      expectConsecutive(w.events);
      expect(replay(w.events)).toEqual({ rows: last.data, version: last.version });
    }
    // The streams stayed open through the outage.
    expect(watchers.map((w) => w.opens)).toEqual(opensBefore);
  });

  it('Redis that loses its data: the table comes back from a node, and sessions that were lost with it end on every stream', async () => {
    const [a, b] = await cluster(2);
    const { session_id: id } = (await (await fetch(`${a!.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
    watchers.push(watch(`${a!.url}/api/stream/${id}`), watch(`${b!.url}/api/stream/${id}`));
    await until(() => watchers.every((w) => lastSeq(w) >= 10), '10 changes');

    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    await admin.flushall();
    await admin.quit();

    // Each client learns the session is gone: `end` on its stream, or 404 when
    // it reconnected after its node cut it for the new table (it stops for good).
    const over = (w: Watcher) => w.events.at(-1)?.type === 'end' || w.source.readyState === EventSource.CLOSED;
    await until(() => watchers.every(over), 'every client told the session is over', 15_000);
    const after = await data(b!.url);
    expect(after.data.length).toBeGreaterThan(0);
    expect((await data(a!.url)).data).toEqual(after.data);
    expect(
      ((await (await fetch(`${a!.url}/api/stop/${id}`, { method: 'POST' })).json()) as { code?: string }).code,
    ).toBe('session_not_found');
  });
});
