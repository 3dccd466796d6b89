import { get } from 'svelte/store';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Row, StreamEvent } from '../../../shared/protocol';
import { SESSION_KEY, UPDATES_KEY, createLiveTable, type LiveTableDeps, type StreamSource } from './liveTable';

const ID = 'AbCdEfGh12345678';
const T0 = '2025-01-01T12:00:00.000Z';

const row = (id: number, score = 80): Row => ({ id, name: `用户${id}`, age: 30, city: '上海', score, status: '活跃' });

class FakeSource implements StreamSource {
  readyState = 0;
  onopen: StreamSource['onopen'] = null;
  onmessage: StreamSource['onmessage'] = null;
  onerror: StreamSource['onerror'] = null;
  closed = false;
  constructor(readonly url: string) {}
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  send(event: StreamEvent | string): void {
    const data = typeof event === 'string' ? event : JSON.stringify(event);
    this.onmessage?.({ data } as MessageEvent<string>);
  }
  fail(readyState: 0 | 2): void {
    this.readyState = readyState;
    this.onerror?.(new Event('error'));
  }
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
type Route = (url: string, init?: RequestInit) => Reply | 'network-error';

function fakeResponse({ status, body, headers = {} }: Reply): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: new Headers(headers),
    json: async () => {
      if (body === undefined) throw new SyntaxError('no body');
      return body;
    },
  } as Response;
}

function setup(overrides: Record<string, Route> = {}, extra: Partial<LiveTableDeps> = {}) {
  const sources: FakeSource[] = [];
  const requests: { url: string; init?: RequestInit }[] = [];
  const storage = new Map<string, string>();
  // What the server's table looks like, for /api/data and /api/metrics.
  const server = { rows: [row(1), row(2)], version: 10, heartbeat: 2000 };
  const routes: Record<string, Route> = {
    'GET /api/data': () => ({
      status: 200,
      body: {
        status: 'success',
        data: server.rows,
        version: server.version,
        timestamp: T0,
        heartbeat_interval: server.heartbeat,
      },
    }),
    'GET /api/metrics': () => ({ status: 200, body: { active_sessions: 0, version: server.version } }),
    ...overrides,
  };
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    requests.push({ url, init });
    const path = url.replace(/\?.*/, '').replace(/^\/api\/(stream|stop)\/[^/]+$/, '/api/$1/:id');
    const key = `${init?.method ?? 'GET'} ${path}`;
    const route = routes[key];
    if (!route) throw new Error(`unexpected request ${key}`);
    const reply = route(url, init);
    if (reply === 'network-error') throw new TypeError('Failed to fetch');
    return fakeResponse(reply);
  });
  const live = createLiveTable({
    openStream: (url) => {
      const source = new FakeSource(url);
      sources.push(source);
      return source;
    },
    fetch,
    storage: () => ({
      getItem: (key) => storage.get(key) ?? null,
      setItem: (key, value) => void storage.set(key, value),
      removeItem: (key) => void storage.delete(key),
    }),
    now: () => T0,
    ...extra,
  });
  const last = () => {
    const source = sources.at(-1);
    if (!source) throw new Error('no stream opened');
    return source;
  };
  const texts = () => get(live.log).map((entry) => (typeof entry.text === 'string' ? entry.text : entry.text.key));
  const streamRequests = () => requests.filter((r) => r.url.startsWith('/api/stream/')).length;
  /** The streams opened for the session (not the watch stream a page without one follows). */
  const sessionSources = () => sources.filter((source) => source.url.startsWith('/api/stream/'));
  return { live, sources, requests, storage, server, fetch, last, texts, streamRequests, sessionSources };
}

const started: Route = () => ({
  status: 200,
  body: { status: 'success', session_id: ID, message: '数据生成已开始', expires_at: 0 },
});
/** The origin marker the server gives a session's changes in place of its id (a hash there; any other session's here). */
const originOf = (sessionId: string) => (sessionId === ID ? 's-0123456789ab' : 's-ba9876543210');
const init = (data: Row[], version: number, heartbeat = 2000, session_id: string | null = ID): StreamEvent => ({
  type: 'init',
  session_id,
  origin: session_id === null ? null : originOf(session_id),
  data,
  version,
  timestamp: T0,
  heartbeat_interval: heartbeat,
});
const add = (seq: number, data: Row, session_id = ID): StreamEvent => ({
  type: 'add',
  seq,
  data,
  message: `添加了新用户: ${data.name}`,
  timestamp: T0,
  generation_count: seq,
  origin: originOf(session_id),
});

/** With no session the page goes on to follow the table: connecting to the watch stream. */
function expectWatching(t: ReturnType<typeof setup>): void {
  expect(get(t.live.connection)).toBe('connecting');
  expect(t.last().url).toMatch(/^\/api\/stream(\?|$)/);
  expect(t.last().closed).toBe(false);
}

/** Lets pending promise callbacks (fetch, json) run. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** A running session whose stream has delivered init at version 10. */
async function running(routes: Record<string, Route> = {}, extra: Partial<LiveTableDeps> = {}) {
  const t = setup({ 'POST /api/start': started, ...routes }, extra);
  await t.live.start();
  t.last().open();
  t.last().send(init([row(1), row(2)], 10));
  return t;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('liveTable: page load', () => {
  it('without a remembered session, loads /api/data and shows it idle', async () => {
    const t = setup();
    t.server.rows = [row(2, 70), row(1, 91)];
    t.server.version = 4;
    await t.live.resumeOrLoad();
    expect(
      get(t.live.table)
        .rows.slice()
        .map((r) => r.id),
    ).toEqual([1, 2]);
    expect(get(t.live.table).version).toBe(4);
    expect(get(t.live.stats)).toEqual({ records: 2, updates: 0, average: '80.5' });
    expectWatching(t);
    expect(t.texts()).toEqual(['log.loaded']);
    // Then it follows the table from there on the watch stream.
    expect(t.sources.map((source) => source.url)).toEqual(['/api/stream?since=4']);
    t.last().open();
    expect(get(t.live.connection)).toBe('live');
    expect(get(t.live.session).running).toBe(false);
  });

  it('a page with no session applies the changes other pages make, as they come', async () => {
    const t = setup();
    await t.live.resumeOrLoad();
    t.last().open();
    t.last().send(add(11, row(3, 95), 'OTHERSESSION0000'));
    expect(get(t.live.table).version).toBe(11);
    expect(get(t.live.stats).records).toBe(3);
    expect(get(t.live.session).running).toBe(false);
    // Nothing polls: the stream is the only thing the page asks for after the load.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(t.requests.map((r) => r.url)).toEqual(['/api/data']);
  });

  it('a dropped watch stream resumes by itself; a gap in it starts over from an init', async () => {
    const t = setup();
    await t.live.resumeOrLoad();
    t.last().open();
    t.last().fail(0);
    expect(get(t.live.connection)).toBe('reconnecting');
    t.last().open();
    expect(get(t.live.connection)).toBe('live');
    t.last().send(add(12, row(3)));
    expect(t.sources.map((source) => source.url)).toEqual(['/api/stream?since=10', '/api/stream']);
    expect(t.sources[0]?.closed).toBe(true);
  });

  it('a watch stream the server refuses is asked for again later', async () => {
    let refusals = 1;
    const t = setup({
      'GET /api/stream': () =>
        refusals-- > 0
          ? { status: 503, body: { status: 'error', code: 'unavailable', message: 'down' } }
          : { status: 200 },
    });
    await t.live.resumeOrLoad();
    expect(get(t.live.connection)).toBe('connecting');
    t.last().fail(2);
    await settle();
    // It never was live: still connecting, not "reconnecting".
    expect(get(t.live.connection)).toBe('connecting');
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.sources).toHaveLength(2);
    expect(t.last().url).toBe('/api/stream?since=10');
  });

  it('the watch stream, resumed without an init, keeps its watchdog to the heartbeat /api/data gave', async () => {
    const t = setup();
    t.server.heartbeat = 400;
    await t.live.resumeOrLoad();
    t.last().open();
    await vi.advanceTimersByTimeAsync(999);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sources).toHaveLength(2);
    expect(t.last().url).toBe('/api/stream?since=10');
  });

  it('a watch stream refused with a 4xx is logged once and asked for again, backing off', async () => {
    const t = setup({
      'GET /api/stream': () => ({ status: 404, body: { status: 'error', code: 'not_found', message: 'no' } }),
    });
    await t.live.resumeOrLoad();
    t.last().fail(2);
    await settle();
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000);
    const probes = t.requests.filter((r) => r.url.startsWith('/api/stream?')).length;
    expect(probes).toBe(4);
    expect(t.texts().filter((text) => text === 'log.requestFailed')).toHaveLength(1);
    expect(get(t.live.session).running).toBe(false);
  });

  it('a hidden tab with no session closes its watch stream, and resumes it when shown', async () => {
    let setVisible: (visible: boolean) => void = () => {};
    const t = setup({}, { onVisibilityChange: (listener) => void (setVisible = listener) });
    await t.live.resumeOrLoad();
    t.last().open();
    setVisible(false);
    expect(t.last().closed).toBe(true);
    expect(get(t.live.connection)).toBe('disconnected');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sources).toHaveLength(1);
    setVisible(true);
    expect(t.sources).toHaveLength(2);
    expect(t.last().url).toBe('/api/stream?since=10');
  });

  it('start from a page following the watch stream closes it and continues from the table it holds', async () => {
    const t = setup({ 'POST /api/start': started });
    await t.live.resumeOrLoad();
    const watch = t.last();
    watch.open();
    watch.send(add(11, row(3), 'OTHERSESSION0000'));
    await t.live.start();
    expect(watch.closed).toBe(true);
    // No snapshot of every row again: the session's stream goes on from version 11.
    expect(t.sources.filter((source) => !source.closed).map((source) => source.url)).toEqual([
      `/api/stream/${ID}?since=11`,
    ]);
    expect(get(t.live.connection)).toBe('connecting');
    t.last().open();
    t.last().send(add(12, row(4)));
    expect(get(t.live.table).version).toBe(12);
    expect(get(t.live.stats).updates).toBe(1);
  });

  it('logs an error when /api/data fails', async () => {
    const t = setup({ 'GET /api/data': () => 'network-error' });
    await t.live.resumeOrLoad();
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'error', text: { key: 'log.loadFailed' } });
    expect([...get(t.live.table).rows]).toEqual([]);
  });

  it('with a remembered session, reconnects to its stream for a fresh init', async () => {
    const t = setup();
    t.storage.set(SESSION_KEY, ID);
    t.storage.set(UPDATES_KEY, '12');
    await t.live.resumeOrLoad();
    expect(t.fetch).not.toHaveBeenCalled();
    expect(t.last().url).toBe(`/api/stream/${ID}`);
    expect(get(t.live.connection)).toBe('connecting');
    expect(get(t.live.session)).toMatchObject({ id: ID, running: true });
    expect(get(t.live.stats).updates).toBe(12);
    t.last().send(init([row(1)], 30));
    expect(get(t.live.connection)).toBe('live');
    expect(get(t.live.table).version).toBe(30);
  });

  it('a remembered session that has ended is forgotten, and the table loads idle', async () => {
    const t = setup({
      'GET /api/stream/:id': () => ({
        status: 404,
        body: { status: 'error', code: 'session_not_found', message: 'gone' },
      }),
    });
    t.server.rows = [row(1)];
    t.server.version = 0;
    t.storage.set(SESSION_KEY, ID);
    await t.live.resumeOrLoad();
    t.last().fail(2);
    await settle();
    expectWatching(t);
    expect(get(t.live.session).running).toBe(false);
    expect(t.storage.has(SESSION_KEY)).toBe(false);
    // The page holds no table yet: the watch stream asks for one.
    expect(t.last().url).toBe('/api/stream');
    t.last().open();
    t.last().send(init([row(1)], 0, 2000, null));
    expect(get(t.live.table).rows).toHaveLength(1);
    expect(
      get(t.live.log).some((e) => e.kind === 'error' && typeof e.text !== 'string' && e.text.key === 'log.sessionGone'),
    ).toBe(true);
  });
});

describe('liveTable: start and stream', () => {
  it('start posts, remembers the session and opens one stream', async () => {
    const t = setup({ 'POST /api/start': started });
    const pending = t.live.start();
    expect(get(t.live.session).busy).toBe(true);
    await pending;
    expect(t.requests[0]).toMatchObject({ url: '/api/start', init: { method: 'POST' } });
    expect(t.storage.get(SESSION_KEY)).toBe(ID);
    expect(t.sources.map((s) => s.url)).toEqual([`/api/stream/${ID}`]);
    expect(get(t.live.connection)).toBe('connecting');
    expect(get(t.live.session)).toEqual({ id: ID, running: true, busy: false, ended: false });
    expect(t.texts()).toEqual(['log.started']);
    t.last().open();
    expect(get(t.live.connection)).toBe('live');
  });

  it('start does nothing while a session runs', async () => {
    const t = await running();
    await t.live.start();
    expect(t.fetch).toHaveBeenCalledTimes(1);
    expect(t.sources).toHaveLength(1);
  });

  it('folds messages into the table, stats and log, and counts updates across reloads', async () => {
    const t = await running();
    t.last().send(add(11, row(3, 95)));
    expect(
      get(t.live.table)
        .rows.slice()
        .map((r) => r.id),
    ).toEqual([1, 2, 3]);
    expect(get(t.live.stats)).toEqual({ records: 3, updates: 1, average: '85.0' });
    expect(get(t.live.log).at(-1)?.text).toEqual({ key: 'log.change.add', params: { name: '用户3' } });
    expect(t.storage.get(UPDATES_KEY)).toBe('1');
  });

  it('logs an error for a message that is not JSON, and keeps going', async () => {
    const t = await running();
    t.last().send('{oops');
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'error', text: { key: 'log.badMessage' } });
    t.last().send(add(11, row(3)));
    expect(get(t.live.table).version).toBe(11);
  });

  it('a failed start logs the server message', async () => {
    const t = setup({
      'POST /api/start': () => ({ status: 429, body: { status: 'error', code: 'busy', message: '服务器繁忙' } }),
    });
    await t.live.start();
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'error', text: '服务器繁忙' });
    expect(t.sources).toHaveLength(0);
    expect(get(t.live.session).running).toBe(false);
  });

  it('a start that cannot reach the server logs a network error', async () => {
    const t = setup({ 'POST /api/start': () => 'network-error' });
    await t.live.start();
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'error', text: { key: 'log.networkError' } });
    expect(get(t.live.session).busy).toBe(false);
  });
});

describe('liveTable: reconnecting', () => {
  it('on an error while CONNECTING keeps the EventSource: the browser resumes with Last-Event-ID', async () => {
    const t = await running();
    t.last().fail(0);
    expect(get(t.live.connection)).toBe('reconnecting');
    expect(t.last().closed).toBe(false);
    expect(t.sources).toHaveLength(1);
    expect(t.fetch).toHaveBeenCalledTimes(1);
    t.last().open();
    expect(get(t.live.connection)).toBe('live');
    expect(t.texts().slice(-2)).toEqual(['log.lost', 'log.resumed']);
  });

  it('on CLOSED probes the stream; 200 reopens at once with ?since=version', async () => {
    const t = await running({ 'GET /api/stream/:id': () => ({ status: 200 }) });
    t.last().send(add(11, row(3)));
    const first = t.last();
    first.fail(2);
    expect(first.closed).toBe(true);
    await settle();
    expect(t.requests.at(-1)?.url).toBe(`/api/stream/${ID}?since=11`);
    expect(t.requests.at(-1)?.init?.signal?.aborted).toBe(true);
    expect(t.sources.map((s) => s.url)).toEqual([`/api/stream/${ID}`, `/api/stream/${ID}?since=11`]);
    expect(get(t.live.connection)).toBe('reconnecting');
  });

  it('on CLOSED with 404 the session is over: error logged, session forgotten, the table watched', async () => {
    const t = await running({
      'GET /api/stream/:id': () => ({
        status: 404,
        body: { status: 'error', code: 'session_not_found', message: 'x' },
      }),
    });
    t.last().fail(2);
    await settle();
    expectWatching(t);
    expect(get(t.live.session).running).toBe(false);
    expect(t.storage.has(SESSION_KEY)).toBe(false);
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'error', text: { key: 'log.sessionGone' } });
    expect(get(t.live.table).rows).toHaveLength(2);
    expect(t.last().url).toBe('/api/stream?since=10');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sessionSources()).toHaveLength(1);
    expect(t.streamRequests()).toBe(1);
  });

  it('on CLOSED with 429 waits Retry-After seconds, then reopens', async () => {
    const t = await running({ 'GET /api/stream/:id': () => ({ status: 429, headers: { 'Retry-After': '3' } }) });
    t.last().fail(2);
    await settle();
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2999);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sources.map((s) => s.url).at(-1)).toBe(`/api/stream/${ID}?since=10`);
  });

  it('when the probe cannot reach the server, retries with backoff 1 s, 2 s, 4 s … up to 10 s', async () => {
    let reachable = false;
    const t = await running({ 'GET /api/stream/:id': () => (reachable ? { status: 200 } : 'network-error') });
    t.last().fail(2);
    await settle();
    const probes = () => t.requests.filter((r) => r.url.startsWith('/api/stream/')).length;
    expect(probes()).toBe(1);
    const gaps: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = probes();
      let waited = 0;
      while (probes() === before) {
        await vi.advanceTimersByTimeAsync(500);
        waited += 500;
      }
      gaps.push(waited);
    }
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    reachable = true;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.sources).toHaveLength(2);
    t.last().open();
    expect(get(t.live.connection)).toBe('live');
  });

  it('the watchdog reopens a stream silent for 2.5 heartbeat intervals', async () => {
    const t = await running();
    await vi.advanceTimersByTimeAsync(4000);
    t.last().send({ type: 'heartbeat', timestamp: T0 });
    await vi.advanceTimersByTimeAsync(4999);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sources).toHaveLength(2);
    expect(t.sources[0]?.closed).toBe(true);
    expect(t.last().url).toBe(`/api/stream/${ID}?since=10`);
    expect(get(t.live.connection)).toBe('reconnecting');
  });

  it('a gap in seq reopens the stream without ?since, for a fresh snapshot', async () => {
    const t = await running();
    t.last().send(add(11, row(3)));
    expect(t.sources).toHaveLength(1);
    t.last().send(add(13, row(4)));
    expect(t.sources).toHaveLength(2);
    expect(t.sources[0]?.closed).toBe(true);
    expect(t.last().url).toBe(`/api/stream/${ID}`);
    expect(t.texts()).toContain('log.gap');
  });

  it('the watchdog measures silence on a monotonic clock: a wall-clock jump is not silence', async () => {
    const t = await running();
    await vi.advanceTimersByTimeAsync(4000);
    t.last().send({ type: 'heartbeat', timestamp: T0 });
    vi.setSystemTime(Date.now() + 3_600_000);
    await vi.advanceTimersByTimeAsync(4999);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sources).toHaveLength(2);
  });

  it('a hidden tab whose watchdog timer runs late checks its stream as soon as it shows again', async () => {
    let setVisible: (visible: boolean) => void = () => {};
    const t = await running({}, { onVisibilityChange: (listener) => void (setVisible = listener) });
    setVisible(false);
    // Browsers run a hidden tab's timers late; here, not at all.
    vi.clearAllTimers();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sources).toHaveLength(1);
    setVisible(true);
    expect(t.sources).toHaveLength(2);
    expect(t.last().url).toBe(`/api/stream/${ID}?since=10`);
  });

  it('a tab shown again with a stream that kept talking keeps it, watchdog and all', async () => {
    let setVisible: (visible: boolean) => void = () => {};
    const t = await running({}, { onVisibilityChange: (listener) => void (setVisible = listener) });
    setVisible(false);
    await vi.advanceTimersByTimeAsync(4000);
    t.last().send({ type: 'heartbeat', timestamp: T0 });
    setVisible(true);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sources).toHaveLength(2);
  });

  it('a stream that keeps talking is never reopened; the watchdog counts from the last message', async () => {
    const t = await running();
    for (let seq = 11; seq <= 30; seq++) {
      await vi.advanceTimersByTimeAsync(1000);
      t.last().send(add(seq, row(seq)));
    }
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sources).toHaveLength(2);
    expect(t.last().url).toBe(`/api/stream/${ID}?since=30`);
  });

  it('before any init the watchdog waits 2.5 × 10 s', async () => {
    const t = setup({ 'POST /api/start': started });
    await t.live.start();
    await vi.advanceTimersByTimeAsync(24_999);
    expect(t.sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sources).toHaveLength(2);
    // Without a table in hand, the new stream asks for a full init.
    expect(t.last().url).toBe(`/api/stream/${ID}`);
  });

  it('ignores messages from a stream it has replaced', async () => {
    const t = await running();
    const old = t.last();
    await vi.advanceTimersByTimeAsync(5000);
    old.send(add(11, row(3)));
    expect(get(t.live.table).version).toBe(10);
  });
});

describe('liveTable: ending', () => {
  it('end closes the session stream for good; the page watches the table instead', async () => {
    const t = await running();
    t.last().send({
      type: 'end',
      session_id: ID,
      reason: 'timeout',
      message: '会话已超时，数据生成已结束',
      timestamp: T0,
    });
    expect(t.sessionSources().at(-1)?.closed).toBe(true);
    expectWatching(t);
    expect(get(t.live.session)).toMatchObject({ running: false, ended: true });
    expect(t.storage.has(SESSION_KEY)).toBe(false);
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'info', text: { key: 'log.end.timeout' } });
    // From here on the page follows the table on the watch stream, not the session.
    expect(t.last().url).toBe('/api/stream?since=10');
    t.last().open();
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'info', text: { key: 'log.end.timeout' } });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sessionSources()).toHaveLength(1);
    expect(t.streamRequests()).toBe(0);
  });

  it('after the end, the page follows what other sessions change, from where it was', async () => {
    const t = await running();
    t.last().send({ type: 'end', session_id: ID, reason: 'stopped', message: '数据生成已结束', timestamp: T0 });
    expect(t.last().url).toBe('/api/stream?since=10');
    t.last().open();
    t.last().send(add(11, row(5), 'OTHERSESSION0000'));
    expect(get(t.live.table).version).toBe(11);
    expect(
      get(t.live.table)
        .rows.slice()
        .map((r) => r.id),
    ).toEqual([1, 2, 5]);
    expect(get(t.live.connection)).toBe('live');
    expect(get(t.live.session).running).toBe(false);
  });

  const stopped: Route = () => ({
    status: 200,
    body: { status: 'success', session_id: ID, outcome: 'stopped', message: '数据生成已停止' },
  });

  it('stop posts, then lets the stream deliver its end before closing it', async () => {
    const t = await running({ 'POST /api/stop/:id': stopped });
    await t.live.stop();
    expect(t.requests.find((r) => r.url.startsWith('/api/stop/'))).toMatchObject({
      url: `/api/stop/${ID}`,
      init: { method: 'POST' },
    });
    expect(t.texts().slice(-2)).toEqual(['log.stopping', 'log.stopped']);
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'success', text: { key: 'log.stopped' } });
    expect(t.last().closed).toBe(false);
    // Until the end comes, the buttons wait: a second stop does nothing.
    expect(get(t.live.session)).toMatchObject({ running: true, busy: true });
    await t.live.stop();
    expect(t.requests.filter((r) => r.url.startsWith('/api/stop/'))).toHaveLength(1);
    t.last().send({ type: 'end', session_id: ID, reason: 'stopped', message: '数据生成已结束', timestamp: T0 });
    expect(t.sessionSources().at(-1)?.closed).toBe(true);
    expectWatching(t);
    expect(get(t.live.session).running).toBe(false);
    expect(t.storage.has(SESSION_KEY)).toBe(false);
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'info', text: { key: 'log.end.stopped' } });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sessionSources()).toHaveLength(1);
  });

  it('stop closes the stream itself when no end arrives in time', async () => {
    const t = await running({ 'POST /api/stop/:id': stopped });
    await t.live.stop();
    await vi.advanceTimersByTimeAsync(2999);
    expect(t.last().closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sessionSources().at(-1)?.closed).toBe(true);
    expectWatching(t);
    expect(get(t.live.session).running).toBe(false);
    expect(t.storage.has(SESSION_KEY)).toBe(false);
  });

  it('the log tells a stop in the order it happened, each line at its own time, whichever answer comes first', async () => {
    const STOPPED_AT = '2025-01-01T12:00:01.400Z';
    const t = await running({
      'POST /api/stop/:id': () => ({
        status: 200,
        body: {
          status: 'success',
          session_id: ID,
          outcome: 'stopped',
          message: '数据生成已停止',
          timestamp: STOPPED_AT,
        },
      }),
    });
    const pending = t.live.stop();
    // The stream's end comes before the stop's answer: its line waits for the answer's.
    const END_AT = '2025-01-01T12:00:01.500Z';
    t.last().send({ type: 'end', session_id: ID, reason: 'stopped', message: '数据生成已结束', timestamp: END_AT });
    expect(get(t.live.session).running).toBe(false);
    await pending;
    expect(t.texts().slice(-3)).toEqual(['log.stopping', 'log.stopped', 'log.end.stopped']);
    // The answer at the time the server took the stop, the end at the time it sent it.
    expect(
      get(t.live.log)
        .map((entry) => entry.at)
        .slice(-3),
    ).toEqual([T0, STOPPED_AT, END_AT]);
    expectWatching(t);
  });

  it('an end with no timestamp (an older server) is told at the time of the last message', async () => {
    const t = await running();
    t.last().send(JSON.stringify({ type: 'end', session_id: ID, reason: 'stopped', message: '数据生成已结束' }));
    expect(get(t.live.log).at(-1)).toMatchObject({ text: { key: 'log.end.stopped' }, at: T0 });
  });

  it("a stop answer with no outcome (an older server) is logged in the server's words", async () => {
    const t = await running({
      'POST /api/stop/:id': () => ({ status: 200, body: { status: 'success', session_id: ID, message: '已停止' } }),
    });
    await t.live.stop();
    expect(t.texts().at(-1)).toBe('已停止');
  });

  it('stop during a backoff cancels the pending retry', async () => {
    const t = await running({ 'GET /api/stream/:id': () => 'network-error', 'POST /api/stop/:id': stopped });
    t.last().fail(2);
    await settle();
    expect(t.streamRequests()).toBe(1);
    await t.live.stop();
    expectWatching(t);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.streamRequests()).toBe(1);
    expect(t.sessionSources()).toHaveLength(1);
  });

  it('a failed stop logs the server message and keeps the session', async () => {
    const t = await running({
      'POST /api/stop/:id': () => ({
        status: 500,
        body: { status: 'error', code: 'internal_error', message: '服务器出错' },
      }),
    });
    await t.live.stop();
    expect(get(t.live.log).at(-1)).toMatchObject({ kind: 'error', text: '服务器出错' });
    expect(get(t.live.session).running).toBe(true);
    expect(t.last().closed).toBe(false);
  });

  it('destroy closes the stream and clears every timer', async () => {
    const t = await running();
    t.live.destroy();
    expect(t.last().closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('destroy on a page with no session closes its watch stream and every timer', async () => {
    const t = setup();
    await t.live.resumeOrLoad();
    expect(t.last().closed).toBe(false);
    t.live.destroy();
    expect(t.last().closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('liveTable: one render per frame', () => {
  it('queues changes until the frame and applies them in one state update', async () => {
    const frames: (() => void)[] = [];
    const t = await running({}, { schedule: (flush) => void frames.push(flush) });
    frames.splice(0).forEach((f) => f());
    const seen: number[] = [];
    const unsubscribe = t.live.table.subscribe((table) => seen.push(table.version));
    for (let seq = 11; seq <= 30; seq++) t.last().send(add(seq, row(seq)));
    expect(get(t.live.table).version).toBe(10);
    expect(frames).toHaveLength(1);
    frames.splice(0).forEach((f) => f());
    unsubscribe();
    expect(seen).toEqual([10, 30]);
    expect(get(t.live.stats).records).toBe(22);
    expect(t.storage.get(UPDATES_KEY)).toBe('20');
  });

  it('a store emits only when its own part changes: no button or log is written per change or heartbeat', async () => {
    const t = await running();
    const emitted = { session: 0, log: 0, connection: 0, stats: 0 };
    const stops = (Object.keys(emitted) as (keyof typeof emitted)[]).map((name) =>
      t.live[name].subscribe(() => void emitted[name]++),
    );
    t.last().send({ type: 'heartbeat', timestamp: T0 });
    expect(emitted).toEqual({ session: 1, log: 1, connection: 1, stats: 1 });
    t.last().send(add(11, row(11)));
    t.last().send(add(12, row(12)));
    stops.forEach((stop) => stop());
    // Each change adds a row, a count and a log line; the session and the connection stay.
    expect(emitted).toEqual({ session: 1, log: 3, connection: 1, stats: 3 });
  });

  it('a store read again after its last subscriber left gives the current value', async () => {
    const t = await running();
    const stop = t.live.stats.subscribe(() => {});
    stop();
    t.last().send(add(11, row(11)));
    expect(get(t.live.stats).records).toBe(3);
    const seen: number[] = [];
    t.live.stats.subscribe((stats) => seen.push(stats.records))();
    expect(seen).toEqual([3]);
  });

  it('saves the update count at most once a second, and when the page is hidden away', async () => {
    let pageHide = () => {};
    const t = await running({}, { onPageHide: (save) => void (pageHide = save) });
    t.last().send(add(11, row(11)));
    expect(t.storage.get(UPDATES_KEY)).toBe('1');
    t.last().send(add(12, row(12)));
    t.last().send(add(13, row(13)));
    expect(t.storage.get(UPDATES_KEY)).toBe('1');
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.storage.get(UPDATES_KEY)).toBe('3');
    t.last().send(add(14, row(14)));
    expect(t.storage.get(UPDATES_KEY)).toBe('3');
    pageHide();
    expect(t.storage.get(UPDATES_KEY)).toBe('4');
  });

  it('applies what is queued before a local action, so the order holds', async () => {
    const t = await running({}, { schedule: () => undefined });
    t.last().send(add(11, row(11)));
    t.last().fail(0);
    expect(get(t.live.table).version).toBe(11);
    expect(get(t.live.connection)).toBe('reconnecting');
  });
});

describe('liveTable: pause and resume', () => {
  it('holds changes back with a count, and applies them all on resume', async () => {
    const t = await running();
    t.live.pause();
    t.last().send(add(11, row(11)));
    t.last().send(add(12, row(12)));
    // A replay after a reconnect is not counted twice.
    t.last().send(add(12, row(12)));
    expect(get(t.live.paused)).toEqual({ paused: true, held: 2 });
    expect(get(t.live.table).version).toBe(10);
    t.live.resume();
    expect(get(t.live.paused)).toEqual({ paused: false, held: 0 });
    expect(
      get(t.live.table)
        .rows.slice()
        .map((r) => r.id),
    ).toEqual([1, 2, 11, 12]);
    expect(get(t.live.stats).updates).toBe(2);
  });

  it('a pause outlives the session: held changes stay held on the watch stream, and resume applies them', async () => {
    const t = await running();
    t.live.pause();
    t.last().send(add(11, row(11)));
    t.last().send({ type: 'end', session_id: ID, reason: 'stopped', message: '数据生成已结束', timestamp: T0 });
    expect(get(t.live.session).running).toBe(false);
    expect(get(t.live.paused)).toEqual({ paused: true, held: 1 });
    expect(get(t.live.table).version).toBe(10);
    // The watch stream replays from the version shown; what is held already is not held twice.
    expect(t.last().url).toBe('/api/stream?since=10');
    t.last().open();
    t.last().send(add(11, row(11)));
    t.last().send(add(12, row(12), 'OTHERSESSION0000'));
    expect(get(t.live.paused)).toEqual({ paused: true, held: 2 });
    t.live.resume();
    expect(get(t.live.table).version).toBe(12);
  });

  it('a snapshot while paused replaces what is held: a gap past the held limit opens one stream, not two', async () => {
    const t = await running({}, { maxHeld: 2 });
    t.live.pause();
    for (let seq = 11; seq <= 14; seq++) t.last().send(add(seq, row(seq)));
    t.last().send(add(20, row(20)));
    expect(t.texts()).toContain('log.gap');
    expect(t.sources).toHaveLength(2);
    expect(t.last().url).toBe(`/api/stream/${ID}`);
    t.last().open();
    t.last().send(init([row(1), row(2), row(20)], 20));
    expect(get(t.live.table).version).toBe(20);
    expect(get(t.live.paused)).toEqual({ paused: true, held: 0 });
    t.live.resume();
    expect(t.sources).toHaveLength(2);
    expect(get(t.live.paused)).toEqual({ paused: false, held: 0 });
  });

  it('past maxHeld lets held changes go, keeps counting, and resumes from a fresh snapshot', async () => {
    const t = await running({}, { maxHeld: 3 });
    const stream = t.last();
    t.live.pause();
    for (let seq = 11; seq <= 15; seq++) stream.send(add(seq, row(seq)));
    expect(get(t.live.paused)).toEqual({ paused: true, held: 5 });
    expect(get(t.live.table).version).toBe(10);
    t.live.resume();
    expect(get(t.live.paused)).toEqual({ paused: false, held: 0 });
    // The old stream is closed; a new one asks for a fresh init (no ?since).
    expect(stream.closed).toBe(true);
    expect(t.last().url).toBe(`/api/stream/${ID}`);
    t.last().open();
    t.last().send(init([row(1), row(2), row(15)], 15));
    expect(get(t.live.table).version).toBe(15);
    expect(get(t.live.log).some((e) => typeof e.text !== 'string' && e.text.key === 'log.resync')).toBe(true);
  });

  it('a page with no session pauses the changes it follows, and resumes them', async () => {
    const t = setup();
    await t.live.resumeOrLoad();
    t.last().open();
    t.live.pause();
    t.last().send(add(11, row(3), 'OTHERSESSION0000'));
    t.last().send(add(12, row(4), 'OTHERSESSION0000'));
    expect(get(t.live.paused)).toEqual({ paused: true, held: 2 });
    expect(get(t.live.table).version).toBe(10);
    t.live.resume();
    expect(get(t.live.table).version).toBe(12);
    expect(get(t.live.stats).records).toBe(4);
    // Changes seen without a session are not this page's updates.
    expect(get(t.live.stats).updates).toBe(0);
  });

  it('a page with no session that held too much loads the table afresh on the watch stream', async () => {
    const t = setup({}, { maxHeld: 2 });
    await t.live.resumeOrLoad();
    const watch = t.last();
    watch.open();
    t.live.pause();
    for (let seq = 11; seq <= 14; seq++) watch.send(add(seq, row(seq), 'OTHERSESSION0000'));
    t.live.resume();
    expect(watch.closed).toBe(true);
    expect(t.last().url).toBe('/api/stream');
  });

  it('held changes let go with no stream open are asked for again from the version held', async () => {
    let setVisible: (visible: boolean) => void = () => {};
    const t = setup({}, { maxHeld: 2, onVisibilityChange: (listener) => void (setVisible = listener) });
    await t.live.resumeOrLoad();
    t.last().open();
    t.live.pause();
    for (let seq = 11; seq <= 14; seq++) t.last().send(add(seq, row(seq), 'OTHERSESSION0000'));
    setVisible(false);
    t.live.resume();
    expect(get(t.live.table).version).toBe(10);
    setVisible(true);
    expect(t.last().url).toBe('/api/stream?since=10');
    t.last().open();
    // The replay of what was let go is applied, not taken for a repeat.
    t.last().send(add(11, row(11), 'OTHERSESSION0000'));
    expect(get(t.live.table).version).toBe(11);
  });
});
