import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from './serverProcess.js';
import { exitOf, findBinary, madeDirs, running } from './daemon.js';

export interface LoadBalancer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The haproxy master's pid; its worker exits with it. */
  pid: number;
  /** The end of haproxy's output: its log (a line per request, server state changes) and its warnings. */
  readonly output: string;
  /** SIGTERM to the master (haproxy's hard stop); resolves once it has exited. */
  stop(): Promise<void>;
}

/** The configuration operators deploy; the tests run it with only the addresses changed. */
export const HAPROXY_CONFIG = fileURLToPath(new URL('../deploy/haproxy.cfg', import.meta.url));

const INSTALL_HINT =
  'The cluster tests need a real haproxy: install it (Debian/Ubuntu: `apt-get install haproxy`) ' +
  'or set HAPROXY_PATH to a haproxy binary.';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_KEPT = 65_536;

const haproxyBinary = (): string => findBinary('haproxy', 'HAPROXY_PATH', '/usr/sbin/haproxy', INSTALL_HINT);

/**
 * The operators' configuration with its one `bind` line and its `server` lines
 * replaced; everything else stays as written.
 */
export function renderConfig(
  template: string,
  port: number,
  backends: readonly number[],
  pages: Readonly<Record<string, string>> = {},
): string {
  const lines = template.split('\n');
  const binds = lines.filter((line) => /^\s*bind\s/.test(line));
  if (binds.length !== 1) throw new Error(`${HAPROXY_CONFIG} must have one bind line to replace, not ${binds.length}`);
  const firstServer = lines.findIndex((line) => /^\s*server\s/.test(line));
  if (firstServer < 0) throw new Error(`${HAPROXY_CONFIG} has no server lines to replace`);
  const indent = /^\s*/.exec(lines[firstServer]!)![0];
  const servers = backends.map((backend, i) => `${indent}server node${i + 1} 127.0.0.1:${backend}`);
  return lines
    .flatMap((line, i) => {
      if (i === firstServer) return servers;
      if (/^\s*server\s/.test(line)) return [];
      // Pages the proxy itself answers, as a site that puts its own page in front of the API would.
      if (/^\s*default_backend\s/.test(line)) {
        const own = Object.entries(pages).map(
          ([path, file]) =>
            `    http-request return status 200 content-type "text/html; charset=utf-8" file ${file} if { path ${path} }`,
        );
        return [...own, line];
      }
      return [line.replace(/^(\s*)bind\s.*$/, `$1bind 127.0.0.1:${port}`)];
    })
    .join('\n');
}

/** Refuses a configuration that haproxy rejects or warns about, with haproxy's own words. */
function checkConfig(binary: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['-c', '-dW', '-f', file], (error, stdout, stderr) => {
      if (error) reject(new Error(`haproxy rejects ${HAPROXY_CONFIG} (rendered to ${file}):\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function launch(
  binary: string,
  backends: readonly number[],
  dir: string,
  pages: Readonly<Record<string, string>>,
): Promise<LoadBalancer> {
  const port = await freePort();
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, renderConfig(readFileSync(HAPROXY_CONFIG, 'utf8'), port, backends, pages));
  await checkConfig(binary, file);

  // -db keeps it in the foreground, so its pid is this child's and it dies with a stop.
  const child = spawn(binary, ['-W', '-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_KEPT));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`\n${error.message}`)));
  const exited = exitOf(child).then(() => void running.delete(child));
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!gone && !(await accepts(port))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`haproxy did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (gone) throw new Error(`haproxy exited before listening on port ${port}:\n${output}`);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    get output() {
      return output;
    },
    async stop() {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`haproxy pid ${child.pid} ignored SIGTERM for ${STOP_TIMEOUT_MS} ms; killed it:\n${output}`);
      }
      rmSync(dir, { recursive: true, force: true });
      madeDirs.delete(dir);
    },
  };
}

/**
 * Starts a real haproxy with deploy/haproxy.cfg on a free loopback port in
 * front of `backends` (ports on 127.0.0.1), resolving once the port accepts
 * connections. `pages` maps paths the proxy answers itself to HTML files.
 */
export async function startLoadBalancer(
  backends: readonly number[],
  pages: Readonly<Record<string, string>> = {},
): Promise<LoadBalancer> {
  if (backends.length === 0) throw new Error('startLoadBalancer needs at least one backend port');
  const binary = haproxyBinary();
  const dir = mkdtempSync(join(tmpdir(), 'livetable-haproxy-'));
  madeDirs.add(dir);
  // Another process may take a probed port before haproxy binds it: try a fresh one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(binary, backends, dir, pages);
    } catch (error) {
      if (attempt === 3 || (error instanceof Error && error.message.startsWith('haproxy rejects'))) throw error;
    }
  }
}
