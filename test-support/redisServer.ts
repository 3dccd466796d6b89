import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './serverProcess.js';
import { exitOf, findBinary, madeDirs, running } from './daemon.js';

export interface RedisOptions {
  /** Append-only file, fsynced on every write: what survives a crash in production. */
  persist?: boolean;
  port?: number;
  /** Data directory; the caller's to keep. Without it a temporary one is made. */
  dir?: string;
}

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The running server's pid; a new one after `restart()`. */
  readonly pid: number;
  /** SIGTERM, as an operator would stop it; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL, a crash; resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port, directory and options (stopping it first if it still runs). */
  restart(): Promise<void>;
}

const INSTALL_HINT =
  'The cluster tests need a real Redis: install it (Debian/Ubuntu: `apt-get install redis-server`) ' +
  'or set REDIS_SERVER_PATH to a redis-server binary.';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_KEPT = 8_192;

const redisBinary = (): string =>
  findBinary('redis-server', 'REDIS_SERVER_PATH', '/usr/bin/redis-server', INSTALL_HINT);

/** Resolves with true once the server answers PING with +PONG (not -LOADING, not a refused connection). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('end', () => done(false));
  });
}

interface Started {
  child: ChildProcess;
  exited: Promise<void>;
}

async function launch(binary: string, port: number, dir: string, persist: boolean): Promise<Started> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'];
  args.push(...(persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  args.push('--logfile', '');
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_KEPT));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = exitOf(child).then(() => void running.delete(child));
  let gone = false;
  void exited.then(() => (gone = true));
  // A spawn error (binary vanished, not executable) arrives as an event, not a throw.
  child.on('error', (error) => keep(Buffer.from(`\n${error.message}`)));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!gone) {
    if (await pong(port)) return { child, exited };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} exited before answering PING:\n${output}`);
}

async function stopWith(started: Started, signal: NodeJS.Signals): Promise<void> {
  started.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
  const outcome = await Promise.race([started.exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    started.child.kill('SIGKILL');
    await started.exited;
    throw new Error(`redis-server pid ${started.child.pid} ignored ${signal} for ${STOP_TIMEOUT_MS} ms; killed it`);
  }
}

/**
 * Starts a real redis-server on a free loopback port, resolving once it answers PING.
 * A directory it made for itself survives `stop()`/`kill()` so that `restart()`
 * finds its data; it is removed when the test process exits.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const binary = redisBinary();
  const persist = options.persist ?? false;
  let dir = options.dir;
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'livetable-redis-'));
    madeDirs.add(dir);
  }

  let port = options.port ?? (await freePort());
  let started: Started | undefined;
  // Another process may take a probed port before Redis binds it: try a fresh one.
  for (let attempt = 1; started === undefined; attempt++) {
    try {
      started = await launch(binary, port, dir, persist);
    } catch (error) {
      if (options.port !== undefined || attempt === 3) throw error;
      port = await freePort();
    }
  }

  let current: Started = started;
  const dataDir = dir;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir: dataDir,
    get pid() {
      return current.child.pid!;
    },
    stop: () => stopWith(current, 'SIGTERM'),
    kill: () => stopWith(current, 'SIGKILL'),
    async restart() {
      await stopWith(current, 'SIGTERM');
      current = await launch(binary, port, dataDir, persist);
    },
  };
}
