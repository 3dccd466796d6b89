import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loggableUrl } from './app.js';
import { defaultConfig, type Config } from './config.js';
import type { StartResponse } from '../shared/protocol.js';
import { startServer, type RunningServer } from './server.js';
import { createSqliteStores } from './store/sqliteStore.js';
import { captureLog } from '../test-support/logCapture.js';
import { openStream } from '../test-support/sseClient.js';
import { startTestServer } from '../test-support/testServer.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const tokenOf = (sub: string, iss?: string) =>
  new SignJWT({ sub, ...(iss === undefined ? {} : { iss }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience('livetable')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const call = async (path: string, token?: string, method = 'GET') => {
  const response = await fetch(`${server!.url}${path}`, {
    method,
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body };
};

async function startAs(token: string): Promise<string> {
  const { status, body } = await call('/api/start', token, 'POST');
  expect(status).toBe(200);
  return (body as unknown as StartResponse).session_id;
}

describe('with auth on, a session belongs to the subject that started it', () => {
  it('another subject may neither stop it nor stream it; its owner may, by header or ?access_token=', async () => {
    server = await startTestServer({ authSecret: SECRET, updateInterval: 600_000, heartbeatInterval: 600_000 });
    const [alice, bob] = [await tokenOf('alice'), await tokenOf('bob')];
    const id = await startAs(alice);

    expect(await call(`/api/stop/${id}`, bob, 'POST')).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await call(`/api/stream/${id}`, bob)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await call(`/api/stream/${id}`)).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(await call(`/api/stream/${id}?access_token=${bob}`)).toMatchObject({ status: 403 });

    const byHeader = await openStream(`${server.url}/api/stream/${id}`, { Authorization: `Bearer ${alice}` });
    const byQuery = await openStream(`${server.url}/api/stream/${id}?access_token=${alice}`);
    for (const stream of [byHeader, byQuery]) {
      expect(stream.status).toBe(200);
      await stream.waitFor((event) => event.type === 'init');
    }
    // Bob's refused stop changed nothing: the session runs until Alice stops it.
    expect(await call(`/api/stop/${id}`, alice, 'POST')).toMatchObject({ status: 200, body: { outcome: 'stopped' } });
    await byHeader.waitFor((event) => event.type === 'end');
  });

  it('gives a stream’s place back when its client leaves while the token is checked', async () => {
    server = await startTestServer({ authSecret: SECRET, updateInterval: 600_000, maxConnectionsPerSession: 5 });
    const token = await tokenOf('alice');
    const id = await startAs(token);
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(server!.port, '127.0.0.1', () => {
          socket.write(`GET /api/stream/${id}?access_token=${token} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
          socket.destroy();
          resolve();
        });
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    const metrics = (await call('/api/metrics')).body;
    expect(metrics.total_connections).toBe(0);
    // Its owner can still open its five streams.
    const streams = await Promise.all(
      Array.from({ length: 5 }, () => openStream(`${server!.url}/api/stream/${id}?access_token=${token}`)),
    );
    for (const stream of streams) expect(stream.status).toBe(200);
    for (const stream of streams) stream.close();
  });

  it('--stream-auth session-id lets the id alone open its stream, and still only its owner stop it', async () => {
    server = await startTestServer({ authSecret: SECRET, streamAuth: 'session-id', updateInterval: 600_000 });
    const id = await startAs(await tokenOf('alice'));
    const stream = await openStream(`${server.url}/api/stream/${id}`);
    expect(stream.status).toBe(200);
    stream.close();
    expect(await call(`/api/stop/${id}`, await tokenOf('bob'), 'POST')).toMatchObject({ status: 403 });
  });

  it('the same subject from another issuer is someone else', async () => {
    server = await startTestServer({ authSecret: SECRET, updateInterval: 600_000 });
    const id = await startAs(await tokenOf('alice', 'https://a.example'));
    const impostor = await tokenOf('alice', 'https://b.example');
    expect(await call(`/api/stop/${id}`, impostor, 'POST')).toMatchObject({ status: 403 });
    expect(await call(`/api/stop/${id}`, await tokenOf('alice', 'https://a.example'), 'POST')).toMatchObject({
      status: 200,
    });
  });

  it('keeps its owner across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'livetable-owner-'));
    const config: Config = defaultConfig({
      port: 0,
      staticDir: 'no-such-dir',
      authSecret: SECRET,
      updateInterval: 600_000,
    });
    const open = () => createSqliteStores({ dataDir, history: 100, initialRows: () => [] });
    server = await startServer(config, pino({ level: 'silent' }), { stores: open() });
    const id = await startAs(await tokenOf('alice'));
    await server.close();
    server = await startServer(config, pino({ level: 'silent' }), { stores: open() });
    expect(await call(`/api/stop/${id}`, await tokenOf('bob'), 'POST')).toMatchObject({ status: 403 });
    expect(await call(`/api/stop/${id}`, await tokenOf('alice'), 'POST')).toMatchObject({ status: 200 });
  });

  it('a token that names no subject cannot start one', async () => {
    server = await startTestServer({ authSecret: SECRET });
    const anonymous = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('livetable')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    expect(await call('/api/start', anonymous, 'POST')).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
  });
});

describe('a token in the URL', () => {
  it.each([
    ['/api/stream/X?access_token=SECRET', '/api/stream/X?access_token=[redacted]'],
    ['/api/stream/X?since=4&access_token=SECRET&full=0', '/api/stream/X?since=4&access_token=[redacted]&full=0'],
    ['/api/stream/X?access%5Ftoken=SECRET', '/api/stream/X?access%5Ftoken=[redacted]'],
    [
      '/api/stream/X?%61ccess_token=SECRET&access_token=OTHER',
      '/api/stream/X?%61ccess_token=[redacted]&access_token=[redacted]',
    ],
    ['/api/data', '/api/data'],
  ])('%s is logged as %s', (url, logged) => {
    expect(loggableUrl(url)).toBe(logged);
  });

  it('never reaches the access log, however its name is spelled', async () => {
    const { logger, text } = captureLog('info');
    server = await startTestServer({ accessLog: true, authSecret: SECRET }, logger);
    const token = await tokenOf('alice');
    const id = await startAs(token);
    for (const name of ['access_token', 'access%5Ftoken', '%61ccess_token']) {
      const stream = await openStream(`${server.url}/api/stream/${id}?${name}=${token}`);
      expect(stream.status).toBe(200);
      stream.close();
      await stream.closed;
    }
    await server.close();
    server = undefined;
    const log = text();
    expect(log).toContain('[redacted]');
    expect(log).not.toContain(token.split('.')[2]);
  });
});
