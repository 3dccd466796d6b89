import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenBucket } from './http/guards.js';
import type { RunningServer } from './server.js';
import { captureLog } from '../test-support/logCapture.js';
import { rawRequest } from '../test-support/rawHttp.js';
import { startTestServer } from '../test-support/testServer.js';

const raw = (port: number, request: string, host?: string) => rawRequest(port, request, { host });

const withHost = (port: number, path: string, host: string, address?: string) =>
  raw(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, address);

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the Host policy (DNS rebinding)', () => {
  let server: RunningServer;

  beforeAll(async () => {
    const staticDir = mkdtempSync(join(tmpdir(), 'livetable-hosts-'));
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>app</title>');
    server = await startTestServer({
      updateInterval: 600_000,
      staticDir,
      allowedHosts: ['app.example.com', '.example.org', '[2001:db8::1]'],
    });
  });

  afterAll(() => server.close());

  const refused = [
    'evil.example',
    'evil.example:80',
    'localhost.evil.example',
    'app.example.com.evil.example',
    'notexample.org',
    'example.org.evil.example',
    '127.0.0.1.nip.io',
    '0.0.0.0',
    '[::2]',
    'localhost:1234@evil.example',
  ];
  const paths = ['/api/data', '/api/stream', '/api/stream/AAAAAAAAAAAAAAAA', '/api/nope', '/', '/index.html'];

  it.each(refused.flatMap((host) => paths.map((path) => [host, path])))(
    'Host %s on %s → 403 host_not_allowed',
    async (host, path) => {
      const answer = await withHost(server.port, path, host);
      expect(answer.status).toBe(403);
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(JSON.parse(answer.body)).toEqual({
        status: 'error',
        code: 'host_not_allowed',
        message: expect.stringMatching(/\w/),
      });
    },
  );

  it('refuses an empty Host', async () => {
    const answer = await raw(server.port, 'GET /api/data HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).code).toBe('host_not_allowed');
  });

  it.each([
    'localhost',
    'localhost:1234',
    'LocalHost.:8080',
    '127.0.0.1',
    '127.0.0.1:9',
    '[::1]',
    '[::1]:99',
    '[0:0:0:0:0:0:0:1]:99',
    'app.example.com',
    'APP.example.com.:443',
    'example.org',
    'a.b.example.org:8443',
    '[2001:db8::1]:8088',
    '[2001:db8:0:0::1]',
  ])('Host %s → answered', async (host) => {
    for (const path of ['/api/data', '/index.html']) {
      const answer = await withHost(server.port, path, host);
      expect(answer.status, path).toBe(200);
    }
  });

  it('the real Host of the test server passes, fetch and streams included', async () => {
    const response = await fetch(`${server.url}/api/data`);
    expect(response.status).toBe(200);
    const abort = new AbortController();
    const stream = await fetch(`${server.url}/api/stream`, { signal: abort.signal });
    expect(stream.status).toBe(200);
    abort.abort();
  });

  it('answers an HTTP/1.0 request without Host: there is no name to rebind', async () => {
    const answer = await raw(server.port, 'GET /api/data HTTP/1.0\r\n\r\n');
    expect(answer.status).toBe(200);
  });

  it('answers for the listen address, but never for a wildcard one', async () => {
    const other = await startTestServer({ host: '127.0.0.2', updateInterval: 600_000 });
    try {
      expect((await withHost(other.port, '/api/data', `127.0.0.2:${other.port}`, '127.0.0.2')).status).toBe(200);
      expect((await withHost(other.port, '/api/data', 'evil.example', '127.0.0.2')).status).toBe(403);
    } finally {
      await other.close();
    }
    const wildcard = await startTestServer({ host: '0.0.0.0', updateInterval: 600_000 });
    try {
      expect((await withHost(wildcard.port, '/api/data', '0.0.0.0')).status).toBe(403);
      expect((await withHost(wildcard.port, '/api/data', 'localhost')).status).toBe(200);
    } finally {
      await wildcard.close();
    }
  });
});

describe('client mistakes in the log', () => {
  async function serveWithLog(accessLog: boolean) {
    const { logger, lines } = captureLog('debug');
    const server = await startTestServer({ updateInterval: 600_000, accessLog, maxConnectionsPerAddress: 20 }, logger);
    return { server, lines };
  }

  /** Sends the head and part of a body, then cuts the connection. */
  const abortedUpload = (port: number) =>
    new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'POST /api/start HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"pad":"xx',
        );
        setTimeout(() => socket.destroy(), 20);
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });

  /** A chunked body whose second chunk size is not hex. */
  const brokenChunks = (port: number) =>
    raw(
      port,
      'POST /api/start HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\n',
    );

  it.each([false, true])(
    'aborted uploads and broken chunked bodies are one info line, no error, no stack (access log %s)',
    async (accessLog) => {
      const { server, lines } = await serveWithLog(accessLog);
      try {
        for (let i = 0; i < 20; i++) await abortedUpload(server.port);
        for (let i = 0; i < 5; i++) {
          const answer = await brokenChunks(server.port);
          expect(answer.status).toBe(400);
          expect(JSON.parse(answer.body)).toMatchObject({ code: 'invalid_body' });
        }
        await wait(100);
        expect((await fetch(`${server.url}/api/data`)).status).toBe(200);

        expect(lines.filter((line) => line.level >= 50)).toEqual([]);
        expect(lines.filter((line) => JSON.stringify(line).includes('stack'))).toEqual([]);
        if (!accessLog) {
          const mistakes = lines.filter((line) => line.client === '127.0.0.1');
          // One log for the app and the parser: one line for 25 mistakes in 10 s.
          expect(mistakes.length).toBe(1);
          expect(mistakes[0]).toMatchObject({ level: 30, code: 'invalid_body' });
        }
      } finally {
        await server.close();
      }
    },
  );
});

describe('a refused body', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ updateInterval: 600_000, maxBody: 256 });
  });
  afterAll(() => server.close());

  /** Sends `request` on a keep-alive connection and resolves with the answer's status line and how long the server kept the connection. */
  const heldFor = (request: string) =>
    new Promise<{ status: string; ms: number }>((resolve) => {
      const started = Date.now();
      const chunks: Buffer[] = [];
      const socket = connect(server.port, '127.0.0.1', () => socket.write(request));
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () =>
        resolve({ status: Buffer.concat(chunks).toString('utf8').split('\r\n')[0]!, ms: Date.now() - started }),
      );
      setTimeout(() => socket.destroy(), 3000);
    });
  const head = (headers: string) => `POST /api/start HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n`;

  it.each([
    [
      'too large, chunked',
      head('Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n') + '200\r\n' + ' '.repeat(512) + '\r\n',
      '413',
    ],
    [
      'too large, declared',
      head('Content-Type: application/json\r\nContent-Length: 100000000\r\n') + ' '.repeat(1000),
      '413',
    ],
    [
      'not JSON, chunked',
      head('Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n') + '200\r\n' + ' '.repeat(512) + '\r\n',
      '415',
    ],
  ])('%s: the connection is closed, not held open or read to its end', async (_name, request, status) => {
    const { status: line, ms } = await heldFor(request);
    expect(line).toContain(` ${status} `);
    expect(ms).toBeLessThan(2000);
  });
});

describe('the start rate limiter', () => {
  it('forgets buckets that filled up again: after churn it is back to its idle size', () => {
    let t = 1_000_000;
    // 10 tokens, 30 a minute: an empty bucket is full again after 20 s.
    const bucket = tokenBucket({ perMinute: 30, burst: 10, now: () => t });
    for (let i = 0; i < 5000; i++) expect(bucket.take(`10.0.${i >> 8}.${i & 255}`)).toBe(0);
    expect(bucket.size).toBe(5000);
    t += 20_001;
    expect(bucket.take('192.0.2.1')).toBe(0);
    expect(bucket.size).toBeLessThanOrEqual(1);
  });

  it('keeps a bucket that is not full, so a sweep never lifts a limit', () => {
    let t = 0;
    const bucket = tokenBucket({ perMinute: 30, burst: 10, now: () => t });
    for (let i = 0; i < 10; i++) expect(bucket.take('busy')).toBe(0);
    expect(bucket.take('busy')).toBeGreaterThan(0);
    for (let i = 0; i < 100; i++) {
      t += 1000;
      bucket.take(`other-${i}`);
      // One token back every 2 s, and taken at once: the bucket never fills.
      if (i % 2 === 1) expect(bucket.take('busy')).toBe(0);
      expect(bucket.take('busy')).toBeGreaterThan(0);
    }
  });

  it('holds at most 10,000 addresses even when none is full yet', () => {
    const bucket = tokenBucket({ perMinute: 30, burst: 10, now: () => 0 });
    for (let i = 0; i < 25_000; i++) bucket.take(`addr-${i}`);
    expect(bucket.size).toBeLessThanOrEqual(10_000);
  });
});
