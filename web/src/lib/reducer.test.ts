import { describe, expect, it } from 'vitest';
import type {
  AddEvent,
  BatchUpdateEvent,
  DeleteEvent,
  InitEvent,
  Row,
  RowChange,
  UpdateEvent,
} from '../../../shared/protocol';
import { describeUpdate } from '../../../shared/protocol';
import { logLine } from './i18n';
import {
  FLASH_LIMIT,
  LOG_LIMIT,
  MINE_LIMIT,
  initialState,
  reduce,
  sequenceOf,
  type LiveState,
  type LogEntry,
  type Message,
} from './reducer';

const T0 = '2025-01-01T12:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

/** A log entry as a Chinese page shows it. */
const shown = (entry: LogEntry | undefined) =>
  entry && {
    ...entry,
    text: logLine('zh', entry.text),
  };

const row = (id: number, fields: Partial<Row> = {}): Row => ({
  id,
  name: `用户${id}`,
  age: 20 + id,
  city: '北京',
  score: 80,
  status: '活跃',
  ...fields,
});

const meta = (seq: number) => ({ seq, timestamp: at(seq), generation_count: seq, origin: 's-0123456789ab' });

const init = (data: Row[], version: number, heartbeat = 2000): InitEvent => ({
  type: 'init',
  session_id: 'AAAAAAAAAAAAAAAA',
  origin: 's-0123456789ab',
  data,
  version,
  timestamp: T0,
  heartbeat_interval: heartbeat,
});
const add = (seq: number, data: Row): AddEvent => ({
  type: 'add',
  data,
  message: `添加了新用户: ${data.name}`,
  ...meta(seq),
});
const update = (seq: number, data: RowChange): UpdateEvent => ({
  type: 'update',
  data,
  message: `更新了用户 用户${data.id}`,
  ...meta(seq),
});
const del = (seq: number, data: Row): DeleteEvent => ({
  type: 'delete',
  data,
  message: `删除了用户: ${data.name}`,
  ...meta(seq),
});
const batch = (seq: number, data: RowChange[]): BatchUpdateEvent => ({
  type: 'batch_update',
  data,
  message: `批量更新了 ${data.length} 条记录`,
  ...meta(seq),
});

/** A page running session AAAAAAAAAAAAAAAA, before anything streamed. */
const withSession = () => reduce(initialState(), { type: 'session', id: 'AAAAAAAAAAAAAAAA' });
const fold = (messages: Message[], state: LiveState = withSession()) => messages.reduce(reduce, state);
const ids = (state: LiveState) => state.rows.slice().map((r) => r.id);
/** A state holding rows 1..3 at version 10, as after the first init. */
const synced = () => fold([init([row(1), row(2), row(3)], 10)]);

describe('reduce: init', () => {
  it('replaces the whole table, the version and the heartbeat interval', () => {
    const before = fold([{ type: 'loaded', data: [row(7)], version: 3, timestamp: T0 }]);
    const state = reduce(before, init([row(1), row(2)], 10, 2000));
    expect(ids(state)).toEqual([1, 2]);
    expect(state.version).toBe(10);
    expect(state.synced).toBe(true);
    expect(state.heartbeatInterval).toBe(2000);
    expect(state.connection).toBe('live');
  });

  it('sorts rows into id order and logs how many were synced', () => {
    const state = reduce(initialState(), init([row(3), row(1), row(2)], 5));
    expect(ids(state)).toEqual([1, 2, 3]);
    expect(state.log).toEqual([
      { id: 1, kind: 'info', text: { key: 'log.synced', params: { count: 3, version: 5 } }, at: T0 },
    ]);
  });

  it('drops highlights of the old table and keeps the update count', () => {
    const busy = fold([add(11, row(4)), update(12, row(1, { score: 90 }))], synced());
    const state = reduce(busy, init([row(1)], 40));
    expect(state.flash.size).toBe(0);
    expect(state.updates).toBe(2);
  });

  it('does not mutate the state it was given', () => {
    const before = synced();
    const snapshot = structuredClone(before);
    reduce(before, init([row(9)], 99));
    expect(before).toEqual(snapshot);
  });
});

describe('reduce: changes', () => {
  it('add appends the row, advances the version and logs the message as success', () => {
    const before = synced();
    const state = reduce(before, add(11, row(4, { name: '王芳' })));
    expect(ids(state)).toEqual([1, 2, 3, 4]);
    expect(state.rows).not.toBe(before.rows);
    expect(before.rows).toHaveLength(3);
    expect(state.version).toBe(11);
    expect(state.updates).toBe(1);
    expect(shown(state.log.at(-1))).toMatchObject({ kind: 'success', text: '添加了新用户: 王芳', at: at(11) });
    expect(state.flash.get(4)).toEqual({ kind: 'add', seq: 11 });
  });

  it('update applies the fields it carries to its row and keeps the others as they were', () => {
    const before = synced();
    const state = reduce(before, update(11, { id: 2, score: 95.5, status: '忙碌' }));
    expect(ids(state)).toEqual([1, 2, 3]);
    expect(state.rows.at(1)).toEqual({ ...before.rows.at(1), score: 95.5, status: '忙碌' });
    expect(state.rows.at(0)).toBe(before.rows.at(0));
    expect(before.rows.at(1)?.score).toBe(80);
    expect(state.flash.get(2)).toEqual({ kind: 'update', seq: 11 });
    expect(shown(state.log.at(-1))).toMatchObject({
      kind: 'success',
      text: '更新了用户 用户2 的分数: 80 → 95.5，状态: 活跃 → 忙碌',
    });
  });

  it('delete removes the row and its highlight', () => {
    const before = fold([update(11, row(2, { score: 70 }))], synced());
    const state = reduce(before, del(12, row(2)));
    expect(ids(state)).toEqual([1, 3]);
    expect(state.flash.get(2)).toBeUndefined();
    expect(state.flash.size).toBe(0);
    expect(state.version).toBe(12);
    expect(state.updates).toBe(2);
    expect(shown(state.log.at(-1))).toMatchObject({ kind: 'success', text: '删除了用户: 用户2' });
  });

  it('delete of a row it does not hold changes nothing but the version and count', () => {
    const before = synced();
    const state = reduce(before, del(11, row(42)));
    expect(state.rows).toBe(before.rows);
    expect(state.version).toBe(11);
  });

  it('update of a row it does not hold changes nothing but the version and count', () => {
    const before = synced();
    const state = reduce(before, update(11, { id: 42, score: 1 }));
    expect(state.rows).toBe(before.rows);
    expect(state.version).toBe(11);
  });

  it('batch_update applies every update it carries, highlighting each', () => {
    const before = synced();
    const state = reduce(
      before,
      batch(11, [
        { id: 3, score: 61 },
        { id: 1, score: 99, age: 70 },
      ]),
    );
    expect(state.rows.at(0)).toEqual({ ...before.rows.at(0), score: 99, age: 70 });
    expect(ids(state)).toEqual([1, 2, 3]);
    expect(state.rows.slice().map((r) => r.score)).toEqual([99, 80, 61]);
    expect(state.rows.at(1)).toBe(before.rows.at(1));
    expect(state.flash.ids()).toEqual([1, 3]);
    expect(state.flash.get(1)).toEqual({ kind: 'update', seq: 11 });
    expect(state.flash.get(3)).toEqual({ kind: 'update', seq: 11 });
    expect(state.updates).toBe(1);
    expect(shown(state.log.at(-1))).toMatchObject({ kind: 'success', text: '批量更新了 2 条记录' });
  });

  it('keeps id order when a row arrives out of order', () => {
    const state = fold([add(11, row(10)), add(12, row(5))], synced());
    expect(ids(state)).toEqual([1, 2, 3, 5, 10]);
  });

  it('ignores a duplicate: a change whose seq is not above the version', () => {
    const before = fold([add(11, row(4))], synced());
    expect(reduce(before, add(11, row(4)))).toBe(before);
    expect(reduce(before, update(7, row(1, { score: 1 })))).toBe(before);
    expect(reduce(before, del(10, row(1)))).toBe(before);
  });

  it('ignores a change already contained in the init snapshot', () => {
    const before = synced();
    expect(reduce(before, add(10, row(4)))).toBe(before);
  });

  it('applies a change after a gap but logs an error first', () => {
    const state = reduce(synced(), add(15, row(4)));
    expect(ids(state)).toEqual([1, 2, 3, 4]);
    expect(state.version).toBe(15);
    const [gap, message] = state.log.slice(-2);
    expect(gap).toMatchObject({ kind: 'error', text: { key: 'log.gap', params: { expected: 11, seq: 15 } } });
    expect(shown(message)).toMatchObject({ kind: 'success', text: '添加了新用户: 用户4' });
  });

  it('logs no error for consecutive changes', () => {
    const state = fold([add(11, row(4)), update(12, row(4, { age: 50 })), del(13, row(1))], synced());
    expect(state.log.filter((entry) => entry.kind === 'error')).toEqual([]);
    expect(state.updates).toBe(3);
  });

  it('a change marks the connection live', () => {
    const before = reduce(synced(), { type: 'connection', state: 'reconnecting' });
    expect(reduce(before, add(11, row(4))).connection).toBe('live');
  });
});

describe('reduce: heartbeat and end', () => {
  it('heartbeat keeps the table and marks the connection live', () => {
    const before = reduce(synced(), { type: 'connection', state: 'reconnecting' });
    const state = reduce(before, { type: 'heartbeat', timestamp: at(30) });
    expect(state.rows).toBe(before.rows);
    expect(state.log).toBe(before.log);
    expect(state.connection).toBe('live');
    expect(state.clock).toBe(at(30));
  });

  it('end disconnects, forgets the session and logs the message as info', () => {
    const running = fold(
      [
        { type: 'session', id: 'AAAAAAAAAAAAAAAA' },
        { type: 'heartbeat', timestamp: at(20) },
      ],
      synced(),
    );
    const state = reduce(running, {
      type: 'end',
      session_id: 'AAAAAAAAAAAAAAAA',
      reason: 'stopped',
      message: '数据生成已结束',
      timestamp: at(21),
    });
    expect(state.connection).toBe('disconnected');
    expect(state.sessionId).toBeNull();
    expect(state.ended).toBe(true);
    expect(state.rows).toBe(running.rows);
    expect(shown(state.log.at(-1))).toMatchObject({ kind: 'info', text: '数据生成已结束', at: at(21) });
  });

  it("an end for a reason the page has no words for logs the server's words", () => {
    const end = { type: 'end', session_id: 'AAAAAAAAAAAAAAAA', reason: 'evicted', message: '会话被移除' };
    const state = reduce(synced(), end as unknown as Message);
    expect(state.log.at(-1)).toMatchObject({ kind: 'info', text: '会话被移除' });
  });

  it('a new session clears the ended flag and restarts the update count', () => {
    const ended = fold(
      [
        add(11, row(4)),
        {
          type: 'end',
          session_id: 'AAAAAAAAAAAAAAAA',
          reason: 'timeout',
          message: '会话已超时，数据生成已结束',
          timestamp: T0,
        },
      ],
      synced(),
    );
    const state = reduce(ended, { type: 'session', id: 'BBBBBBBBBBBBBBBB' });
    expect(state).toMatchObject({ sessionId: 'BBBBBBBBBBBBBBBB', ended: false, updates: 0 });
    expect(reduce(ended, { type: 'session', id: 'BBBBBBBBBBBBBBBB', updates: 7 }).updates).toBe(7);
    // Forgetting the ended session keeps what the page shows about it.
    expect(reduce(ended, { type: 'session', id: null })).toBe(ended);
  });
});

describe('reduce: local actions', () => {
  it('loaded shows a snapshot without touching the connection', () => {
    const state = reduce(initialState(), { type: 'loaded', data: [row(2), row(1)], version: 4, timestamp: T0 });
    expect(ids(state)).toEqual([1, 2]);
    expect(state).toMatchObject({ version: 4, synced: true, connection: 'disconnected' });
  });

  it("loaded never rolls a running session's table back behind what the stream gave", () => {
    const before = reduce(synced(), { type: 'session', id: 'AAAAAAAAAAAAAAAA' });
    expect(reduce(before, { type: 'loaded', data: [row(1)], version: 9, timestamp: T0 })).toBe(before);
  });

  it('loaded, when idle, takes even an older snapshot: the server may have restarted', () => {
    const idle = fold([init([row(1), row(2), row(3)], 10)], initialState());
    const state = reduce(idle, { type: 'loaded', data: [row(1)], version: 2, timestamp: T0 });
    expect(ids(state)).toEqual([1]);
    expect(state.version).toBe(2);
  });

  it('loaded takes the heartbeat interval the stream will keep', () => {
    const state = reduce(initialState(), {
      type: 'loaded',
      data: [],
      version: 0,
      timestamp: T0,
      heartbeatInterval: 400,
    });
    expect(state.heartbeatInterval).toBe(400);
  });

  it('with no session, changes move the table but leave the last count on show', () => {
    const ended = fold([init([row(1)], 10), add(11, row(2)), { type: 'session', id: null }]);
    expect(ended.updates).toBe(1);
    const state = fold([add(12, row(3)), update(13, { id: 1, score: 99 })], ended);
    expect(ids(state)).toEqual([1, 2, 3]);
    expect(state.version).toBe(13);
    expect(state.updates).toBe(1);
  });

  it('connection sets the state, and an unchanged one returns the same state', () => {
    const state = reduce(initialState(), { type: 'connection', state: 'connecting' });
    expect(state.connection).toBe('connecting');
    expect(reduce(state, { type: 'connection', state: 'connecting' })).toBe(state);
  });

  it('log appends entries newest last with increasing ids', () => {
    const state = fold([
      { type: 'log', kind: 'info', text: { key: 'log.loaded', params: { count: 3 } }, at: at(1) },
      { type: 'log', kind: 'error', text: 'HTTP 500', at: at(2) },
    ]);
    expect(state.log).toEqual([
      { id: 1, kind: 'info', text: { key: 'log.loaded', params: { count: 3 } }, at: at(1) },
      { id: 2, kind: 'error', text: 'HTTP 500', at: at(2) },
    ]);
  });
});

describe('reduce: pause, busy and stopping', () => {
  it('pause holds changes back with a count; resume applies them in order, as if they had come live', () => {
    const paused = fold([{ type: 'pause', limit: 10 }, add(11, row(4)), update(12, { id: 4, score: 91 })], synced());
    expect(ids(paused)).toEqual([1, 2, 3]);
    expect(paused).toMatchObject({ paused: true, version: 10, held: { count: 2, dropped: 0 } });
    const resumed = reduce(paused, { type: 'resume', at: at(20) });
    const live = fold([add(11, row(4)), update(12, { id: 4, score: 91 })], synced());
    expect(resumed).toMatchObject({ paused: false, version: 12, held: { count: 0 } });
    expect(resumed.rows.get(4)).toEqual(live.rows.get(4));
  });

  it('past the limit lets the held changes go: resume leaves the table as it was and says a reload follows', () => {
    const paused = fold([{ type: 'pause', limit: 2 }, add(11, row(4)), add(12, row(5)), add(13, row(6))], synced());
    expect(paused.held).toMatchObject({ count: 3, dropped: 3 });
    const resumed = reduce(paused, { type: 'resume', at: at(20) });
    expect(ids(resumed)).toEqual([1, 2, 3]);
    expect(resumed).toMatchObject({ paused: false, version: 10, held: { count: 0, dropped: 0 } });
    expect(resumed.log.at(-1)).toMatchObject({ text: { key: 'log.resync', params: { count: 3 } }, at: at(20) });
  });

  it('a snapshot while paused replaces what is held: it was taken after those changes', () => {
    const paused = fold([{ type: 'pause', limit: 10 }, add(11, row(4)), init([row(1), row(4)], 11)], synced());
    expect(paused).toMatchObject({ paused: true, held: { count: 0 } });
    expect(ids(reduce(paused, { type: 'resume', at: at(20) }))).toEqual([1, 4]);
  });

  it('pause twice keeps what the first held; resume when live changes nothing', () => {
    const once = fold([{ type: 'pause', limit: 10 }, add(11, row(4))], synced());
    expect(reduce(once, { type: 'pause', limit: 10 })).toBe(once);
    const live = synced();
    expect(reduce(live, { type: 'resume', at: at(20) })).toBe(live);
  });

  it('busy is set and cleared; stopping lasts until the session is over', () => {
    const busy = reduce(withSession(), { type: 'busy', busy: true });
    expect(busy.busy).toBe(true);
    expect(reduce(busy, { type: 'busy', busy: true })).toBe(busy);
    const stopping = reduce(synced(), { type: 'stopping' });
    expect(stopping.stopping).toBe(true);
    expect(
      reduce(stopping, {
        type: 'end',
        session_id: 'AAAAAAAAAAAAAAAA',
        reason: 'stopped',
        message: '会话已停止',
        timestamp: T0,
      }).stopping,
    ).toBe(false);
    expect(reduce(stopping, { type: 'session', id: null }).stopping).toBe(false);
  });
});

describe('reduce: bounds', () => {
  it(`keeps only the newest ${LOG_LIMIT} log entries`, () => {
    let state = synced();
    for (let seq = 11; seq < 11 + LOG_LIMIT + 50; seq++) state = reduce(state, update(seq, row(1, { score: seq })));
    expect(state.log).toHaveLength(LOG_LIMIT);
    expect(shown(state.log.at(-1))?.text).toBe(
      `更新了用户 用户1 的分数: ${10 + LOG_LIMIT + 49} → ${11 + LOG_LIMIT + 49}`,
    );
    expect(state.log.at(-1)?.at).toBe(at(11 + LOG_LIMIT + 49));
    // The oldest kept entry is the 51st written after the init entry: ids stay unique and ordered.
    const logIds = state.log.map((entry) => entry.id);
    expect(logIds).toEqual([...logIds].sort((a, b) => a - b));
    expect(new Set(logIds).size).toBe(LOG_LIMIT);
    expect(logIds[0]).toBe(state.nextLogId - LOG_LIMIT);
  });

  it(`keeps highlights for at most ${FLASH_LIMIT} rows, the most recent ones`, () => {
    let state = synced();
    const total = FLASH_LIMIT + 30;
    for (let i = 0; i < total; i++) state = reduce(state, add(11 + i, row(100 + i)));
    const flashed = state.flash.ids();
    // The newest FLASH_LIMIT, oldest first.
    expect(flashed).toEqual(Array.from({ length: FLASH_LIMIT }, (_, i) => 100 + total - FLASH_LIMIT + i));
    expect(state.flash.get(100 + total - 1)).toEqual({ kind: 'add', seq: 11 + total - 1 });
  });

  it('trims by recency, not by row id', () => {
    let state = fold([add(11, row(1000))], synced());
    for (let i = 0; i < FLASH_LIMIT - 1; i++) state = reduce(state, add(12 + i, row(1 + 10 * (i + 1))));
    // Row 1000 is the oldest highlight; touching row 5 (a new, low id) must push it out.
    state = reduce(state, add(11 + FLASH_LIMIT, row(5)));
    expect(state.flash.get(1000)).toBeUndefined();
    expect(state.flash.get(5)).toBeDefined();
    expect(state.flash.size).toBe(FLASH_LIMIT);
  });
});

describe('reduce: writes through the API', () => {
  /** A change written through the API: no origin, no session count, and the author when the server names one. */
  const written = <C extends { origin: string | null; generation_count: number }>(change: C, author?: string): C => ({
    ...change,
    origin: null,
    generation_count: 0,
    ...(author === undefined ? {} : { author }),
  });
  const synced = () => reduce(initialState(), init([row(1), row(2)], 10));
  const lastLine = (state: LiveState) => state.log.at(-1);

  it('tells an update what it changed, from what to what, in the server’s own words', () => {
    const before = row(1, { city: '北京', score: 85.5 });
    const state = reduce(
      reduce(initialState(), init([before], 10)),
      written(update(11, { id: 1, city: '上海', score: 90.1 })),
    );
    expect(shown(lastLine(state))?.text).toBe(describeUpdate(before, { city: '上海', score: 90.1 }));
    expect(logLine('en', lastLine(state)?.text ?? '')).toBe(
      'Updated user 用户1: City 北京 → 上海, Score 85.5 → 90.1',
    );
  });

  it('names who wrote it: the author the server names, else the API', () => {
    let state = reduce(synced(), written(add(11, row(3)), 'alice'));
    expect(lastLine(state)).toMatchObject({ seq: 11, by: { author: 'alice' } });
    state = reduce(state, written(del(12, row(3))));
    expect(lastLine(state)).toMatchObject({ seq: 12, by: { api: true } });
    state = reduce(state, add(13, row(4)));
    expect(lastLine(state)?.by).toBeUndefined();
  });

  it('says "you" for this page’s own write, whether its answer or its change comes first', () => {
    // The answer first: the change is told as ours when it comes.
    let state = reduce(synced(), { type: 'wrote', seq: 11 });
    state = reduce(state, written(add(11, row(3)), 'alice'));
    expect(lastLine(state)?.by).toEqual({ you: true });
    expect(state.mine).toEqual([]);
    // The change first: its line learns it when the answer comes.
    state = reduce(state, written(add(12, row(4))));
    expect(lastLine(state)?.by).toEqual({ api: true });
    state = reduce(state, { type: 'wrote', seq: 12 });
    expect(lastLine(state)?.by).toEqual({ you: true });
  });

  it('forgets own writes a snapshot has passed, and keeps at most a bounded number', () => {
    let state = reduce(synced(), { type: 'wrote', seq: 11 });
    state = reduce(state, init([row(1)], 20));
    expect(state.mine).toEqual([]);
    for (let seq = 21; seq < 21 + 2 * MINE_LIMIT; seq++) state = reduce(state, { type: 'wrote', seq });
    expect(state.mine).toHaveLength(MINE_LIMIT);
    expect(state.mine.at(-1)).toBe(20 + 2 * MINE_LIMIT);
  });
});

describe('sequenceOf', () => {
  it('tells a replay, the next change and a gap apart', () => {
    expect(sequenceOf(4, 5)).toBe('replay');
    expect(sequenceOf(5, 5)).toBe('replay');
    expect(sequenceOf(6, 5)).toBe('next');
    expect(sequenceOf(8, 5)).toBe('gap');
    expect(sequenceOf(1, 0)).toBe('next');
  });
});
