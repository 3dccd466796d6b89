import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../shared/protocol.js';
import { originOf } from '../server/sessions/origin.js';
import type { NewRow } from '../server/table/rows.js';
import type { SessionStore } from '../server/store/sessionStore.js';
import { CommitRefused, type ChangeMeta, type TableLimits, type TableStore } from '../server/store/tableStore.js';

const person = (name: string, score = 80): NewRow => ({ name, age: 30, city: '北京', score, status: '活跃' });
const SESSION = 'AAAAAAAAAAAAAAAA';
const meta: ChangeMeta = { session_id: SESSION, generation_count: 1, timestamp: '2026-01-01T00:00:00.000Z' };
/** A write through the API: no session; its author when the server checks tokens. */
const written = (author?: string): ChangeMeta => ({
  session_id: null,
  generation_count: 0,
  timestamp: '2026-01-01T00:00:00.000Z',
  ...(author === undefined ? {} : { author }),
});

/** A table and its sessions, new for each test. */
export type MakeStores = (options: {
  history: number;
  initialRows?: NewRow[];
  limits?: TableLimits;
}) => Promise<{ table: TableStore; sessions: SessionStore }>;

/** The behaviour every TableStore must have, whatever keeps its data. */
export function tableStoreSuite(name: string, makeStores: MakeStores): void {
  /** A table with `meta`'s session running, as the generator commits for one. */
  const makeStore = async (options: Parameters<MakeStores>[0]) => {
    const { table, sessions } = await makeStores(options);
    const session = { id: SESSION, startedAt: Date.now(), deadline: Date.now() + 3_600_000, generated: 0 };
    await sessions.start(session, { maxSessions: 10, maxPerAddress: 10 });
    expect(await sessions.lease(session.id, 60_000)).toBe(true);
    return table;
  };
  describe(`${name}: the TableStore contract`, () => {
    it('starts with its initial rows at version 0, ids from 1', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('张三'), person('李四')] });
      expect(store.version).toBe(0);
      expect(store.size).toBe(2);
      expect(store.rows().map((r) => [r.id, r.name])).toEqual([
        [1, '张三'],
        [2, '李四'],
      ]);
    });

    it('gives every change the next seq and describes it in the original words', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('张三')] });
      const add = await store.commit({ type: 'add', row: person('李四') }, meta);
      const update = await store.commit({ type: 'update', id: 1, patch: { score: 99.5 } }, meta);
      const del = await store.commit({ type: 'delete', id: 2 }, meta);
      expect([add.seq, update.seq, del.seq]).toEqual([1, 2, 3]);
      expect(store.version).toBe(3);
      expect(add).toMatchObject({ type: 'add', data: { id: 2, name: '李四' }, message: '添加了新用户: 李四' });
      // An update carries the row's id and only what changed.
      // A session's update keeps the original words (a write through the API says what changed).
      expect(update).toMatchObject({ type: 'update', message: '更新了用户 张三' });
      expect(update.data).toEqual({ id: 1, score: 99.5 });
      expect(del).toMatchObject({ type: 'delete', data: { id: 2, name: '李四' }, message: '删除了用户: 李四' });
      expect(store.rows()).toEqual([{ ...person('张三', 99.5), id: 1 }]);
    });

    it("names a change's session only by its origin, never by its id", async () => {
      const store = await makeStore({ history: 100, initialRows: [person('a'), person('b')] });
      const changes = [
        await store.commit({ type: 'add', row: person('c') }, meta),
        await store.commit({ type: 'update', id: 1, patch: { score: 61 } }, meta),
        await store.commit({ type: 'batch_update', updates: [{ id: 2, patch: { score: 62 } }] }, meta),
        await store.commit({ type: 'delete', id: 3 }, meta),
      ];
      for (const change of [...changes, ...(store.since(0) ?? [])]) {
        expect(change).not.toHaveProperty('session_id');
        expect(change).toMatchObject({ origin: originOf(SESSION), generation_count: 1 });
        expect(JSON.stringify(change)).not.toContain(SESSION);
      }
    });

    it('commits writes with no session: origin null, the author named, an update saying what changed', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('张三', 85.5)] });
      const add = await store.commit({ type: 'add', row: person('王五') }, written());
      expect(add).toMatchObject({ origin: null, generation_count: 0, message: '添加了新用户: 王五' });
      expect(add).not.toHaveProperty('author');
      const update = await store.commit(
        { type: 'update', id: 1, patch: { score: 90.1, city: '上海' } },
        written('alice'),
      );
      expect(update).toMatchObject({
        origin: null,
        author: 'alice',
        message: 'alice 更新了用户 张三 的城市: 北京 → 上海，分数: 85.5 → 90.1',
      });
      expect(update.data).toEqual({ id: 1, score: 90.1, city: '上海' });
      const del = await store.commit({ type: 'delete', id: 2 }, written('bob'));
      expect(del).toMatchObject({ author: 'bob', message: 'bob 删除了用户: 王五' });
      expect(store.since(0)?.map((change) => change.origin)).toEqual([null, null, null]);
    });

    it("keeps each row's version, the seq of its last change, and commits an ifVersion only while it holds", async () => {
      const store = await makeStore({ history: 100, initialRows: [person('张三'), person('李四')] });
      expect(store.rowVersion(1)).toBe(0);
      const first = await store.commit({ type: 'update', id: 1, patch: { age: 31 } }, written());
      expect(store.rowVersion(1)).toBe(first.seq);
      expect(store.rowVersion(2)).toBe(0);
      await expect(
        store.commit({ type: 'update', id: 1, patch: { age: 32 }, ifVersion: 0 }, written()),
      ).rejects.toEqual(new CommitRefused('row_changed'));
      await expect(store.commit({ type: 'delete', id: 1, ifVersion: first.seq - 1 }, written())).rejects.toEqual(
        new CommitRefused('row_changed'),
      );
      expect(store.version).toBe(first.seq);
      expect(store.get(1)?.age).toBe(31);
      const second = await store.commit({ type: 'update', id: 1, patch: { age: 32 }, ifVersion: first.seq }, written());
      expect(store.rowVersion(1)).toBe(second.seq);
      await store.commit({ type: 'delete', id: 2, ifVersion: 0 }, written());
      expect(store.rowVersion(2)).toBeUndefined();
      await expect(store.commit({ type: 'delete', id: 2, ifVersion: 0 }, written())).rejects.toEqual(
        new CommitRefused('row_not_found'),
      );
    });

    it('never reuses a row id', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('a'), person('b')] });
      await store.commit({ type: 'delete', id: 2 }, meta);
      const added = await store.commit({ type: 'add', row: person('c') }, meta);
      expect(added.type === 'add' && added.data.id).toBe(3);
    });

    it('applies a batch update as one change', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('a'), person('b'), person('c')] });
      const change = await store.commit(
        {
          type: 'batch_update',
          updates: [
            { id: 1, patch: { score: 61 } },
            { id: 3, patch: { status: '忙碌' } },
          ],
        },
        meta,
      );
      expect(change).toMatchObject({ type: 'batch_update', seq: 1, message: '批量更新了 2 条记录' });
      expect(change.data).toEqual([
        { id: 1, score: 61 },
        { id: 3, status: '忙碌' },
      ]);
      expect(store.rows().map((r) => [r.score, r.status])).toEqual([
        [61, '活跃'],
        [80, '活跃'],
        [80, '忙碌'],
      ]);
    });

    it('refuses a change to a missing row and changes nothing', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('a')] });
      const refusal = (commit: Promise<unknown>) =>
        commit.then(
          () => 'committed',
          (error: unknown) => (error instanceof CommitRefused ? error.reason : error),
        );
      expect(await refusal(store.commit({ type: 'update', id: 9, patch: { score: 70 } }, meta))).toBe('row_not_found');
      expect(await refusal(store.commit({ type: 'delete', id: 9 }, meta))).toBe('row_not_found');
      const batch = {
        type: 'batch_update' as const,
        updates: [
          { id: 1, patch: { score: 70 } },
          { id: 9, patch: { score: 70 } },
        ],
      };
      expect(await refusal(store.commit(batch, meta))).toBe('row_not_found');
      expect(store.version).toBe(0);
      expect(store.rows()[0]?.score).toBe(80);
    });

    it('refuses to take the table past its limits, and changes nothing', async () => {
      const store = await makeStore({
        history: 100,
        initialRows: [person('a'), person('b')],
        limits: { minRecords: 2, maxRecords: 2 },
      });
      await expect(store.commit({ type: 'add', row: person('c') }, meta)).rejects.toMatchObject({
        reason: 'too_many_rows',
      });
      await expect(store.commit({ type: 'delete', id: 1 }, meta)).rejects.toMatchObject({ reason: 'too_few_rows' });
      expect(store.version).toBe(0);
      expect(store.size).toBe(2);
    });

    it('gives random access to every row by position', async () => {
      const store = await makeStore({ history: 100, initialRows: ['a', 'b', 'c', 'd'].map((n) => person(n)) });
      await store.commit({ type: 'delete', id: 2 }, meta);
      const seen = Array.from({ length: store.size }, (_, i) => store.rowAt(i).id).sort();
      expect(seen).toEqual([1, 3, 4]);
      expect(() => store.rowAt(3)).toThrow(RangeError);
    });

    it('replays exactly the changes after a seq', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('a')] });
      for (let i = 0; i < 10; i++) await store.commit({ type: 'update', id: 1, patch: { score: 60 + i } }, meta);
      expect(store.since(10)).toEqual([]);
      expect(store.since(7)?.map((c) => c.seq)).toEqual([8, 9, 10]);
      expect(store.since(0)?.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('cannot replay from before its history or after its version', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('a')] });
      for (let i = 0; i < 250; i++)
        await store.commit({ type: 'update', id: 1, patch: { score: 60 + (i % 40) } }, meta);
      expect(store.since(150)?.map((c) => c.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 151 + i));
      expect(store.since(149)).toBeUndefined();
      expect(store.since(251)).toBeUndefined();
      expect(store.since(-1)).toBeUndefined();
    });

    it('emits every change on changes$ in seq order', async () => {
      const store = await makeStore({ history: 100, initialRows: [person('a')] });
      const received = firstValueFrom(store.changes$.pipe(take(3), toArray()));
      await store.commit({ type: 'add', row: person('b') }, meta);
      await store.commit({ type: 'update', id: 2, patch: { age: 31 } }, meta);
      await store.commit({ type: 'delete', id: 1 }, meta);
      expect((await received).map((c: ChangeEvent) => c.seq)).toEqual([1, 2, 3]);
    });
  });
}
