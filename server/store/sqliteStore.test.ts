import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { originOf } from '../sessions/origin.js';
import type { NewRow } from '../table/rows.js';
import { createSqliteStores, DATABASE_FILE, StorageError } from './sqliteStore.js';
import { tableStoreSuite } from '../../test-support/tableStoreSuite.js';
import type { TableLimits } from './tableStore.js';

const open: { table: { close(): Promise<void> } }[] = [];
afterEach(async () => {
  for (const stores of open.splice(0)) await stores.table.close();
});

const tempDir = () => mkdtempSync(join(tmpdir(), 'livetable-sqlite-'));
const person = (name: string): NewRow => ({ name, age: 30, city: '上海', score: 75.5, status: '离线' });
const meta = (session_id = 'AAAAAAAAAAAAAAAA', generation_count = 1) => ({
  session_id,
  generation_count,
  timestamp: '2026-01-01T00:00:00.000Z',
});

function openStores(dataDir: string, history = 100, initialRows: NewRow[] = [], limits?: TableLimits) {
  const stores = createSqliteStores({ dataDir, history, initialRows: () => initialRows, limits });
  open.push(stores);
  return stores;
}

tableStoreSuite('sqlite store', ({ history, initialRows = [], limits }) =>
  Promise.resolve(openStores(tempDir(), history, initialRows, limits)),
);

describe('sqlite store', () => {
  it('keeps the table, seq, next id and history across a reopen', async () => {
    const dir = tempDir();
    const first = openStores(dir, 100, [person('a'), person('b')]);
    await first.table.commit({ type: 'add', row: person('c') }, meta());
    await first.table.commit({ type: 'update', id: 1, patch: { score: 99.9 } }, meta());
    await first.table.commit({ type: 'delete', id: 3 }, meta());
    const rows = first.table.rows();
    await first.table.close();
    open.length = 0;

    const second = openStores(dir, 100, [person('ignored')]);
    expect(second.table.version).toBe(3);
    expect(second.table.rows()).toEqual(rows);
    expect(second.table.since(1)?.map((c) => c.seq)).toEqual([2, 3]);
    const added = await second.table.commit({ type: 'add', row: person('d') }, meta());
    expect(added.seq).toBe(4);
    expect(added.type === 'add' && added.data.id).toBe(4); // id 3 is never reused
  });

  it('keeps only the configured history, and reloads exactly that', async () => {
    const dir = tempDir();
    const first = openStores(dir, 100, [person('a')]);
    for (let i = 0; i < 300; i++)
      await first.table.commit({ type: 'update', id: 1, patch: { score: 60 + (i % 40) } }, meta());
    await first.table.close();
    open.length = 0;
    const second = openStores(dir, 100);
    expect(second.table.since(200)?.length).toBe(100);
    expect(second.table.since(199)).toBeUndefined();
  });

  it('keeps sessions, their deadlines and change counts, and remembers ended ones', async () => {
    const dir = tempDir();
    const first = openStores(dir, 100, [person('a')]);
    const limits = { maxSessions: 10, maxPerAddress: 10 };
    await first.sessions.start(
      {
        id: 'S1aaaaaaaaaaaaaa',
        startedAt: 1000,
        deadline: 301_000,
        generated: 0,
        address: '127.0.0.9',
        owner: 'alice',
      },
      limits,
    );
    await first.sessions.start({ id: 'S2aaaaaaaaaaaaaa', startedAt: 2000, deadline: 302_000, generated: 0 }, limits);
    await first.table.commit({ type: 'update', id: 1, patch: { score: 61 } }, meta('S1aaaaaaaaaaaaaa', 1));
    await first.table.commit({ type: 'update', id: 1, patch: { score: 62 } }, meta('S1aaaaaaaaaaaaaa', 2));
    expect(await first.sessions.end('S2aaaaaaaaaaaaaa', 'stopped')).toBe('stopped');
    await first.table.close();
    open.length = 0;

    const second = openStores(dir);
    expect(await second.sessions.active()).toEqual([
      {
        id: 'S1aaaaaaaaaaaaaa',
        startedAt: 1000,
        deadline: 301_000,
        generated: 2,
        address: '127.0.0.9',
        owner: 'alice',
      },
    ]);
    expect(await second.sessions.find('S2aaaaaaaaaaaaaa')).toBe('ended');
    expect(await second.sessions.find('S1aaaaaaaaaaaaaa')).toMatchObject({ owner: 'alice' });
    expect(await second.sessions.end('S2aaaaaaaaaaaaaa', 'stopped')).toBe('already_ended');
  });

  it('opens a file written before sessions kept their address and owner, and keeps both from then on', async () => {
    const dir = tempDir();
    await openStores(dir, 100, [person('a')]).table.close();
    open.length = 0;
    const db = new Database(join(dir, DATABASE_FILE));
    db.exec(`ALTER TABLE sessions DROP COLUMN owner; ALTER TABLE sessions DROP COLUMN address`);
    db.prepare(`INSERT INTO sessions (id, started_at, deadline) VALUES ('S1aaaaaaaaaaaaaa', 1000, 301000)`).run();
    db.close();

    const second = openStores(dir);
    await second.sessions.start(
      { id: 'S2aaaaaaaaaaaaaa', startedAt: 2000, deadline: 302_000, generated: 0, owner: 'bob' },
      { maxSessions: 10, maxPerAddress: 10 },
    );
    expect(await second.sessions.active()).toEqual([
      { id: 'S1aaaaaaaaaaaaaa', startedAt: 1000, deadline: 301_000, generated: 0, address: null, owner: null },
      { id: 'S2aaaaaaaaaaaaaa', startedAt: 2000, deadline: 302_000, generated: 0, address: null, owner: 'bob' },
    ]);
  });

  it('never replays a session id from history written when changes carried one', async () => {
    const dir = tempDir();
    const first = openStores(dir, 100, [person('a')]);
    await first.table.commit({ type: 'add', row: person('b') }, meta('S1aaaaaaaaaaaaaa', 1));
    await first.table.commit({ type: 'update', id: 1, patch: { score: 61 } }, meta('S1aaaaaaaaaaaaaa', 2));
    await first.table.commit({ type: 'delete', id: 2 }, meta('S2aaaaaaaaaaaaaa', 1));
    await first.table.close();
    open.length = 0;
    // The file as an older server left it: each change names its session by id.
    const db = new Database(join(dir, DATABASE_FILE));
    const old = db.prepare<[], { seq: number; event: string }>(`SELECT seq, event FROM changes ORDER BY seq`).all();
    const ids = ['S1aaaaaaaaaaaaaa', 'S1aaaaaaaaaaaaaa', 'S2aaaaaaaaaaaaaa'];
    for (const [i, { seq, event }] of old.entries()) {
      const { origin: _origin, ...rest } = JSON.parse(event) as Record<string, unknown>;
      db.prepare(`UPDATE changes SET event = ? WHERE seq = ?`).run(
        JSON.stringify({ ...rest, session_id: ids[i] }),
        seq,
      );
    }
    expect(db.prepare(`SELECT event FROM changes`).pluck().all().join('\n')).toContain(
      '"session_id":"S1aaaaaaaaaaaaaa"',
    );
    db.close();

    const second = openStores(dir);
    const replayed = second.table.since(0) ?? [];
    expect(replayed.map((c) => c.seq)).toEqual([1, 2, 3]);
    for (const change of replayed) expect(change).not.toHaveProperty('session_id');
    expect(replayed.map((c) => c.origin)).toEqual(ids.map(originOf));
    expect(JSON.stringify(replayed)).not.toMatch(/S1aaaaaaaaaaaaaa|S2aaaaaaaaaaaaaa/);
  });

  it('refuses a file that is not a database, and leaves it as it was', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, DATABASE_FILE), 'this is not a database, but somebody may need it');
    expect(() => openStores(dir)).toThrow(StorageError);
    expect(() => openStores(dir)).toThrow(/livetable\.db/);
  });

  it('refuses a data directory it cannot write', async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere; a path under a regular file cannot be created by anyone.
      const file = join(tempDir(), 'plain-file');
      writeFileSync(file, '');
      expect(() => openStores(join(file, 'data'))).toThrow(/data directory .* is not usable/);
      return;
    }
    const dir = tempDir();
    chmodSync(dir, 0o500);
    expect(() => openStores(join(dir, 'data'))).toThrow(StorageError);
  });
});

describe('sqlite store on a full disk', () => {
  it('refuses the change, changes nothing in memory or on disk, and works again once there is room', async () => {
    const dir = tempDir();
    const { table } = createSqliteStores({
      dataDir: dir,
      history: 100_000,
      initialRows: () => [person('a')],
      maxPageCount: 12,
    });
    let failure: unknown;
    let before = { version: table.version, rows: table.rows() };
    for (let i = 0; i < 10_000 && failure === undefined; i++) {
      before = { version: table.version, rows: table.rows() };
      try {
        await table.commit({ type: 'add', row: person(`p${i}`) }, meta());
      } catch (error) {
        failure = error;
      }
    }
    expect(String(failure)).toMatch(/full/i);
    expect({ version: table.version, rows: table.rows() }).toEqual(before);
    await table.close();

    const reopened = openStores(dir, 100_000);
    expect(reopened.table.version).toBe(before.version);
    expect(reopened.table.rows()).toEqual(before.rows);
    expect((await reopened.table.commit({ type: 'add', row: person('after') }, meta())).seq).toBe(before.version + 1);
  });
});
