import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, get, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { HAPROXY_CONFIG, renderConfig, startLoadBalancer } from './loadBalancer.js';
import { startRedis } from './redisServer.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(!socket.destroy()));
    socket.once('error', () => resolve(false));
  });
}

async function withClient<T>(url: string, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

async function withEnv<T>(name: string, value: string, use: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await use();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

describe('startRedis', () => {
  it('serves SET and GET at its url, and stop ends its process', async () => {
    const redis = await startRedis();
    try {
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      const value = await withClient(redis.url, async (client) => {
        await client.set('greeting', 'hello');
        return client.get('greeting');
      });
      expect(value).toBe('hello');
      expect(alive(redis.pid)).toBe(true);
    } finally {
      await redis.stop();
    }
    expect(alive(redis.pid)).toBe(false);
    expect(await accepts(redis.port)).toBe(false);
  });

  it('with persist, keeps what it acknowledged before a SIGKILL', async () => {
    const redis = await startRedis({ persist: true });
    try {
      await withClient(redis.url, async (client) => {
        expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
        await client.set('key', 'kept');
        await client.append('log', 'a');
        await client.append('log', 'b');
      });
      const killed = redis.pid;
      await redis.kill();
      expect(alive(killed)).toBe(false);

      await redis.restart();
      expect(redis.pid).not.toBe(killed);
      const [key, log] = await withClient(redis.url, (client) => client.mget('key', 'log'));
      expect([key, log]).toEqual(['kept', 'ab']);
    } finally {
      await redis.stop();
    }
  });

  it('without persist, forgets its keys across a stop and a restart', async () => {
    const redis = await startRedis();
    try {
      await withClient(redis.url, (client) => client.set('key', 'lost'));
      await redis.stop();
      await redis.restart();
      expect(await withClient(redis.url, (client) => client.get('key'))).toBeNull();
      expect(await withClient(redis.url, (client) => client.config('GET', 'appendonly'))).toEqual(['appendonly', 'no']);
    } finally {
      await redis.stop();
    }
  });

  it('fails loudly, saying how to install it, when there is no redis-server', async () => {
    await withEnv('REDIS_SERVER_PATH', '/nonexistent/redis-server', async () => {
      await expect(startRedis()).rejects.toThrow(/apt-get install redis-server/);
    });
  });
});

interface Backend {
  name: string;
  port: number;
  /** Whether its /api/metrics, haproxy's health check, answers 200 or 503. */
  healthy: boolean;
  /** Health checks it has answered. */
  checks: number;
  /** Kills it: stops listening and drops every connection. */
  close(): Promise<void>;
}

/** A stand-in Livetable node: answers its name, holds `/stream` open like an event stream. */
async function startNode(name: string): Promise<Backend> {
  const server = createServer((req, res) => {
    if (req.url === '/api/metrics') {
      node.checks++;
      res.writeHead(node.healthy ? 200 : 503).end('{}');
    } else if (req.url === '/stream') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(`data: ${name}\n\n`);
    } else {
      res.end(name);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let closed: Promise<unknown> | undefined;
  const node: Backend = {
    name,
    port: (server.address() as { port: number }).port,
    healthy: true,
    checks: 0,
    close: async () => {
      if (closed === undefined) {
        closed = once(server, 'close');
        server.close();
        server.closeAllConnections();
      }
      await closed;
    },
  };
  return node;
}

/** Opens a long response; `first` is its first event's data, `ended` when the proxy closes it. */
function openStream(url: string): { first: Promise<string>; ended: Promise<void> } {
  const req = get(`${url}/stream`, { agent: false });
  const response = once(req, 'response') as Promise<[IncomingMessage]>;
  const first = response.then(async ([res]) => {
    const [chunk] = (await once(res, 'data')) as [Buffer];
    return /data: (\w+)/.exec(chunk.toString())?.[1] ?? '';
  });
  const ended = response.then(([res]) => new Promise<void>((resolve) => res.once('close', resolve)));
  return { first, ended };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (const began = Date.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 20))) {
    if (Date.now() - began > timeoutMs) throw new Error(`still not so after ${timeoutMs} ms: ${condition}`);
  }
}

/** 'ended' if `ended` settles within `ms`, else 'still open'. */
async function within(ms: number, ended: Promise<void>): Promise<'ended' | 'still open'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), ms)));
  try {
    return await Promise.race([ended.then(() => 'ended' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Status and body of one GET on a connection of its own, as a new client would send it; or why it failed. */
function answer(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? `200 ${body}` : String(res.statusCode)));
      res.on('error', (error) => resolve(error.message));
    });
    req.on('error', (error) => resolve(error.message));
  });
}

describe('startLoadBalancer', () => {
  it('renders the operators’ configuration with only the address lines changed', () => {
    const template = readFileSync(HAPROXY_CONFIG, 'utf8');
    const rendered = renderConfig(template, 4242, [5001, 5002]);
    const kept = (text: string) => text.split('\n').filter((line) => !/^\s*(bind|server)\s/.test(line));
    expect(kept(rendered)).toEqual(kept(template));
    expect(rendered).toMatch(/^\s*bind 127\.0\.0\.1:4242$/m);
    expect(rendered.match(/^\s*server .*$/gm)).toEqual([
      '    server node1 127.0.0.1:5001',
      '    server node2 127.0.0.1:5002',
    ]);
  });

  it('spreads requests over both nodes, keeps answering when one dies, and stop ends it', async () => {
    const a = await startNode('a');
    const b = await startNode('b');
    const lb = await startLoadBalancer([a.port, b.port]);
    try {
      const names = await Promise.all(Array.from({ length: 6 }, () => answer(lb.url)));
      expect(new Set(names)).toEqual(new Set(['200 a', '200 b']));
      // Until its first check passes haproxy takes one failure as enough to mark
      // a node down; after, it takes `fall`. Test the steady state.
      await until(() => a.checks > 0 && b.checks > 0);

      await a.close();
      const answers: string[] = [];
      const down = /Server livetable\/node1 is DOWN/;
      for (const began = Date.now(); !down.test(lb.output) && Date.now() - began < 5_000;) {
        answers.push(await answer(lb.url));
      }
      expect(lb.output).toMatch(down);
      for (let i = 0; i < 10; i++) answers.push(await answer(lb.url));
      // A connection `a` refuses is retried on `b`. Only the one request that
      // may be waiting to be retried at the instant `a` is marked down is cut
      // with it (502); a 503 would mean haproxy gave up on `b`.
      const failed = answers.filter((name) => name !== '200 b');
      expect(failed.length, failed.join()).toBeLessThanOrEqual(1);
      expect(failed.every((name) => name === '502')).toBe(true);
      expect(answers.slice(-10)).toEqual(Array(10).fill('200 b'));
    } finally {
      await lb.stop();
      await b.close();
    }
    expect(alive(lb.pid)).toBe(false);
    expect(await accepts(lb.port)).toBe(false);
  });

  it('ends an open stream at once when its node dies', async () => {
    const nodes = [await startNode('a'), await startNode('b')];
    const lb = await startLoadBalancer(nodes.map((node) => node.port));
    try {
      const stream = openStream(lb.url);
      const name = await stream.first;
      const serving = nodes.find((node) => node.name === name)!;
      await serving.close();
      expect(await within(1_000, stream.ended)).toBe('ended');
    } finally {
      await lb.stop();
      await Promise.all(nodes.map((node) => node.close()));
    }
  });

  it('cuts an open stream once its node fails its health checks, and sends new ones elsewhere', async () => {
    const nodes = [await startNode('a'), await startNode('b')];
    const lb = await startLoadBalancer(nodes.map((node) => node.port));
    try {
      await until(() => nodes.every((node) => node.checks > 0));
      const stream = openStream(lb.url);
      const name = await stream.first;
      const serving = nodes.find((node) => node.name === name)!;
      const other = nodes.find((node) => node !== serving)!;
      // The node still holds the stream open: only on-marked-down can end it before `timeout server`.
      serving.healthy = false;
      expect(await within(5_000, stream.ended)).toBe('ended');
      expect(await openStream(lb.url).first).toBe(other.name);
    } finally {
      await lb.stop();
      await Promise.all(nodes.map((node) => node.close()));
    }
  });

  it('fails loudly, saying how to install it, when there is no haproxy', async () => {
    await withEnv('HAPROXY_PATH', '/nonexistent/haproxy', async () => {
      await expect(startLoadBalancer([1])).rejects.toThrow(/apt-get install haproxy/);
    });
  });
});
