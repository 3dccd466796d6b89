import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The file whose lock makes a data directory one process's own. Never deleted. */
export const LOCK_FILE = 'livetable.lock';
/** Who holds the lock, for the message of a process that is refused. Information only. */
export const HOLDER_FILE = 'livetable.pid';

/** What the holder file says about the process that holds a data directory. */
export interface Holder {
  pid: number;
  host: string;
  /** When the process started, ISO 8601 to the second. */
  started: string;
}

/** Another process, or another store of this one, holds the data directory. */
export class DataDirInUse extends Error {
  override name = 'DataDirInUse';

  constructor(
    readonly dataDir: string,
    readonly holder: Holder | undefined,
  ) {
    super(
      `data directory ${dataDir} is in use by ${describeHolder(holder)}; ` +
        'give this server its own with --data-dir, or share one table between servers with --store redis',
    );
  }
}

export interface DataDirLock {
  /** Gives the directory up. Call it after the database is closed; a second call does nothing. */
  release(): void;
}

function describeHolder(holder: Holder | undefined): string {
  if (holder === undefined) return 'another process';
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `process ${holder.pid}${where} (started ${holder.started})`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder file's account, unless it is missing, unreadable or plainly out of date. */
function readHolder(file: string): Holder | undefined {
  let holder: Partial<Holder>;
  try {
    holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
  } catch {
    return undefined;
  }
  const { pid, host, started } = holder;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  if (typeof host !== 'string' || typeof started !== 'string') return undefined;
  // The holder may not have written its own yet: a file left by a process that
  // is gone would name the wrong one.
  if (host === hostname() && !isAlive(pid)) return undefined;
  return { pid, host, started };
}

function writeHolder(file: string): void {
  const started = new Date(Date.now() - process.uptime() * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const holder: Holder = { pid: process.pid, host: hostname(), started };
  // Whole or not at all, for a refused process reading it meanwhile.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(holder)}\n`);
  renameSync(`${file}.tmp`, file);
}

/**
 * Makes `dataDir` (which must exist) this store's alone, or throws
 * DataDirInUse. The lock is the operating system's: SQLite's exclusive lock
 * on LOCK_FILE, which the kernel drops when the process dies however it dies,
 * so a killed holder never keeps a restart out.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const holderFile = join(dataDir, HOLDER_FILE);
  // POSIX drops a process's locks on a file when it closes any descriptor of
  // that file, so LOCK_FILE is never opened here but through this connection.
  const lock = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    // The file holds nothing; the open transaction is the lock, held until close.
    lock.pragma('journal_mode = MEMORY');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lock.close();
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') throw new DataDirInUse(dataDir, readHolder(holderFile));
    throw error;
  }
  try {
    writeHolder(holderFile);
  } catch (error) {
    lock.close();
    throw error;
  }
  return {
    release() {
      if (!lock.open) return;
      // While the lock is still held, so no successor's file is removed.
      try {
        rmSync(holderFile, { force: true });
      } finally {
        lock.close();
      }
    },
  };
}
