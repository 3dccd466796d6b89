import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from './config.js';
import type { DataResponse, MetricsResponse, StartResponse, StreamEvent } from '../shared/protocol.js';
import type { RunningServer } from './server.js';
import { originOf } from './sessions/origin.js';
import { openStream, type StreamClient } from '../test-support/sseClient.js';
import { replay, seqsOf } from '../test-support/replay.js';
import { startTestServer } from '../test-support/testServer.js';

const FAST: Partial<Config> = { updateInterval: 20, heartbeatInterval: 200 };

let running: RunningServer | undefined;
const clients: (StreamClient | EventSource)[] = [];

async function serve(overrides: Partial<Config> = {}): Promise<RunningServer> {
  running = await startTestServer({ ...FAST, ...overrides });
  return running;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await running?.close();
  running = undefined;
});

async function json<T>(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: T }> {
  const response = await fetch(`${running!.url}${path}`, init);
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

async function startSession(): Promise<string> {
  const { status, body } = await json<StartResponse>('/api/start', { method: 'POST' });
  expect(status).toBe(200);
  return body.session_id;
}

async function stream(path: string, headers: Record<string, string> = {}): Promise<StreamClient> {
  const client = await openStream(`${running!.url}${path}`, headers);
  clients.push(client);
  return client;
}

const events = (client: StreamClient): StreamEvent[] => client.received.map((r) => r.event);
const isChange = (e: StreamEvent) => 'seq' in e;
const atLeastSeq = (n: number) => (e: StreamEvent) => 'seq' in e && e.seq >= n;

/** Waits until metrics show no session and no connection left. */
async function expectIdle(): Promise<MetricsResponse> {
  let metrics: MetricsResponse;
  const deadline = Date.now() + 5000;
  do {
    metrics = (await json<MetricsResponse>('/api/metrics')).body;
    if (metrics.active_sessions === 0 && metrics.total_connections === 0 && metrics.pending_messages === 0)
      return metrics;
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() < deadline);
  expect(metrics).toMatchObject({ active_sessions: 0, total_connections: 0, pending_messages: 0 });
  return metrics;
}

describe('GET /api/data', () => {
  it('returns the seeded table with its version', async () => {
    await serve({ seedRows: 10 });
    const { status, body, headers } = await json<DataResponse>('/api/data');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(body.status).toBe('success');
    expect(body.version).toBe(0);
    expect(body.data).toHaveLength(10);
    expect(body.data.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
  });
});

describe('sessions', () => {
  it('start with a fresh 16-character id each', async () => {
    await serve();
    const { body } = await json<StartResponse>('/api/start', { method: 'POST' });
    expect(body).toMatchObject({ status: 'success', message: '数据生成已开始' });
    expect(body.session_id).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(await startSession()).not.toBe(body.session_id);
  });

  it('stream SSE with the right headers, a retry line, init and then changes with ids', async () => {
    await serve();
    const id = await startSession();
    const client = await stream(`/api/stream/${id}`);
    expect(client.status).toBe(200);
    expect(client.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(client.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(client.headers.get('x-accel-buffering')).toBe('no');
    await client.waitFor(atLeastSeq(3));
    expect(client.text()).toMatch(/^retry: \d+\n\n/);
    const [first, ...rest] = client.received;
    expect(first?.event).toMatchObject({ type: 'init', session_id: id, origin: originOf(id), version: 0 });
    expect(first?.id).toBe('0');
    for (const { id: eventId, event } of rest.filter((r) => isChange(r.event))) {
      expect(eventId).toBe(String((event as { seq: number }).seq));
      expect(event).toMatchObject({ origin: originOf(id), timestamp: expect.any(String), message: expect.any(String) });
      expect(event).not.toHaveProperty('session_id');
      expect(event).not.toHaveProperty('table_data');
    }
    expect(seqsOf(events(client))).toEqual([1, 2, 3, ...seqsOf(events(client)).slice(3)]);
  });

  it('carry heartbeats as data events', async () => {
    await serve({ heartbeatInterval: 50, updateInterval: 10_000 });
    const client = await stream(`/api/stream/${await startSession()}`);
    const beat = await client.waitFor((e) => e.type === 'heartbeat');
    expect(Object.keys(beat)).toEqual(['type', 'timestamp']);
    expect(client.text()).toMatch(/\ndata: \{"type":"heartbeat","timestamp":"[^"]+"\}\n\n/);
  });

  it('converge: init plus every change equals GET /api/data', async () => {
    await serve({ weights: { add: 40, update: 40, delete: 10, batch_update: 10 } });
    const id = await startSession();
    const client = await stream(`/api/stream/${id}`);
    await client.waitFor(atLeastSeq(30));
    await json(`/api/stop/${id}`, { method: 'POST' });
    await client.waitFor((e) => e.type === 'end');
    const { body } = await json<DataResponse>('/api/data');
    const table = replay(events(client));
    expect(table.version).toBe(body.version);
    expect(table.rows).toEqual(body.data);
    expect(events(client).some((e) => e.type === 'batch_update')).toBe(true);
  });

  it('with ?full=1 put the whole table into each change, as the original demo did', async () => {
    await serve();
    const client = await stream(`/api/stream/${await startSession()}?full=1`);
    await client.waitFor(atLeastSeq(5));
    const received = events(client);
    for (let i = 1; i < received.length; i++) {
      const event = received[i]!;
      if (!isChange(event)) continue;
      expect((event as { table_data: unknown }).table_data).toEqual(replay(received.slice(0, i + 1)).rows);
    }
  });

  it('run two at once, and every stream carries the changes of both', async () => {
    await serve();
    const [a, b] = await Promise.all([startSession(), startSession()]);
    const streamA = await stream(`/api/stream/${a}`);
    const streamB = await stream(`/api/stream/${b}`);
    await Promise.all([streamA.waitFor(atLeastSeq(20)), streamB.waitFor(atLeastSeq(20))]);
    await json(`/api/stop/${a}`, { method: 'POST' });
    await json(`/api/stop/${b}`, { method: 'POST' });
    await Promise.all([streamA.closed, streamB.closed]);
    const origins = new Set(events(streamA).flatMap((e) => ('seq' in e ? [e.origin] : [])));
    expect(origins).toEqual(new Set([originOf(a), originOf(b)]));
    for (const client of [streamA, streamB]) {
      const seqs = seqsOf(events(client));
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    }
    // B was stopped last: its stream holds the table as it is now. A's ended
    // earlier (B may commit in between): it holds the table as B's stream had
    // it at A's last change.
    const { body } = await json<DataResponse>('/api/data');
    expect(replay(events(streamB))).toEqual({ rows: body.data, version: body.version });
    const lastOfA = seqsOf(events(streamA)).at(-1)!;
    const bUntilA = events(streamB).filter((event) => !('seq' in event) || event.seq <= lastOfA);
    expect(replay(events(streamA))).toEqual(replay(bUntilA));
  });

  it('stop: every open stream gets end and closes; stopping again is not an error; nothing is left', async () => {
    await serve();
    const id = await startSession();
    const first = await stream(`/api/stream/${id}`);
    const second = await stream(`/api/stream/${id}`);
    await Promise.all([first.waitFor(atLeastSeq(2)), second.waitFor(atLeastSeq(2))]);
    const stopped = await json<{ status: string; message: string }>(`/api/stop/${id}`, { method: 'POST' });
    expect(stopped).toMatchObject({
      status: 200,
      body: { status: 'success', outcome: 'stopped', message: '数据生成已停止', timestamp: expect.any(String) },
    });
    // The stop's time is no later than its end's, which the streams get after it.
    const stoppedAt = (stopped.body as unknown as { timestamp: string }).timestamp;
    for (const client of [first, second]) {
      await client.closed;
      expect(events(client).at(-1)).toEqual({
        type: 'end',
        session_id: id,
        reason: 'stopped',
        message: '数据生成已结束',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      expect(Date.parse((events(client).at(-1) as { timestamp: string }).timestamp)).toBeGreaterThanOrEqual(
        Date.parse(stoppedAt),
      );
    }
    const again = await json<{ status: string }>(`/api/stop/${id}`, { method: 'POST' });
    expect(again).toMatchObject({
      status: 200,
      body: { status: 'success', outcome: 'already_ended', message: '会话早已结束' },
    });
    const late = await json<{ code: string }>(`/api/stream/${id}`);
    expect(late).toMatchObject({ status: 404, body: { code: 'session_not_found' } });
    await expectIdle();
  });

  it('time out at --session-timeout, counted from the start', async () => {
    await serve({ sessionTimeout: 1500 });
    const { body } = await json<StartResponse>('/api/start', { method: 'POST' });
    await new Promise((r) => setTimeout(r, 1000));
    const client = await stream(`/api/stream/${body.session_id}`);
    await client.closed;
    // Counted from the connect it would end 1.5 s from now, not about 0.5 s.
    expect(Date.now()).toBeGreaterThanOrEqual(body.expires_at - 20);
    expect(Date.now()).toBeLessThan(body.expires_at + 700);
    expect(events(client).at(-1)).toMatchObject({ type: 'end', reason: 'timeout' });
    await expectIdle();
  });

  it('leave nothing behind after many streams come and go', async () => {
    await serve();
    const ids = await Promise.all(Array.from({ length: 4 }, () => startSession()));
    for (let round = 0; round < 5; round++) {
      const open = await Promise.all(ids.map((id) => stream(`/api/stream/${id}`)));
      await Promise.all(open.map((c) => c.waitFor((e) => e.type === 'init')));
      for (const c of open) c.close();
    }
    const metrics = (await json<MetricsResponse>('/api/metrics')).body;
    expect(metrics.active_sessions).toBe(4);
    await Promise.all(ids.map((id) => json(`/api/stop/${id}`, { method: 'POST' })));
    await expectIdle();
  });
});

describe('the watch stream (GET /api/stream)', () => {
  it('follows the table with no session: init, the changes of every session, heartbeats, no end', async () => {
    await serve();
    const watch = await stream('/api/stream');
    expect(watch.status).toBe(200);
    await watch.waitFor((e) => e.type === 'init');
    expect(events(watch)[0]).toMatchObject({ type: 'init', session_id: null, origin: null, version: 0 });
    const [a, b] = await Promise.all([startSession(), startSession()]);
    // A session generates while its own streams are open; a watch keeps none running.
    const streamA = await stream(`/api/stream/${a}`);
    const streamB = await stream(`/api/stream/${b}`);
    await watch.waitFor(atLeastSeq(20));
    await json(`/api/stop/${a}`, { method: 'POST' });
    await json(`/api/stop/${b}`, { method: 'POST' });
    await Promise.all([streamA.closed, streamB.closed]);
    // A heartbeat after both ends: had the watch been sent an end, it came before.
    const ended = new Date().toISOString();
    await watch.waitFor((e) => e.type === 'heartbeat' && e.timestamp > ended, 2000);
    const origins = new Set(events(watch).flatMap((e) => ('seq' in e ? [e.origin] : [])));
    expect(origins).toEqual(new Set([originOf(a), originOf(b)]));
    expect(events(watch).some((e) => e.type === 'end')).toBe(false);
    const { body } = await json<DataResponse>('/api/data');
    await expect.poll(() => replay(events(watch)).version).toBe(body.version);
    expect(replay(events(watch))).toEqual({ rows: body.data, version: body.version });
    watch.close();
    await expectIdle();
  });

  it('resumes with Last-Event-ID, and counts against --max-connections', async () => {
    await serve({ maxConnections: 2, maxConnectionsPerSession: 1, watchShare: 100 });
    const id = await startSession();
    await stream(`/api/stream/${id}`); // keeps the generator running
    const first = await stream('/api/stream');
    await first.waitFor(atLeastSeq(5));
    const refused = await json<{ code: string }>('/api/stream');
    expect(refused).toMatchObject({ status: 429, body: { code: 'too_many_connections' } });
    expect(refused.headers.get('retry-after')).toBeTruthy();
    first.close();
    await expect.poll(async () => (await json<MetricsResponse>('/api/metrics')).body.total_connections).toBe(1);
    const lastSeen = Math.max(...seqsOf(events(first)));
    const second = await stream('/api/stream', { 'Last-Event-ID': String(lastSeen) });
    await second.waitFor(atLeastSeq(lastSeen + 5));
    expect(events(second).some((e) => e.type === 'init')).toBe(false);
    const seqs = [...seqsOf(events(first)), ...seqsOf(events(second))];
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });

  it('takes at most --watch-share of --max-connections, leaving the rest to sessions', async () => {
    await serve({ maxConnections: 4, maxConnectionsPerSession: 2, watchShare: 50 });
    await stream('/api/stream');
    await stream('/api/stream');
    const refused = await json<{ code: string }>('/api/stream');
    expect(refused).toMatchObject({ status: 429, body: { code: 'too_many_watch_connections' } });
    expect(refused.headers.get('retry-after')).toBeTruthy();
    const id = await startSession();
    const admitted = await stream(`/api/stream/${id}`);
    expect(admitted.status).toBe(200);
  });

  it('GET /api/data gives the heartbeat interval, for a watch that resumes without an init', async () => {
    await serve({ heartbeatInterval: 300 });
    const { body } = await json<DataResponse>('/api/data');
    expect(body.heartbeat_interval).toBe(300);
  });

  it('answers HEAD and POST with 405', async () => {
    await serve();
    const head = await fetch(`${running!.url}/api/stream`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('GET');
    const post = await json<{ code: string }>('/api/stream', { method: 'POST' });
    expect(post).toMatchObject({ status: 405, body: { code: 'method_not_allowed' } });
  });
});

describe('resume', () => {
  it('with Last-Event-ID replays exactly the missed changes: no init, no gap, no duplicate', async () => {
    await serve();
    const id = await startSession();
    const keeper = await stream(`/api/stream/${id}`); // keeps the generator running
    const first = await stream(`/api/stream/${id}`);
    await first.waitFor(atLeastSeq(5));
    first.close();
    const lastSeen = Math.max(...seqsOf(events(first)));
    await keeper.waitFor(atLeastSeq(lastSeen + 10));
    const second = await stream(`/api/stream/${id}`, { 'Last-Event-ID': String(lastSeen) });
    await second.waitFor(atLeastSeq(lastSeen + 15));
    expect(events(second).some((e) => e.type === 'init')).toBe(false);
    const seqs = [...seqsOf(events(first)), ...seqsOf(events(second))];
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });

  it('with ?since=<version> continues from GET /api/data', async () => {
    await serve();
    const id = await startSession();
    const keeper = await stream(`/api/stream/${id}`);
    await keeper.waitFor(atLeastSeq(5));
    const { body } = await json<DataResponse>('/api/data');
    const client = await stream(`/api/stream/${id}?since=${body.version}`);
    await client.waitFor(atLeastSeq(body.version + 5));
    expect(seqsOf(events(client))[0]).toBe(body.version + 1);
    await json(`/api/stop/${id}`, { method: 'POST' });
    await client.closed;
    const final = (await json<DataResponse>('/api/data')).body;
    expect(replay(events(client), body.data)).toEqual({ rows: final.data, version: final.version });
  });

  it('older than the history gets a fresh init', async () => {
    await serve({ history: 100 });
    const id = await startSession();
    const keeper = await stream(`/api/stream/${id}`);
    await keeper.waitFor(atLeastSeq(120), 10_000);
    const client = await stream(`/api/stream/${id}`, { 'Last-Event-ID': '3' });
    const init = await client.waitFor(() => true);
    expect(init).toMatchObject({ type: 'init' });
    expect((init as { version: number }).version).toBeGreaterThanOrEqual(120);
  });

  it('a real EventSource reconnects by itself after the connection drops and misses nothing', async () => {
    const server = await serve({ updateInterval: 30 });
    const id = await startSession();
    const received: StreamEvent[] = [];
    const source = new EventSource(`${server.url}/api/stream/${id}`);
    clients.push(source);
    let opens = 0;
    source.onopen = () => opens++;
    const waitForSeq = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (seqsOf(received).some((s) => s >= n) ? resolve() : setTimeout(check, 10));
        check();
      });
    source.onmessage = (message) => received.push(JSON.parse(message.data) as StreamEvent);
    await waitForSeq(5);
    // Cut every connection; meanwhile another writer changes the table.
    server.server.closeAllConnections();
    const { store } = server;
    const meta = { session_id: 'OtherWriter00000', generation_count: 1, timestamp: new Date().toISOString() };
    for (let i = 0; i < 3; i++) {
      await store.commit({ type: 'update', id: store.rowAt(0).id, patch: { score: 60 + i } }, meta);
    }
    const afterCut = store.version;
    await waitForSeq(afterCut + 5);
    expect(opens).toBeGreaterThanOrEqual(2);
    expect(received.filter((e) => e.type === 'init')).toHaveLength(1);
    const seqs = seqsOf(received);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    await json(`/api/stop/${id}`, { method: 'POST' });
    await new Promise<void>((resolve) => {
      const check = () => (received.at(-1)?.type === 'end' ? resolve() : setTimeout(check, 10));
      check();
    });
    source.close();
    const { body } = await json<DataResponse>('/api/data');
    expect(replay(received)).toEqual({ rows: body.data, version: body.version });
  });
});

describe('errors are JSON with a status, a code and a message', () => {
  const cases: [string, RequestInit | undefined, number, string][] = [
    ['/api/stream/short', undefined, 400, 'invalid_session_id'],
    ['/api/stream/AAAAAAAAAAAAAAA!', undefined, 400, 'invalid_session_id'],
    ['/api/stream/%3Cscript%3E', undefined, 400, 'invalid_session_id'],
    ['/api/stream/AAAAAAAAAAAAAAAA', undefined, 404, 'session_not_found'],
    ['/api/stop/nope', { method: 'POST' }, 400, 'invalid_session_id'],
    ['/api/stop/AAAAAAAAAAAAAAAA', { method: 'POST' }, 404, 'session_not_found'],
    ['/api/start', { method: 'GET' }, 405, 'method_not_allowed'],
    ['/api/data', { method: 'DELETE' }, 405, 'method_not_allowed'],
    ['/api/stream/AAAAAAAAAAAAAAAA', { method: 'POST' }, 405, 'method_not_allowed'],
    ['/api/nothing-here', undefined, 404, 'not_found'],
    ['/api', undefined, 404, 'not_found'],
  ];

  it.each(cases)('%s (%j) → %i %s', async (path, init, status, code) => {
    await serve();
    const before = (await json<DataResponse>('/api/data')).body;
    const response = await json<{ status: string; code: string; message: string }>(path, init);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.body).toEqual({ status: 'error', code, message: expect.stringMatching(/\w/) });
    expect((await json<DataResponse>('/api/data')).body).toEqual({ ...before, timestamp: expect.any(String) });
    if (status === 405) expect(response.headers.get('allow')).toMatch(/GET|POST/);
  });

  it.each([
    [{ 'Last-Event-ID': 'abc' }, '', 'invalid_last_event_id'],
    [{ 'Last-Event-ID': '-1' }, '', 'invalid_last_event_id'],
    [{}, '?since=1.5', 'invalid_since'],
    [{}, '?since=', 'invalid_since'],
    [{}, '?full=yes', 'invalid_full'],
  ])('a bad resume point %j%s → 400 %s', async (headers, query, code) => {
    await serve();
    const id = await startSession();
    const response = await fetch(`${running!.url}/api/stream/${id}${query}`, { headers });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ status: 'error', code });
    expect((await json<MetricsResponse>('/api/metrics')).body.total_connections).toBe(0);
  });

  it('too many streams of one session → 429 with Retry-After', async () => {
    await serve({ maxConnectionsPerSession: 2, maxConnections: 10 });
    const id = await startSession();
    await stream(`/api/stream/${id}`);
    await stream(`/api/stream/${id}`);
    const refused = await json<{ code: string }>(`/api/stream/${id}`);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('too_many_session_connections');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await json<MetricsResponse>('/api/metrics')).body.total_connections).toBe(2);
  });

  it('too many streams in all → 429 with Retry-After, and room again once one closes', async () => {
    await serve({ maxConnectionsPerSession: 2, maxConnections: 2 });
    const [a, b] = await Promise.all([startSession(), startSession()]);
    const first = await stream(`/api/stream/${a}`);
    await stream(`/api/stream/${a}`);
    const refused = await json<{ code: string }>(`/api/stream/${b}`);
    expect(refused).toMatchObject({ status: 429, body: { code: 'too_many_connections' } });
    expect(refused.headers.get('retry-after')).toBeTruthy();
    first.close();
    await expect.poll(async () => (await json<MetricsResponse>('/api/metrics')).body.total_connections).toBe(1);
    const admitted = await stream(`/api/stream/${b}`);
    expect(admitted.status).toBe(200);
  });
});

describe('GET /api/metrics', () => {
  it("reports the original demo's fields", async () => {
    await serve({ seedRows: 7 });
    const id = await startSession();
    const client = await stream(`/api/stream/${id}`);
    await client.waitFor((e) => e.type === 'init');
    const { body } = await json<MetricsResponse>('/api/metrics');
    expect(body).toMatchObject({ active_sessions: 1, total_connections: 1, pending_messages: expect.any(Number) });
    expect(body.table_records).toBeGreaterThanOrEqual(3);
    expect(body.memory_usage.rss).toBeGreaterThan(body.memory_usage.heap_used);
    expect(body.uptime).toBeGreaterThanOrEqual(0);
  });
});

describe('the web app', () => {
  it('is served for every non-API path, and unknown API paths stay JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livetable-web-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Livetable</title>');
    await serve({ staticDir: dir });
    for (const path of ['/', '/some/page']) {
      const response = await fetch(`${running!.url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<title>Livetable</title>');
    }
    const missing = await json<{ code: string }>('/api/missing');
    expect(missing).toMatchObject({ status: 404, body: { code: 'not_found' } });
  });
});

describe('when storage fails', () => {
  it('answers 503 to a start it cannot store, and keeps serving reads', async () => {
    const { createSqliteStores } = await import('./store/sqliteStore.js');
    const { defaultConfig } = await import('./config.js');
    const { startServer } = await import('./server.js');
    const { pino } = await import('pino');
    const dataDir = mkdtempSync(join(tmpdir(), 'livetable-full-'));
    const stores = createSqliteStores({ dataDir, history: 100, initialRows: () => [], maxPageCount: 8 });
    const config = defaultConfig({
      port: 0,
      staticDir: 'no-such-dir',
      updateInterval: 10_000,
      startBurst: 100_000,
      startRate: 100_000,
      maxSessions: 100_000,
      maxSessionsPerAddress: 100_000,
    });
    running = await startServer(config, pino({ level: 'silent' }), { stores });
    let refused: Response | undefined;
    for (let i = 0; i < 2000 && refused === undefined; i++) {
      const response = await fetch(`${running.url}/api/start`, { method: 'POST' });
      if (response.status !== 200) refused = response;
      else await response.body?.cancel();
    }
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get('retry-after')).toBeTruthy();
    expect(await refused?.json()).toMatchObject({ status: 'error', code: 'store_unavailable' });
    expect((await fetch(`${running.url}/api/data`)).status).toBe(200);
  });
});
