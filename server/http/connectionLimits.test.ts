import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { limitConnections } from './connectionLimits.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** One request on a connection of its own from `from`, read whole. */
function get(port: number, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', localAddress: from, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('limitConnections', () => {
  it('forgets every address once its connections are gone, after thousands of them', async () => {
    server = createServer();
    const limits = limitConnections(
      server,
      (_req, res) => {
        res.end('ok');
      },
      { maxPerAddress: 5, maxInFlight: 8, maxQueued: 1024, cutOffMs: 0, onRefused: () => undefined },
    );
    server.on('request', limits.listener);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const statuses = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => get(port, `127.0.${1 + (i % 50)}.${1 + (i % 7)}`)),
    );
    // Some addresses had more than five connections at once: those were refused.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(1000);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(limits.clients).toBe(0);
  });

  it('lets a connection have --max-pipelined requests in flight, and cuts it at one more', async () => {
    const held: ServerResponse[] = [];
    const refused: string[] = [];
    server = createServer();
    const limits = limitConnections(server, (_req, res) => void held.push(res), {
      maxPerAddress: 5,
      maxInFlight: 4,
      maxQueued: 1024,
      cutOffMs: 0,
      onRefused: (_client, code) => refused.push(code),
    });
    server.on('request', limits.listener);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise((resolve) => socket.on('close', resolve));
    const request = 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n';
    socket.write(request.repeat(4));
    // Node hands a pipelined request over once the one before it is answered
    // or, with none answered, all at once as they are parsed.
    await new Promise((r) => setTimeout(r, 200));
    expect(held).toHaveLength(4);
    expect(refused).toEqual([]);
    expect(socket.destroyed).toBe(false);
    socket.write(request);
    await closed;
    expect(refused).toEqual(['too_many_pipelined']);
    for (const res of held) res.destroy();
  });
});
