import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { StartResponse } from '../shared/protocol.js';
import { openStream } from '../test-support/sseClient.js';

/** Runs the real entry point, as `npm start` would, but from source. */
function livetable(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ text: line });
    }
    waiters.forEach((wake) => wake());
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logLine = (match: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such log line; got ${JSON.stringify(lines)}`)), timeoutMs);
      const check = () => {
        const hit = lines.find(match);
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        }
      };
      waiters.push(check);
      check();
    });
  return { child, exited, lines, logLine, stderr: () => stderr };
}

describe('the livetable command', () => {
  it('refuses a bad option at start-up with a clear message and exit code 2', async () => {
    const run = livetable(['--port', 'abc']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('livetable: --port must be a whole number from 0 to 65535 (got "abc")');
  });

  it('refuses a bad environment variable the same way', async () => {
    const run = livetable([], { LIVETABLE_WEIGHTS: '1,2' });
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('LIVETABLE_WEIGHTS takes three or four');
  });

  it('says what was wrong with an option in one line', async () => {
    const run = livetable(['--no-such-option']);
    expect(await run.exited).toBe(2);
    expect(run.stderr().trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^livetable: .*--no-such-option.*; see --help$/),
    ]);
  });

  it('prints --version and exits 0', async () => {
    const { readFileSync } = await import('node:fs');
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const run = livetable(['--version']);
    expect(await run.exited).toBe(0);
    expect(run.lines.map((l) => l.text)).toEqual([`livetable ${version}`]);
  });

  it('a port in use is one line naming the port and the option, no stack trace, exit code 1', async () => {
    const { createServer } = await import('node:net');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void holder.close());
    const { port } = holder.address() as { port: number };
    const run = livetable(['--port', String(port), '--store', 'memory']);
    expect(await run.exited).toBe(1);
    expect(run.stderr().trimEnd().split('\n')).toEqual([
      `livetable: could not start: port ${port} on 127.0.0.1 is in use; stop what holds it, or pick another with --port`,
    ]);
    // The log says it too, for machines, without a stack trace.
    expect(JSON.stringify(run.lines)).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
    expect(run.lines.at(-1)).toMatchObject({ msg: 'could not start', code: 'EADDRINUSE' });
  });

  it('a port in use with a table already kept says only why it stopped', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createServer } = await import('node:net');
    const dir = mkdtempSync(join(tmpdir(), 'livetable-busy-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const first = livetable(['--port', '0', '--data-dir', dir]);
    await first.logLine((l) => l.msg === 'listening');
    first.child.kill('SIGTERM');
    await first.exited;
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void holder.close());
    const { port } = holder.address() as { port: number };
    const run = livetable(['--port', String(port), '--data-dir', dir, '--log-format', 'pretty']);
    expect(await run.exited).toBe(1);
    expect(run.lines).toEqual([]);
    expect(run.stderr().trimEnd().split('\n')).toHaveLength(1);
  });

  it('a data directory that cannot be one is one line naming it and the option', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'livetable-notadir-')), 'a-file');
    writeFileSync(file, '');
    const run = livetable(['--port', '0', '--data-dir', file]);
    expect(await run.exited).toBe(1);
    const lines = run.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^livetable: could not start: data directory ${file} is not usable: .*--data-dir`),
    );
  });

  it('with --log-format pretty, says in a sentence where to open it', async () => {
    const run = livetable(['--port', '0', '--store', 'memory', '--log-format', 'pretty']);
    try {
      const line = await run.logLine((l) => String(l.text).includes('listening'));
      expect(line.text).toMatch(
        /^\[\d\d:\d\d:\d\d\] INFO: Livetable listening on http:\/\/127\.0\.0\.1:\d+ \(store: memory\)$/,
      );
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('prints --help and exits 0', async () => {
    const run = livetable(['--help']);
    expect(await run.exited).toBe(0);
    expect(run.lines.map((l) => l.text).join('\n')).toContain('--update-interval MS');
  });

  it('logs one JSON line per request with --access-log, and shuts down cleanly on SIGTERM', async () => {
    const run = livetable([
      '--port',
      '0',
      '--access-log',
      '--update-interval',
      '50',
      '--static-dir',
      'no-such-dir',
      '--store',
      'memory',
    ]);
    try {
      const { url } = (await run.logLine((l) => l.msg === 'listening')) as { url: string };
      const { session_id } = (await (await fetch(`${url}/api/start`, { method: 'POST' })).json()) as StartResponse;
      await run.logLine((l) => l.msg === 'request completed' && (l.req as { url?: string })?.url === '/api/start');
      const stream = await openStream(`${url}/api/stream/${session_id}`);
      await stream.waitFor((e) => 'seq' in e);

      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      // Cut, not ended: no `end` event, so a browser reconnects. (A stream's
      // body is not chunked: the cut itself looks like any close on the wire.)
      await stream.closed;
      expect(stream.received.some((r) => r.event.type === 'end')).toBe(false);
      expect(run.lines.some((l) => l.msg === 'stopped')).toBe(true);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});

describe('the livetable command with a bad data directory', () => {
  it('refuses a data file that is not a database: a clear message, exit code 1, the file untouched', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'livetable-corrupt-'));
    const file = join(dir, 'livetable.db');
    writeFileSync(file, 'not a database, but precious');
    const run = livetable(['--port', '0', '--data-dir', dir]);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(/livetable: could not start: cannot use .*livetable\.db/);
    expect(readFileSync(file, 'utf8')).toBe('not a database, but precious');
  });
});

describe('the livetable command with a Redis it cannot reach', () => {
  it('exits 1 with one line saying where and why, and never writes the password anywhere', async () => {
    const { freePort } = await import('../test-support/serverProcess.js');
    const port = await freePort();
    const run = livetable(['--port', '0', '--store', 'redis', '--redis-url', `redis://:hunter2@127.0.0.1:${port}/0`]);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(
      new RegExp(
        `^livetable: could not start: cannot reach Redis at redis://:redacted@127\\.0\\.0\\.1:${port}/0: .*ECONNREFUSED`,
      ),
    );
    expect(run.stderr() + JSON.stringify(run.lines)).not.toContain('hunter2');
  });

  it('refuses a database number the Redis does not have, rather than use database 0', async () => {
    const { startRedis } = await import('../test-support/redisServer.js');
    const redis = await startRedis();
    try {
      const run = livetable(['--port', '0', '--store', 'redis', '--redis-url', `${redis.url}/99`]);
      expect(await run.exited).toBe(1);
      expect(run.stderr()).toMatch(/cannot use database 99 of Redis at .*: the server has no such database/);
    } finally {
      await redis.stop();
    }
  });

  it('says --store redis needs --redis-url', async () => {
    const run = livetable(['--port', '0', '--store', 'redis']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('--store redis needs --redis-url');
  });
});

describe('the livetable command with a data directory that holds a table', () => {
  it('keeps that table, says so, and does not reseed it from --seed-rows', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'livetable-kept-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const first = livetable(['--port', '0', '--data-dir', dir, '--seed-rows', '5']);
    expect(await first.logLine((l) => l.msg === 'listening')).toMatchObject({ rows: 5 });
    expect(first.lines.some((l) => String(l.msg).startsWith('kept the table'))).toBe(false);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = livetable(['--port', '0', '--data-dir', dir, '--seed-rows', '50', '--max-records', '100']);
    try {
      const kept = await second.logLine((l) => String(l.msg).startsWith('kept the table'));
      expect(kept).toMatchObject({ rows: 5, dataDir: dir });
      expect(await second.logLine((l) => l.msg === 'listening')).toMatchObject({ rows: 5 });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

describe('npm start', () => {
  it('answers --version and --help on a fresh clone without building anything', async () => {
    const { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join, resolve } = await import('node:path');
    const { execFileSync } = await import('node:child_process');
    const clone = mkdtempSync(join(tmpdir(), 'livetable-clone-'));
    onTestFinished(() => rmSync(clone, { recursive: true, force: true }));
    for (const path of ['scripts', 'server', 'shared', 'package.json', 'tsconfig.json', 'tsconfig.server.json']) {
      cpSync(path, join(clone, path), { recursive: true });
    }
    symlinkSync(resolve('node_modules'), join(clone, 'node_modules'));
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const start = (arg: string) =>
      execFileSync(process.execPath, ['scripts/start.mjs', arg], { cwd: clone }).toString();
    expect(start('--version')).toBe(`livetable ${version}\n`);
    expect(start('--help')).toContain('--update-interval MS');
    expect(existsSync(join(clone, 'dist'))).toBe(false);
  });
});
