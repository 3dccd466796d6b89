import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ChangeEvent, Row } from '../../shared/protocol.js';
import { originOf } from '../sessions/origin.js';
import type { NewRow } from '../table/rows.js';
import { DataDirInUse, lockDataDir, type DataDirLock } from './dataDirLock.js';
import { createLocalStore, newEpoch } from './localStore.js';
import { createEmbeddedSessionStore, REMEMBERED_ENDED, type SessionRecord, type SessionStore } from './sessionStore.js';
import { StorageError } from './storageError.js';
import type { TableLimits, TableStore } from './tableStore.js';

export { StorageError };

export const DATABASE_FILE = 'livetable.db';
const SCHEMA_VERSION = 1;

export interface SqliteStoreOptions {
  dataDir: string;
  history: number;
  /** Rows a new table starts with; ignored when the database already has a table. */
  initialRows: () => readonly NewRow[];
  /** Caps the file at this many pages, as a full disk would (for tests). */
  maxPageCount?: number;
  limits?: TableLimits;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS rows (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER NOT NULL,
    city TEXT NOT NULL, score REAL NOT NULL, status TEXT NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, event TEXT NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
    generated INTEGER NOT NULL DEFAULT 0, ended_at INTEGER, end_reason TEXT,
    address TEXT, owner TEXT) STRICT;
  CREATE INDEX IF NOT EXISTS sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL;
`;

/** Takes the data directory for this process (see dataDirLock.ts), then opens and checks its database. */
function openDatabase(dataDir: string): { db: Database.Database; lock: DataDirLock } {
  let lock: DataDirLock;
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK);
    lock = lockDataDir(dataDir);
  } catch (error) {
    if (error instanceof DataDirInUse) throw new StorageError(error.message);
    throw new StorageError(
      `data directory ${dataDir} is not usable: ${(error as Error).message}; pick another with --data-dir`,
    );
  }
  const file = join(dataDir, DATABASE_FILE);
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // WAL with NORMAL survives the process being killed at any point; only a
    // power loss can take the last commits (see docs/reliability.md).
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 2000');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    db.exec(SCHEMA);
    addMissingColumns(db);
    const schema = db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).pluck().get() as number | undefined;
    if (schema !== undefined && schema !== SCHEMA_VERSION) {
      throw new Error(`schema version ${schema} is not ${SCHEMA_VERSION}`);
    }
    return { db, lock };
  } catch (error) {
    db?.close();
    lock.release();
    throw new StorageError(`cannot use ${file}: ${(error as Error).message}`);
  }
}

/** Columns added since the first schema; a file written before them gets them empty. */
function addMissingColumns(db: Database.Database): void {
  const columns = new Set((db.pragma('table_info(sessions)') as { name: string }[]).map((column) => column.name));
  for (const name of ['address', 'owner']) {
    if (!columns.has(name)) db.exec(`ALTER TABLE sessions ADD COLUMN ${name} TEXT`);
  }
}

/**
 * A change as the `changes` table holds it. Files written before changes
 * carried an `origin` hold the session's id instead: it is swapped for its
 * origin here, so a restarted server never replays an id to the streams.
 */
function storedChange(text: string): ChangeEvent {
  const { session_id: sessionId, ...change } = JSON.parse(text) as ChangeEvent & { session_id?: unknown };
  if (typeof sessionId === 'string' && change.origin === undefined) change.origin = originOf(sessionId);
  return change;
}

/**
 * The table, its history and the sessions in one SQLite file (WAL mode).
 * Every change is committed to the file before it is applied and sent.
 */
export function createSqliteStores({ dataDir, history, initialRows, limits, maxPageCount }: SqliteStoreOptions): {
  table: TableStore;
  sessions: SessionStore;
} {
  const { db, lock } = openDatabase(dataDir);
  if (maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(maxPageCount)}`);
  const getMeta = db.prepare<[string], number>(`SELECT value FROM meta WHERE key = ?`).pluck();
  const setMeta = db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  const upsertRow = db.prepare(`INSERT INTO rows (id, name, age, city, score, status)
    VALUES (@id, @name, @age, @city, @score, @status)
    ON CONFLICT (id) DO UPDATE SET name = @name, age = @age, city = @city, score = @score, status = @status`);
  const deleteRow = db.prepare(`DELETE FROM rows WHERE id = ?`);
  const insertChange = db.prepare(`INSERT INTO changes (seq, event) VALUES (?, ?)`);
  const trimChanges = db.prepare(`DELETE FROM changes WHERE seq <= ?`);
  const countGenerated = db.prepare(`UPDATE sessions SET generated = ? WHERE id = ?`);

  const seed = db.transaction((rows: readonly NewRow[]) => {
    rows.forEach((row, i) => upsertRow.run({ id: i + 1, ...row }));
    setMeta.run('schema', SCHEMA_VERSION);
    setMeta.run('version', 0);
    setMeta.run('next_id', rows.length + 1);
  });
  if (getMeta.get('schema') === undefined) seed(initialRows());
  // Files written before tables had epochs get one now, and keep it.
  if (getMeta.get('epoch') === undefined) setMeta.run('epoch', Number.parseInt(newEpoch(), 36));

  const version = getMeta.get('version') ?? 0;
  const state = {
    epoch: (getMeta.get('epoch') as number).toString(36).padStart(6, '0'),
    rows: db.prepare(`SELECT id, name, age, city, score, status FROM rows ORDER BY id`).all() as Row[],
    nextId: getMeta.get('next_id') ?? 1,
    version,
    history: (
      db
        .prepare(`SELECT event FROM changes WHERE seq > ? ORDER BY seq`)
        .pluck()
        .all(version - history) as string[]
    ).map(storedChange),
  };

  const persist = db.transaction((change: ChangeEvent, written: readonly Row[], sessionId: string | null) => {
    if (change.type === 'delete') deleteRow.run(change.data.id);
    for (const row of written) upsertRow.run(row);
    if (change.type === 'add') setMeta.run('next_id', change.data.id + 1);
    insertChange.run(change.seq, JSON.stringify(change));
    setMeta.run('version', change.seq);
    if (sessionId !== null) countGenerated.run(change.generation_count, sessionId);
    // Trimming every 64 changes keeps history between `history` and `history + 64`.
    if (change.seq % 64 === 0) trimChanges.run(change.seq - history);
  });

  const table = createLocalStore({
    historyLimit: history,
    state,
    limits,
    persist: (change, written, sessionId) => persist(change, written, sessionId),
    close: () => {
      db.close();
      lock.release();
    },
  });

  const addSession = db.prepare(`INSERT INTO sessions (id, started_at, deadline, generated, address, owner)
    VALUES (@id, @startedAt, @deadline, @generated, @address, @owner)`);
  const endSession = db.prepare(`UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`);
  const forgetEnded = db.prepare(`DELETE FROM sessions WHERE id IN (
    SELECT id FROM sessions WHERE ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT -1 OFFSET ?)`);
  const isEnded = db.prepare(`SELECT 1 FROM sessions WHERE id = ? AND ended_at IS NOT NULL`).pluck();
  const activeSessions = db.prepare(`SELECT id, started_at AS startedAt, deadline, generated, address, owner
    FROM sessions WHERE ended_at IS NULL ORDER BY started_at`);

  const sessions = createEmbeddedSessionStore({
    add: (session) => void addSession.run({ address: null, owner: null, ...session }),
    end: db.transaction((id: string, reason: string) => {
      const ended = endSession.run(Date.now(), reason, id).changes > 0;
      forgetEnded.run(REMEMBERED_ENDED);
      return ended;
    }),
    wasEnded: (id) => isEnded.get(id) !== undefined,
    running: () => activeSessions.all() as SessionRecord[],
  });

  return { table, sessions };
}
