/**
 * Nchan, the nginx pub/sub module, as a third server for the fan-out bench:
 * nginx with its own config and prefix in a temp dir, one worker, Nchan's
 * memory store, on a free loopback port, and a publisher (a process of its
 * own, bench/nchanPublisher.ts) that posts change events of Livetable's
 * shape and size at the same rate as the others make them. Subscribers read `GET /sub` as an event stream.
 *
 * Debian: `apt-get install nginx-light libnginx-mod-nchan`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const MODULE = process.env.NCHAN_MODULE_PATH ?? '/usr/lib/nginx/modules/ngx_nchan_module.so';

/** Why Nchan cannot run here, or null when it can. */
export function nchanMissing(): string | null {
  if (!existsSync(NGINX)) return `no nginx at ${NGINX} (Debian: apt-get install nginx-light libnginx-mod-nchan)`;
  if (!existsSync(MODULE)) return `no Nchan module at ${MODULE} (Debian: apt-get install libnginx-mod-nchan)`;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function config(dir: string, port: number): string {
  return `load_module ${MODULE};
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 30000; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /sub {
      nchan_subscriber eventsource;
      nchan_channel_id table;
      # A new subscriber gets what is published from now on, as the others' streams do.
      nchan_subscriber_first_message newest;
    }
    location = /pub {
      nchan_publisher;
      nchan_channel_id table;
      nchan_message_buffer_length 100;
      nchan_message_timeout 60s;
    }
  }
}
`;
}

export interface NchanServer {
  url: string;
  port: number;
  path: string;
  /** nginx's pid: the one process that serves the subscribers. */
  pid: number;
  /** The publisher's own process (bench/nchanPublisher.ts), pinned with the server. */
  publisherPid: number;
  child: ChildProcess;
  stop(): void;
}

/**
 * nginx with Nchan, and a publisher posting `perTick` events every
 * `interval` ms (the same events as bench/baseline.ts makes).
 */
export async function startNchan(interval: number, perTick: number): Promise<NchanServer> {
  const dir = mkdtempSync(join(tmpdir(), 'livetable-nchan-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), config(dir, port));
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr.trim()}`);
    try {
      await fetch(`${url}/pub`);
      break;
    } catch {
      if (i > 100) throw new Error('nginx did not listen in 5 s');
      await sleep(50);
    }
  }

  const publisher = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./nchanPublisher.ts', import.meta.url)),
      '--port',
      String(port),
      '--update-interval',
      String(interval),
      '--changes-per-tick',
      String(perTick),
    ],
    { stdio: 'ignore' },
  );
  // Ready once events flow: the publisher takes a moment to start, and a
  // load that counted meanwhile would count too few.
  const probe = await fetch(`${url}/sub`, { headers: { Accept: 'text/event-stream' } });
  const reader = (probe.body as ReadableStream<Uint8Array>).getReader();
  for (let text = ''; !text.includes('"seq"');) {
    const { value, done } = await reader.read();
    if (done) throw new Error('Nchan closed its stream before the first event');
    text += Buffer.from(value).toString();
  }
  await reader.cancel();

  return {
    url,
    port,
    path: '/sub',
    pid: child.pid as number,
    publisherPid: publisher.pid as number,
    child,
    stop() {
      publisher.kill('SIGKILL');
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
