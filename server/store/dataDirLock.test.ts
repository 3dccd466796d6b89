import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { DataResponse, StartResponse } from '../../shared/protocol.js';
import { startChildServer, type ServerProcess } from '../../test-support/serverProcess.js';
import { openStream } from '../../test-support/sseClient.js';
import { DataDirInUse, HOLDER_FILE, LOCK_FILE, lockDataDir } from './dataDirLock.js';
import { createSqliteStores, StorageError } from './sqliteStore.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'livetable-lock-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const openStores = (dataDir: string) => createSqliteStores({ dataDir, history: 100, initialRows: () => [] });
const holderIn = (dir: string) => JSON.parse(readFileSync(join(dir, HOLDER_FILE), 'utf8')) as Record<string, unknown>;
/** The id of a process that has exited. */
const goneProcess = () => spawnSync(process.execPath, ['-e', '']).pid;

describe('a data directory in one process', () => {
  it('refuses a second store while the first is open, and opens again once it is closed', async () => {
    const dir = tempDir();
    const first = openStores(dir);
    expect(() => openStores(dir)).toThrow(StorageError);
    expect(() => openStores(dir)).toThrow(`data directory ${dir} is in use by process ${process.pid} (started `);
    await first.table.close();

    for (let i = 0; i < 3; i++) await openStores(dir).table.close();
    const again = openStores(dir);
    expect(again.table.version).toBe(0);
    await again.table.close();
  });

  it('names its holder in the holder file, and removes that file, not the lock file, on release', () => {
    const dir = tempDir();
    const lock = lockDataDir(dir);
    expect(holderIn(dir)).toEqual({ pid: process.pid, host: expect.any(String), started: expect.any(String) });
    expect(Date.parse(holderIn(dir).started as string)).toBeLessThanOrEqual(Date.now());
    lock.release();
    lock.release();
    expect(existsSync(join(dir, HOLDER_FILE))).toBe(false);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
  });

  it('is never kept by a holder file left behind', () => {
    for (const left of ['', 'not json', JSON.stringify({ pid: goneProcess(), host: 'elsewhere', started: 'then' })]) {
      const dir = tempDir();
      writeFileSync(join(dir, HOLDER_FILE), left);
      const lock = lockDataDir(dir);
      expect(holderIn(dir)).toMatchObject({ pid: process.pid });
      lock.release();
    }
  });

  it('says only "another process" when the holder file is missing or names a process that is gone', () => {
    const dir = tempDir();
    const lock = lockDataDir(dir);
    onTestFinished(() => lock.release());
    const { host } = holderIn(dir);
    const refusal = () => {
      try {
        lockDataDir(dir).release();
      } catch (error) {
        expect(error).toBeInstanceOf(DataDirInUse);
        return (error as Error).message;
      }
      return 'not refused';
    };
    rmSync(join(dir, HOLDER_FILE));
    expect(refusal()).toBe(
      `data directory ${dir} is in use by another process; ` +
        'give this server its own with --data-dir, or share one table between servers with --store redis',
    );
    writeFileSync(join(dir, HOLDER_FILE), JSON.stringify({ pid: goneProcess(), host, started: 'x' }));
    expect(refusal()).toMatch(/is in use by another process;/);
    writeFileSync(join(dir, HOLDER_FILE), JSON.stringify({ pid: 4242, host: 'other-host', started: 'then' }));
    expect(refusal()).toMatch(/is in use by process 4242 on other-host \(started then\);/);
  });
});

describe('two livetable processes on one data directory', () => {
  const serverArgs = (dir: string) => [
    ...['--store', 'sqlite', '--data-dir', dir, '--port', '0', '--host', '127.0.0.1'],
    ...['--static-dir', 'no-such-dir', '--update-interval', '20'],
  ];
  const started = async (args: string[]): Promise<ServerProcess> => {
    const server = await startChildServer(args);
    onTestFinished(() => void server.child.kill('SIGKILL'));
    return server;
  };
  /** How a server that should be refused ends: `exited with <code>: <stderr>`. */
  const refusal = (args: string[]) =>
    startChildServer(args).then(
      (server) => {
        server.child.kill('SIGKILL');
        return 'it started';
      },
      (error: Error) => error.message.replace(/^server /, ''),
    );
  const data = async (server: ServerProcess) => (await (await fetch(`${server.url}/api/data`)).json()) as DataResponse;

  it('refuses the second with one line naming the directory, the holder and the two ways out', async () => {
    const dir = tempDir();
    const holder = await started(serverArgs(dir));
    const before = await data(holder);

    const [code, stderr] = (await refusal(serverArgs(dir))).split(/: (.*)/s);
    expect(code).toBe('exited with 1');
    expect(stderr!.split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^livetable: could not start: data directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ` +
            `is in use by process ${holder.child.pid} \\(started \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\); ` +
            'give this server its own with --data-dir, or share one table between servers with --store redis$',
        ),
      ),
      '',
    ]);
    // The holder goes on as before, and alone.
    expect(await data(holder)).toMatchObject({ version: before.version, data: before.data });
    expect(holder.logs.filter((line) => (line.level as number) >= 50)).toEqual([]);
  });

  it('takes over at once from a holder killed with SIGKILL, and keeps its table', async () => {
    const dir = tempDir();
    const holder = await started(serverArgs(dir));
    const { session_id } = (await (await fetch(`${holder.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
    const stream = await openStream(`${holder.url}/api/stream/${session_id}`);
    await stream.waitFor((event) => 'seq' in event && event.seq >= 5);
    await fetch(`${holder.url}/api/stop/${session_id}`, { method: 'POST' });
    stream.close();
    const last = await data(holder);
    holder.child.kill('SIGKILL');
    await holder.exited;

    const next = await started(serverArgs(dir));
    expect(next.logs.find((line) => line.msg === 'listening')).toMatchObject({ version: last.version });
    expect(await data(next)).toMatchObject({ version: last.version, data: last.data });
    expect(holderIn(dir)).toMatchObject({ pid: next.child.pid });
  });
});
