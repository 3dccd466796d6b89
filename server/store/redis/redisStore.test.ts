import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../../../test-support/redisServer.js';
import type { NewRow } from '../../table/rows.js';
import type { ChangeEvent } from '../../../shared/protocol.js';
import { tableStoreSuite } from '../../../test-support/tableStoreSuite.js';
import type { TableLimits } from '../tableStore.js';
import { openRedisStores } from './redisStores.js';

let redis: RedisServer;
let tables = 0;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  await redis?.stop();
});

const person = (name: string, score = 80): NewRow => ({ name, age: 30, city: '北京', score, status: '活跃' });
const NO_LIMITS: TableLimits = { minRecords: 0, maxRecords: 1_000_000 };

/** A node on the table under `prefix` (a new table for each new prefix). */
async function node(
  prefix: string,
  {
    history = 100,
    initialRows = [] as NewRow[],
    limits = NO_LIMITS,
    seqFloor = (): number => 0,
  }: { history?: number; initialRows?: NewRow[]; limits?: TableLimits; seqFloor?: () => number } = {},
) {
  const stores = await openRedisStores({
    url: redis.url,
    prefix,
    history,
    limits,
    initialRows: () => initialRows,
    logger: pino({ level: 'silent' }),
    now: () => Date.now(),
    seqFloor,
  });
  open.push(stores.table);
  return stores;
}

tableStoreSuite('redis store', (options) => node(`t${++tables}:`, options));

describe('two nodes on one Redis', () => {
  const meta = { session_id: null, generation_count: 1, timestamp: '2026-01-01T00:00:00.000Z' };

  it('commit concurrently without a gap, and both see the same changes in the same order', async () => {
    const prefix = `pair${++tables}:`;
    const a = await node(prefix, { initialRows: [person('a'), person('b'), person('c')] });
    const b = await node(prefix);
    expect(b.table.rows()).toEqual(a.table.rows());
    const seen = { a: [] as ChangeEvent[], b: [] as ChangeEvent[] };
    a.table.changes$.subscribe((change) => seen.a.push(change));
    b.table.changes$.subscribe((change) => seen.b.push(change));

    // Each node adds rows and updates row 1 as fast as it can; updates of a
    // row the other node just changed are refused and tried again.
    const writer = async (store: typeof a.table, label: string) => {
      for (let i = 0; i < 100; i++) {
        const mutation =
          i % 2 === 0
            ? { type: 'add' as const, row: person(`${label}${i}`) }
            : { type: 'update' as const, id: 1, patch: { score: 60 + (i % 40) } };
        for (;;) {
          try {
            await store.commit(mutation, meta);
            break;
          } catch (error) {
            expect(error).toMatchObject({ reason: 'row_changed' });
          }
        }
      }
    };
    await Promise.all([writer(a.table, 'a'), writer(b.table, 'b')]);
    await a.table.reach(200, 5000);
    await b.table.reach(200, 5000);

    const seqs = seen.a.map((change) => change.seq);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(seen.b).toEqual(seen.a);
    expect(b.table.rows()).toEqual(a.table.rows());
    const ids = a.table.rows().map((row) => row.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(a.table.size).toBe(103);
  });

  it('a node that joins later loads the table and history as the first node has them', async () => {
    const prefix = `late${++tables}:`;
    const a = await node(prefix, { initialRows: [person('a')] });
    for (let i = 0; i < 10; i++) await a.table.commit({ type: 'update', id: 1, patch: { score: 61 + i } }, meta);
    const b = await node(prefix, { initialRows: [person('ignored')] });
    expect(b.table.version).toBe(10);
    expect(b.table.rows()).toEqual(a.table.rows());
    expect(b.table.since(5)).toEqual(a.table.since(5));
    expect(b.table.epoch).toBe(a.table.epoch);
  });
});

describe('a Redis that loses its data', () => {
  const meta = { session_id: null, generation_count: 1, timestamp: '2026-01-01T00:00:00.000Z' };

  it('gets the table as a node had it, under seqs above every old one, so no old cursor replays', async () => {
    const prefix = `lost${++tables}:`;
    // The default floor: microseconds since 1970, past 10^15 (and past what Lua writes as plain digits).
    const a = await node(prefix, { initialRows: [person('a'), person('b')], seqFloor: () => Date.now() * 1000 });
    for (let i = 0; i < 5; i++) await a.table.commit({ type: 'update', id: 1, patch: { score: 61 + i } }, meta);
    const before = { version: a.table.version, epoch: a.table.epoch, rows: a.table.rows() };
    let resets = 0;
    a.table.resets$.subscribe(() => resets++);

    // As a restart without persistence would leave it: every key gone.
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    const keys = await admin.keys(`${prefix}*`);
    await admin.del(...keys);
    await admin.quit();

    await expect.poll(() => resets, { timeout: 5000 }).toBe(1);
    expect(a.table.epoch).not.toBe(before.epoch);
    expect(a.table.version).toBeGreaterThan(before.version);
    expect(a.table.version).toBeGreaterThan(10 ** 15);
    expect(a.table.rows()).toEqual(before.rows);
    // Every cursor from before is older than the new table's history: a fresh init.
    for (let back = 0; back <= 5; back++) expect(a.table.since(before.version - back)).toBeUndefined();
    expect(a.table.since(0)).toBeUndefined();
    const next = await a.table.commit({ type: 'update', id: 2, patch: { score: 99 } }, meta);
    const added = await a.table.commit({ type: 'add', row: person('c') }, meta);
    expect([next.seq + 1, added.seq]).toEqual([added.seq, a.table.version]);
    expect(added.type === 'add' && added.data.id).toBe(3);
    expect(a.table.since(next.seq - 1)).toEqual([next, added]);
  });
});

describe('session ends on Redis', () => {
  it('reach every node, also the first end in a table with no change yet', async () => {
    const prefix = `ends${++tables}:`;
    const a = await node(prefix, { initialRows: [person('a')], seqFloor: () => Date.now() * 1000 });
    const b = await node(prefix);
    const seen: string[] = [];
    b.sessions.ends$.subscribe(({ id, reason }) => seen.push(`${id}:${reason}`));
    const session = { id: 'EndsFirst0000000', startedAt: Date.now(), deadline: Date.now() + 60_000, generated: 0 };
    await a.sessions.start(session, { maxSessions: 10, maxPerAddress: 10 });
    expect(await b.sessions.end(session.id, 'stopped')).toBe('stopped');
    await expect.poll(() => seen, { timeout: 5000 }).toEqual([`${session.id}:stopped`]);
  });
});
