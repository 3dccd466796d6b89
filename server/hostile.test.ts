import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataResponse, MetricsResponse, StartResponse } from '../shared/protocol.js';
import type { RunningServer } from './server.js';
import { openStream, type StreamClient } from '../test-support/sseClient.js';
import { rawRequest, type RawAnswer } from '../test-support/rawHttp.js';
import { startTestServer } from '../test-support/testServer.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const key = new TextEncoder().encode(SECRET);

type Answer = RawAnswer;
const raw = (port: number, request: string) => rawRequest(port, request);

async function http(url: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

const token = (
  claims: Record<string, unknown> = {},
  options: { secret?: Uint8Array; alg?: string; exp?: string } = {},
) =>
  new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setAudience((claims.aud as string | undefined) ?? 'livetable')
    .setIssuedAt()
    .setExpirationTime(options.exp ?? '5m')
    .sign(options.secret ?? key);

describe('a hostile-input corpus', () => {
  let server: RunningServer;
  let base: string;
  let session: string;
  let goodToken: string;
  const holders: StreamClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      // No session makes changes during the corpus: the table must not move.
      updateInterval: 600_000,
      heartbeatInterval: 600_000,
      maxConnectionsPerSession: 2,
      maxConnections: 3,
      maxSessions: 4,
      startBurst: 3,
      startRate: 1,
      maxBody: 256,
      authSecret: SECRET,
      allowedOrigins: ['https://app.example'],
    });
    base = server.url;
    goodToken = await token();
    const started = await http(`${base}/api/start`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${goodToken}` },
    });
    session = (JSON.parse(started.body) as StartResponse).session_id;
  });

  afterAll(async () => {
    for (const holder of holders) holder.close();
    await server.close();
  });

  const post = (path: string, headers: Record<string, string> = {}, body?: string) =>
    http(`${base}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${goodToken}`, ...headers }, body });
  const authed = (authorization: string) => http(`${base}/api/start`, { method: 'POST', headers: { authorization } });
  // Every GET carries a good token: session streams ask for their owner's (--stream-auth owner).
  const get = (path: string, headers: Record<string, string> = {}) =>
    http(`${base}${path}`, { headers: { Authorization: `Bearer ${goodToken}`, ...headers } });
  const stream = (id: string) => openStream(`${base}/api/stream/${id}`, { Authorization: `Bearer ${goodToken}` });
  const rawGet = (target: string) =>
    raw(server.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);

  const cases: [string, () => Promise<Answer>, number, string][] = [
    // Session ids
    ['stream: short id', () => get('/api/stream/abc'), 400, 'invalid_session_id'],
    ['stream: 17 characters', () => get('/api/stream/AAAAAAAAAAAAAAAAA'), 400, 'invalid_session_id'],
    ['stream: punctuation', () => get('/api/stream/AAAAAAAAAAAAAAA!'), 400, 'invalid_session_id'],
    [
      'stream: non-ASCII letters',
      () => get(`/api/stream/${encodeURIComponent('ÄAAAAAAAAAAAAAAA')}`),
      400,
      'invalid_session_id',
    ],
    ['stream: encoded NUL', () => get('/api/stream/AAAAAAAAAAAAAAA%00'), 400, 'invalid_session_id'],
    ['stream: SQL', () => get(`/api/stream/${encodeURIComponent("' OR 1=1 --aaaaa")}`), 400, 'invalid_session_id'],
    ['stream: script', () => get(`/api/stream/${encodeURIComponent('<script>x</script>')}`), 400, 'invalid_session_id'],
    ['stream: spaces', () => get('/api/stream/AAAAAAAA%20AAAAAAA'), 400, 'invalid_session_id'],
    ['stream: unknown id', () => get('/api/stream/ZZZZZZZZZZZZZZZZ'), 404, 'session_not_found'],
    ['stop: short id', () => post('/api/stop/abc'), 400, 'invalid_session_id'],
    ['stop: punctuation', () => post('/api/stop/AAAAAAAAAAAAAA..'), 400, 'invalid_session_id'],
    ['stop: unknown id', () => post('/api/stop/ZZZZZZZZZZZZZZZZ'), 404, 'session_not_found'],
    // Resume points
    [
      'Last-Event-ID: letters',
      () => get(`/api/stream/${session}`, { 'Last-Event-ID': 'abc' }),
      400,
      'invalid_last_event_id',
    ],
    [
      'Last-Event-ID: negative',
      () => get(`/api/stream/${session}`, { 'Last-Event-ID': '-1' }),
      400,
      'invalid_last_event_id',
    ],
    [
      'Last-Event-ID: exponent',
      () => get(`/api/stream/${session}`, { 'Last-Event-ID': '1e5' }),
      400,
      'invalid_last_event_id',
    ],
    [
      'Last-Event-ID: huge',
      () => get(`/api/stream/${session}`, { 'Last-Event-ID': '99999999999999999999' }),
      400,
      'invalid_last_event_id',
    ],
    ['since: letters', () => get(`/api/stream/${session}?since=abc`), 400, 'invalid_since'],
    ['since: negative', () => get(`/api/stream/${session}?since=-1`), 400, 'invalid_since'],
    ['since: fraction', () => get(`/api/stream/${session}?since=1.5`), 400, 'invalid_since'],
    ['since: empty', () => get(`/api/stream/${session}?since=`), 400, 'invalid_since'],
    ['full: yes', () => get(`/api/stream/${session}?full=yes`), 400, 'invalid_full'],
    ['full: empty', () => get(`/api/stream/${session}?full=`), 400, 'invalid_full'],
    // Methods
    ['GET /api/start', () => get('/api/start'), 405, 'method_not_allowed'],
    ['PUT /api/data', () => http(`${base}/api/data`, { method: 'PUT' }), 405, 'method_not_allowed'],
    [
      'DELETE /api/stop/:id',
      () => http(`${base}/api/stop/${session}`, { method: 'DELETE' }),
      405,
      'method_not_allowed',
    ],
    [
      'PATCH /api/stream/:id',
      () => http(`${base}/api/stream/${session}`, { method: 'PATCH' }),
      405,
      'method_not_allowed',
    ],
    [
      'HEAD /api/stream/:id',
      () => raw(server.port, `HEAD /api/stream/${session} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
      405,
      '',
    ],
    ['POST /api/metrics', () => post('/api/metrics'), 405, 'method_not_allowed'],
    [
      'OPTIONS /api/start, same origin',
      () => http(`${base}/api/start`, { method: 'OPTIONS' }),
      405,
      'method_not_allowed',
    ],
    // Bodies
    [
      'body over --max-body',
      () => post('/api/start', { 'Content-Type': 'application/json' }, JSON.stringify({ pad: 'x'.repeat(1000) })),
      413,
      'body_too_large',
    ],
    [
      'chunked body over --max-body',
      () =>
        raw(
          server.port,
          `POST /api/start HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${goodToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n200\r\n${'{'.padEnd(512, ' ')}\r\n200\r\n${' '.repeat(512)}\r\n0\r\n\r\n`,
        ),
      413,
      'body_too_large',
    ],
    [
      'text/plain body',
      () => post('/api/start', { 'Content-Type': 'text/plain' }, 'hello'),
      415,
      'unsupported_media_type',
    ],
    [
      'form body',
      () => post('/api/start', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'a=1'),
      415,
      'unsupported_media_type',
    ],
    ['body without a type', () => post('/api/start', {}, '{}'), 415, 'unsupported_media_type'],
    ['broken JSON', () => post('/api/start', { 'Content-Type': 'application/json' }, '{"a":'), 400, 'invalid_json'],
    ['JSON array', () => post('/api/start', { 'Content-Type': 'application/json' }, '[1,2]'), 400, 'invalid_json'],
    ['JSON string', () => post('/api/start', { 'Content-Type': 'application/json' }, '"x"'), 400, 'invalid_json'],
    [
      'JSON with a NUL',
      () => post('/api/stop/ZZZZZZZZZZZZZZZZ', { 'Content-Type': 'application/json' }, '{"a":"\u0000'),
      400,
      'invalid_json',
    ],
    // Origins
    [
      'POST from a foreign origin',
      () => post('/api/start', { Origin: 'https://evil.example' }),
      403,
      'origin_not_allowed',
    ],
    ['stop from a foreign origin', () => post(`/api/stop/${session}`, { Origin: 'null' }), 403, 'origin_not_allowed'],
    // Malformed HTTP
    [
      'headers over 16 KiB',
      () => raw(server.port, `GET /api/data HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      431,
      'headers_too_large',
    ],
    ['garbage request line', () => raw(server.port, 'GARBAGE\r\n\r\n'), 400, 'bad_request'],
    [
      'HTTP/1.1 without Host',
      () => raw(server.port, 'GET /api/data HTTP/1.1\r\nConnection: close\r\n\r\n'),
      400,
      'invalid_host',
    ],
    [
      'two Host headers',
      () =>
        raw(
          server.port,
          'GET /api/data HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
        ),
      400,
      'invalid_host',
    ],
    [
      'an absolute-form target naming a foreign host',
      () =>
        raw(server.port, 'GET http://evil.example/api/data HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      403,
      'host_not_allowed',
    ],
    [
      'an absolute-form target naming this server',
      () => raw(server.port, 'GET http://localhost/api/data HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      200,
      '',
    ],
    [
      'a target that is neither a path nor a URL',
      () => raw(server.port, 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      400,
      'bad_request',
    ],
    [
      'a Host this server does not answer for (DNS rebinding)',
      () => raw(server.port, 'GET /api/data HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n'),
      403,
      'host_not_allowed',
    ],
    [
      'header without a colon',
      () => raw(server.port, 'GET /api/data HTTP/1.1\r\nHost: localhost\r\nNoColonHere\r\n\r\n'),
      400,
      'bad_request',
    ],
    [
      'control character in a header',
      () => raw(server.port, 'GET /api/data HTTP/1.1\r\nHost: localhost\r\nX-A: a\u0001b\r\n\r\n'),
      400,
      'bad_request',
    ],
    [
      'two Content-Lengths',
      () =>
        raw(
          server.port,
          'POST /api/start HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
        ),
      400,
      'bad_request',
    ],
    [
      'bad chunk size',
      () => raw(server.port, 'POST /api/start HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
      400,
      'invalid_body',
    ],
    // Static files
    ['traversal ../', () => rawGet('/../package.json'), 404, 'not_found'],
    ['traversal encoded dots', () => rawGet('/%2e%2e/package.json'), 404, 'not_found'],
    ['traversal encoded slash', () => rawGet('/..%2f..%2fetc%2fpasswd'), 404, 'not_found'],
    ['traversal double-encoded', () => rawGet('/%252e%252e/package.json'), 404, 'not_found'],
    ['traversal backslash', () => rawGet('/..\\..\\package.json'), 404, 'not_found'],
    ['traversal in assets', () => rawGet('/assets/../../server/main.ts'), 404, 'not_found'],
    ['NUL in a path', () => rawGet('/index.html%00.png'), 404, 'not_found'],
    ['broken percent-encoding', () => rawGet('/%zz'), 400, 'invalid_path'],
    ['broken percent-encoding under /api', () => rawGet('/api/%zz'), 400, 'invalid_path'],
    ['broken percent-encoding in a session id', () => rawGet('/api/stream/AAAAAAAAAAAAAAA%zz'), 400, 'invalid_path'],
    // Unknown API routes
    ['unknown API route', () => get('/api/nope'), 404, 'not_found'],
    // The watch stream checks its resume point like a session stream
    ['watch: since letters', () => get('/api/stream?since=abc'), 400, 'invalid_since'],
    [
      'watch: Last-Event-ID negative',
      () => get('/api/stream', { 'Last-Event-ID': '-1' }),
      400,
      'invalid_last_event_id',
    ],
    ['watch: full=yes', () => get('/api/stream?full=yes'), 400, 'invalid_full'],
    ['PUT /api/stream', () => http(`${base}/api/stream`, { method: 'PUT' }), 405, 'method_not_allowed'],
    ['data with a suffix', () => get('/api/data/extra'), 404, 'not_found'],
    // Tokens
    ['no token', () => http(`${base}/api/start`, { method: 'POST' }), 401, 'unauthorized'],
    ['stop without a token', () => http(`${base}/api/stop/${session}`, { method: 'POST' }), 401, 'unauthorized'],
    ['empty bearer', () => authed('Bearer '), 401, 'unauthorized'],
    ['basic auth', () => authed('Basic dXNlcjpwYXNz'), 401, 'unauthorized'],
    ['not a JWT', () => authed('Bearer not.a.jwt'), 401, 'unauthorized'],
    [
      'wrong secret',
      async () => authed(`Bearer ${await token({}, { secret: new TextEncoder().encode('x'.repeat(40)) })}`),
      401,
      'unauthorized',
    ],
    ['expired', async () => authed(`Bearer ${await token({}, { exp: '-1m' })}`), 401, 'unauthorized'],
    ['wrong audience', async () => authed(`Bearer ${await token({ aud: 'someone-else' })}`), 401, 'unauthorized'],
    [
      'alg none',
      () => authed(`Bearer ${new UnsecuredJWT({}).setAudience('livetable').setExpirationTime('5m').encode()}`),
      401,
      'unauthorized',
    ],
    ['HS512 instead of HS256', async () => authed(`Bearer ${await token({}, { alg: 'HS512' })}`), 401, 'unauthorized'],
    [
      'token in the query',
      () => http(`${base}/api/start?access_token=${goodToken}`, { method: 'POST' }),
      401,
      'unauthorized',
    ],
  ];

  it(`has at least 60 hostile requests (${cases.length + 4} with the limits below)`, () => {
    expect(cases.length + 4).toBeGreaterThanOrEqual(60);
  });

  it.each(cases)('%s → %i %s', async (_name, send, status, code) => {
    const before = (await http(`${base}/api/data`)).body;
    const answer = await send();
    expect(answer.status).toBe(status);
    if (code !== '') {
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(JSON.parse(answer.body)).toEqual({ status: 'error', code, message: expect.stringMatching(/\w/) });
    }
    if (status === 401) expect(answer.headers['www-authenticate']).toMatch(/^Bearer/);
    if (status === 405) expect(answer.headers['allow']).toBeTruthy();
    // The server is up and the table did not move.
    const after = JSON.parse((await http(`${base}/api/data`)).body) as DataResponse;
    expect({ ...after, timestamp: '' }).toEqual({ ...(JSON.parse(before) as DataResponse), timestamp: '' });
  });

  it('limits: streams per session, streams in all, sessions, and starts per address → 429 with Retry-After', async () => {
    holders.push(await stream(session), await stream(session));
    const perSession = await get(`/api/stream/${session}`);
    expect(perSession.status).toBe(429);
    expect(JSON.parse(perSession.body).code).toBe('too_many_session_connections');

    const second = JSON.parse((await post('/api/start')).body) as StartResponse;
    holders.push(await stream(second.session_id));
    const third = JSON.parse((await post('/api/start')).body) as StartResponse;
    const total = await get(`/api/stream/${third.session_id}`);
    expect(total.status).toBe(429);
    expect(JSON.parse(total.body).code).toBe('too_many_connections');

    // The burst of 3 is spent (three starts so far); the next start waits.
    const rate = await post('/api/start');
    expect(rate.status).toBe(429);
    expect(JSON.parse(rate.body).code).toBe('rate_limited');
    for (const answer of [perSession, total, rate]) expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);

    const metrics = JSON.parse((await get('/api/metrics')).body) as MetricsResponse;
    expect(metrics.total_connections).toBe(3);
  });

  it('too many sessions → 429', async () => {
    const other = await startTestServer({ maxSessions: 1, updateInterval: 600_000 });
    try {
      expect((await http(`${other.url}/api/start`, { method: 'POST' })).status).toBe(200);
      const refused = await http(`${other.url}/api/start`, { method: 'POST' });
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body).code).toBe('too_many_sessions');
    } finally {
      await other.close();
    }
  });

  it('a valid token starts and stops; an allowed origin gets CORS headers, never *', async () => {
    const preflight = await http(`${base}/api/start`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    const foreign = await get('/api/data', { Origin: 'https://evil.example' });
    expect(foreign.status).toBe(200);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const stopped = await post(`/api/stop/${session}`, { Origin: 'https://app.example' });
    expect(stopped.status).toBe(200);
    expect(stopped.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it('sends the security headers on every kind of answer', async () => {
    const answers = [
      await get('/api/data'),
      await get('/api/nope'),
      await rawGet('/../x'),
      // Refused by the HTTP parser, before the app: written raw.
      await raw(server.port, 'GARBAGE\r\n\r\n'),
      // A target the app never routes.
      await raw(server.port, 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
    ];
    for (const answer of answers) {
      expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['referrer-policy']).toBe('no-referrer');
    }
  });
});
