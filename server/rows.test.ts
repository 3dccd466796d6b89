import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from './config.js';
import type { ChangeEvent, DataResponse, ErrorBody, Row, RowResponse, WriteResponse } from '../shared/protocol.js';
import type { RunningServer } from './server.js';
import { startRedis, type RedisServer } from '../test-support/redisServer.js';
import { openStream, type StreamClient } from '../test-support/sseClient.js';
import { startTestServer } from '../test-support/testServer.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const tokenOf = (sub: string) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience('livetable')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));

const 王五 = { name: '王五', age: 30, city: '北京', score: 88.5, status: '活跃' };

const servers: RunningServer[] = [];
const streams: StreamClient[] = [];
afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(overrides: Partial<Config> = {}): Promise<RunningServer> {
  const server = await startTestServer({ seedRows: 5, minRecords: 1, maxRecords: 100, ...overrides });
  servers.push(server);
  return server;
}

async function watch(server: RunningServer): Promise<StreamClient> {
  const stream = await openStream(`${server.url}/api/stream`);
  streams.push(stream);
  await stream.waitFor((event) => event.type === 'init');
  return stream;
}

interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T = WriteResponse>(
  server: RunningServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${server.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

const table = async (server: RunningServer) => (await call<DataResponse>(server, 'GET', '/api/data')).body;

/** Asserts that `refused` answers `status` and `code`, and that the table is as it was. */
async function refusedWithoutChange(
  server: RunningServer,
  refused: () => Promise<Answer<unknown>>,
  status: number,
  code: string,
): Promise<ErrorBody> {
  const before = await table(server);
  const answer = await refused();
  expect([answer.status, (answer.body as ErrorBody).code]).toEqual([status, code]);
  expect(answer.body).toMatchObject({ status: 'error', message: expect.any(String) });
  const after = await table(server);
  expect([after.version, after.data]).toEqual([before.version, before.data]);
  return answer.body as ErrorBody;
}

describe('GET /api/rows/:id', () => {
  it('answers the row with its version as ETag, 404 for no such row, 400 for no row id', async () => {
    const server = await start();
    const got = await call<RowResponse>(server, 'GET', '/api/rows/1');
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"0"');
    expect(got.body).toEqual({ status: 'success', data: (await table(server)).data[0] });
    const missing = await call<ErrorBody>(server, 'GET', '/api/rows/99');
    expect([missing.status, missing.body.code]).toEqual([404, 'row_not_found']);
    for (const id of ['0', 'abc', '1.5', '-1', '01', '99999999999999999']) {
      const bad = await call<ErrorBody>(server, 'GET', `/api/rows/${id}`);
      expect([id, bad.status, bad.body.code]).toEqual([id, 400, 'invalid_row_id']);
    }
  });
});

describe('POST /api/rows', () => {
  it('adds a row with a new id, answers 201 with Location and ETag, and every stream gets the add', async () => {
    const server = await start();
    const stream = await watch(server);
    const added = await call(server, 'POST', '/api/rows', 王五);
    expect(added.status).toBe(201);
    expect(added.body).toEqual({ status: 'success', data: { id: 6, ...王五 }, seq: 1 });
    expect(added.headers.get('location')).toBe('/api/rows/6');
    expect(added.headers.get('etag')).toBe('"1"');
    const event = (await stream.waitFor((e) => e.type === 'add')) as ChangeEvent;
    expect(event).toMatchObject({
      type: 'add',
      seq: 1,
      data: { id: 6, ...王五 },
      origin: null,
      generation_count: 0,
      message: '添加了新用户: 王五',
    });
    expect(event).not.toHaveProperty('author');
    expect((await call<RowResponse>(server, 'GET', '/api/rows/6')).body.data).toEqual({ id: 6, ...王五 });
  });

  it('never reuses an id: a row added after a delete gets a new one', async () => {
    const server = await start();
    const first = await call(server, 'POST', '/api/rows', 王五);
    await call(server, 'DELETE', `/api/rows/${first.body.data.id}`);
    const second = await call(server, 'POST', '/api/rows', 王五);
    expect(second.body.data.id).toBe(first.body.data.id + 1);
  });

  // Each refused, with 400 invalid_row naming exactly these fields.
  const badBodies: [string, unknown, string[]][] = [
    ['an empty object', {}, ['name', 'age', 'city', 'score', 'status']],
    ['a missing name', { ...王五, name: undefined }, ['name']],
    ['an empty name', { ...王五, name: '' }, ['name']],
    ['a blank name', { ...王五, name: '   ' }, ['name']],
    ['a name of 41 characters', { ...王五, name: 'x'.repeat(41) }, ['name']],
    ['a name with a newline', { ...王五, name: '王\n五' }, ['name']],
    ['a name with a NUL', { ...王五, name: '王\u0000五' }, ['name']],
    ['a name with a right-to-left override', { ...王五, name: '王\u202e五' }, ['name']],
    ['a name with a lone surrogate', { ...王五, name: '王\ud800' }, ['name']],
    ['a name that is a number', { ...王五, name: 5 }, ['name']],
    ['a city that is an array', { ...王五, city: ['北京'] }, ['city']],
    ['a city with a tab', { ...王五, city: '北\t京' }, ['city']],
    ['an age with a fraction', { ...王五, age: 30.5 }, ['age']],
    ['a negative age', { ...王五, age: -1 }, ['age']],
    ['an age of 151', { ...王五, age: 151 }, ['age']],
    ['an age as text', { ...王五, age: '30' }, ['age']],
    ['a score of 100.1', { ...王五, score: 100.1 }, ['score']],
    ['a negative score', { ...王五, score: -0.5 }, ['score']],
    ['a score with two decimals', { ...王五, score: 88.55 }, ['score']],
    ['a score a hair off one decimal', { ...王五, score: 50.0000000001 }, ['score']],
    ['a score that is 33.3 plus a rounding error', { ...王五, score: 33.300000000000004 }, ['score']],
    ['a score that is null', { ...王五, score: null }, ['score']],
    ['an unknown status', { ...王五, status: 'active' }, ['status']],
    ['an unknown field', { ...王五, nickname: '小五' }, ['nickname']],
    ['an id', { ...王五, id: 1 }, ['id']],
    ['a __proto__ field', JSON.parse(`{"__proto__": {"admin": true}, ${JSON.stringify(王五).slice(1)}`), ['__proto__']],
    ['several bad fields at once', { name: '', age: 200, city: '上海', score: 5, status: '活跃' }, ['name', 'age']],
  ];
  for (const [label, body, fields] of badBodies) {
    it(`refuses ${label} with 400 invalid_row naming ${fields.join(', ')}, and changes nothing`, async () => {
      const server = await start();
      const error = await refusedWithoutChange(
        server,
        () => call(server, 'POST', '/api/rows', body),
        400,
        'invalid_row',
      );
      expect(Object.keys(error.fields ?? {}).sort()).toEqual([...fields].sort());
      for (const why of Object.values(error.fields ?? {})) expect(why).toMatch(/\w/);
    });
  }

  it('takes JSON only: 415 for another type, 400 for broken JSON, a non-object or no body', async () => {
    const server = await start();
    await refusedWithoutChange(
      server,
      () => call(server, 'POST', '/api/rows', 'name=王五', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
    );
    await refusedWithoutChange(server, () => call(server, 'POST', '/api/rows', '{"name":'), 400, 'invalid_json');
    await refusedWithoutChange(server, () => call(server, 'POST', '/api/rows', '[1,2]'), 400, 'invalid_json');
    await refusedWithoutChange(server, () => call(server, 'POST', '/api/rows'), 400, 'invalid_row');
  });

  it('refuses an add past --max-records with 409 and the limit', async () => {
    const server = await start({ maxRecords: 5 });
    const error = await refusedWithoutChange(
      server,
      () => call(server, 'POST', '/api/rows', 王五),
      409,
      'too_many_rows',
    );
    expect(error.limit).toBe(5);
  });
});

describe('PATCH /api/rows/:id', () => {
  it('changes the fields given, answers the row and seq, and streams an update of only what changed', async () => {
    const server = await start();
    const stream = await watch(server);
    const before = (await call<RowResponse>(server, 'GET', '/api/rows/2')).body.data;
    const patched = await call(server, 'PATCH', '/api/rows/2', { name: '赵六', city: '上海', age: before.age });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ status: 'success', data: { ...before, name: '赵六', city: '上海' }, seq: 1 });
    expect(patched.headers.get('etag')).toBe('"1"');
    const event = (await stream.waitFor((e) => e.type === 'update')) as ChangeEvent;
    expect(event.data).toEqual({ id: 2, name: '赵六', city: '上海' });
    expect(event.message).toBe(`更新了用户 ${before.name} 的姓名: ${before.name} → 赵六，城市: ${before.city} → 上海`);
    expect((await call<RowResponse>(server, 'GET', '/api/rows/2')).headers.get('etag')).toBe('"1"');
  });

  it('commits nothing when nothing differs, and answers the row as it is', async () => {
    const server = await start();
    const row = (await call<RowResponse>(server, 'GET', '/api/rows/3')).body.data;
    const same = await call(server, 'PATCH', '/api/rows/3', { score: row.score });
    expect(same.status).toBe(200);
    expect(same.body).toEqual({ status: 'success', data: row, seq: 0 });
    expect((await table(server)).version).toBe(0);
  });

  it('with If-Match: applies on the current ETag, 412 with the row as it is now on an old one', async () => {
    const server = await start();
    const first = await call(server, 'PATCH', '/api/rows/1', { score: 50 }, { 'if-match': '"0"' });
    expect(first.status).toBe(200);
    const stale = await refusedWithoutChange(
      server,
      () => call(server, 'PATCH', '/api/rows/1', { score: 60 }, { 'if-match': '"0"' }),
      412,
      'row_changed',
    );
    expect(stale.data).toEqual(first.body.data);
    const fresh = await call(server, 'PATCH', '/api/rows/1', { score: 70 }, { 'if-match': `"${first.body.seq}"` });
    expect([fresh.status, fresh.body.data.score]).toEqual([200, 70]);
    // A list of ETags, one of them current; * for any version.
    const listed = await call(
      server,
      'PATCH',
      '/api/rows/1',
      { score: 71 },
      { 'if-match': `"0", "${fresh.body.seq}"` },
    );
    expect(listed.status).toBe(200);
    expect((await call(server, 'PATCH', '/api/rows/1', { score: 72 }, { 'if-match': '*' })).status).toBe(200);
    // A weak ETag never matches (If-Match compares strongly).
    await refusedWithoutChange(
      server,
      () => call(server, 'PATCH', '/api/rows/1', { score: 73 }, { 'if-match': 'W/"4"' }),
      412,
      'row_changed',
    );
    await refusedWithoutChange(
      server,
      () => call(server, 'PATCH', '/api/rows/1', { score: 73 }, { 'if-match': '4' }),
      400,
      'invalid_if_match',
    );
  });

  it('refuses bad fields, an empty patch, an id and an unknown row, changing nothing', async () => {
    const server = await start();
    const bad = await refusedWithoutChange(
      server,
      () => call(server, 'PATCH', '/api/rows/1', { score: 'high', mood: 'good' }),
      400,
      'invalid_row',
    );
    expect(Object.keys(bad.fields ?? {}).sort()).toEqual(['mood', 'score']);
    await refusedWithoutChange(server, () => call(server, 'PATCH', '/api/rows/1', {}), 400, 'invalid_row');
    await refusedWithoutChange(server, () => call(server, 'PATCH', '/api/rows/1', { id: 7 }), 400, 'invalid_row');
    await refusedWithoutChange(server, () => call(server, 'PATCH', '/api/rows/99', { age: 3 }), 404, 'row_not_found');
    await refusedWithoutChange(
      server,
      () => call(server, 'PATCH', '/api/rows/1', 'score=1', { 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    );
  });
});

describe('DELETE /api/rows/:id', () => {
  it('deletes the row, answers it with the seq, streams a delete; then 404', async () => {
    const server = await start();
    const stream = await watch(server);
    const row = (await call<RowResponse>(server, 'GET', '/api/rows/4')).body.data;
    const deleted = await call(server, 'DELETE', '/api/rows/4');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ status: 'success', data: row, seq: 1 });
    const event = (await stream.waitFor((e) => e.type === 'delete')) as ChangeEvent;
    expect(event).toMatchObject({ type: 'delete', seq: 1, data: row, message: `删除了用户: ${row.name}` });
    await refusedWithoutChange(server, () => call(server, 'DELETE', '/api/rows/4'), 404, 'row_not_found');
  });

  it('with If-Match: 412 when the row changed since', async () => {
    const server = await start();
    await call(server, 'PATCH', '/api/rows/4', { age: 9 });
    const stale = await refusedWithoutChange(
      server,
      () => call(server, 'DELETE', '/api/rows/4', undefined, { 'if-match': '"0"' }),
      412,
      'row_changed',
    );
    expect(stale.data).toMatchObject({ id: 4, age: 9 });
    expect((await call(server, 'DELETE', '/api/rows/4', undefined, { 'if-match': '"1"' })).status).toBe(200);
  });

  it('refuses a delete below --min-records with 409 and the limit', async () => {
    const server = await start({ minRecords: 5 });
    const error = await refusedWithoutChange(server, () => call(server, 'DELETE', '/api/rows/1'), 409, 'too_few_rows');
    expect(error.limit).toBe(5);
  });
});

describe('the guards on writes', () => {
  it('refuses a foreign Origin with 403 and allows a listed one', async () => {
    const server = await start({ allowedOrigins: ['https://allowed.example'] });
    await refusedWithoutChange(
      server,
      () => call(server, 'POST', '/api/rows', 王五, { origin: 'https://evil.example' }),
      403,
      'origin_not_allowed',
    );
    await refusedWithoutChange(
      server,
      () => call(server, 'DELETE', '/api/rows/1', undefined, { origin: 'https://evil.example' }),
      403,
      'origin_not_allowed',
    );
    const allowed = await call(server, 'PATCH', '/api/rows/1', { age: 40 }, { origin: 'https://allowed.example' });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://allowed.example');
    // The browser's preflight for PATCH with If-Match is allowed.
    const preflight = await fetch(`${server.url}/api/rows/1`, {
      method: 'OPTIONS',
      headers: { origin: 'https://allowed.example', 'access-control-request-method': 'PATCH' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('If-Match');
  });

  it('with auth on: 401 without a token; a token\u2019s subject is the change\u2019s author', async () => {
    const server = await start({ authSecret: SECRET });
    await refusedWithoutChange(server, () => call(server, 'POST', '/api/rows', 王五), 401, 'unauthorized');
    await refusedWithoutChange(server, () => call(server, 'PATCH', '/api/rows/1', { age: 3 }), 401, 'unauthorized');
    await refusedWithoutChange(server, () => call(server, 'DELETE', '/api/rows/1'), 401, 'unauthorized');
    const stream = await watch(server);
    const auth = { authorization: `Bearer ${await tokenOf('alice')}` };
    expect((await call(server, 'POST', '/api/rows', 王五, auth)).status).toBe(201);
    const event = (await stream.waitFor((e) => e.type === 'add')) as ChangeEvent;
    expect(event).toMatchObject({ author: 'alice', message: 'alice 添加了新用户: 王五', origin: null });
    // Reading a row needs no token.
    expect((await call(server, 'GET', '/api/rows/1')).status).toBe(200);
  });

  it('limits writes per client address: 429 with Retry-After past the burst', async () => {
    const server = await start({ writeBurst: 3, writeRate: 1 });
    for (let i = 0; i < 3; i++) expect((await call(server, 'PATCH', '/api/rows/1', { age: 20 + i })).status).toBe(200);
    const before = await table(server);
    const limited = await call<ErrorBody>(server, 'PATCH', '/api/rows/1', { age: 40 });
    expect([limited.status, limited.body.code]).toEqual([429, 'rate_limited']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await table(server)).version).toBe(before.version);
  });

  it('with --writes off: every write 403 writes_disabled, reads still answer', async () => {
    const server = await start({ writes: false });
    await refusedWithoutChange(server, () => call(server, 'POST', '/api/rows', 王五), 403, 'writes_disabled');
    await refusedWithoutChange(server, () => call(server, 'PATCH', '/api/rows/1', { age: 3 }), 403, 'writes_disabled');
    await refusedWithoutChange(server, () => call(server, 'DELETE', '/api/rows/1'), 403, 'writes_disabled');
    expect((await call(server, 'GET', '/api/rows/1')).status).toBe(200);
  });
});

/**
 * Writers patch the same rows at once, each with the ETag it last saw and
 * again after each 412; every write either applies or gets 412, and the
 * final table is what the applied writes say, on every node.
 */
async function concurrentWriters(nodes: RunningServer[]) {
  const WRITERS = 8;
  const ROUNDS = 6;
  const ids = [1, 2, 3];
  const applied: { id: number; seq: number; score: number }[] = [];
  let conflicts = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const node = nodes[writer % nodes.length] as RunningServer;
      for (let round = 0; round < ROUNDS; round++) {
        for (const id of ids) {
          const got = await call<RowResponse>(node, 'GET', `/api/rows/${id}`);
          const tag = got.headers.get('etag') as string;
          const score = writer * 10 + round + id / 10;
          const answer = await call(node, 'PATCH', `/api/rows/${id}`, { score }, { 'if-match': tag });
          if (answer.status === 200) applied.push({ id, seq: answer.body.seq, score });
          else {
            expect([answer.status, (answer.body as unknown as ErrorBody).code]).toEqual([412, 'row_changed']);
            conflicts++;
          }
        }
      }
    }),
  );
  expect(applied.length + conflicts).toBe(WRITERS * ROUNDS * ids.length);
  expect(applied.length).toBeGreaterThan(0);
  // Each applied write got its own seq; the last one applied to a row is the row.
  const seqs = applied.map((write) => write.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  for (const node of nodes) {
    const last = Math.max(...seqs);
    await expect.poll(async () => (await table(node)).version, { timeout: 5000 }).toBeGreaterThanOrEqual(last);
    const rows = new Map((await table(node)).data.map((row: Row) => [row.id, row]));
    for (const id of ids) {
      const writes = applied.filter((write) => write.id === id).sort((a, b) => a.seq - b.seq);
      expect(rows.get(id)?.score).toBe(writes.at(-1)?.score);
    }
  }
  return { applied: applied.length, conflicts };
}

describe('concurrent writers with If-Match', () => {
  it('on one node: each write applies or gets 412, and the table is what the applied writes say', async () => {
    const server = await start({ writeBurst: 10_000 });
    const { conflicts } = await concurrentWriters([server]);
    expect(conflicts).toBeGreaterThan(0);
  });

  describe('on two nodes of one Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('each write applies or gets 412, and both nodes hold what the applied writes say', async () => {
      const cluster = { store: 'redis' as const, redisUrl: redis.url, redisPrefix: 'writers:', writeBurst: 10_000 };
      const a = await start(cluster);
      const b = await start(cluster);
      const { conflicts } = await concurrentWriters([a, b]);
      expect(conflicts).toBeGreaterThan(0);
      expect((await table(a)).data).toEqual((await table(b)).data);
    });
  });
});
