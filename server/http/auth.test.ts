import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import type { Request } from 'polka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../server.js';
import { startTestServer } from '../../test-support/testServer.js';
import { authOwner, ownerKey, requireBearer } from './auth.js';

/** A real HTTP server on a free port of 127.0.0.1. */
async function listen(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/jwks.json` };
}

/** Closes a server even while it holds connections that never got an answer. */
function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const now = () => Math.floor(Date.now() / 1000);

describe('--auth-jwks-url', () => {
  let jwks: Server;
  let livetable: RunningServer;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let strangerKeys: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    keys = await generateKeyPair('ES256');
    strangerKeys = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    livetable = await startTestServer({
      authJwksUrl: `http://127.0.0.1:${port}/jwks.json`,
      authIssuer: 'https://issuer.example',
      updateInterval: 600_000,
    });
  });

  afterAll(async () => {
    await livetable.close();
    jwks.close();
  });

  /** A token of the set's key; `exp: null` leaves the expiry out, `iat` is in epoch seconds. */
  const sign = (
    key: CryptoKey,
    claims: { kid?: string; iss?: string; aud?: string; exp?: string | null; iat?: number } = {},
  ) => {
    const jwt = new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: claims.kid ?? 'k1' })
      .setIssuer(claims.iss ?? 'https://issuer.example')
      .setAudience(claims.aud ?? 'livetable');
    if (claims.exp !== null) jwt.setExpirationTime(claims.exp ?? '2m');
    if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
    return jwt.sign(key);
  };
  const start = (token: string, scheme = 'Bearer ') =>
    fetch(`${livetable.url}/api/start`, { method: 'POST', headers: { Authorization: `${scheme}${token}` } });
  const stop = async (response: Response) => {
    const { session_id } = (await response.json()) as { session_id: string };
    const stopped = await fetch(`${livetable.url}/api/stop/${session_id}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await sign(keys.privateKey)}` },
    });
    expect(stopped.status).toBe(200);
  };
  const activeSessions = async () =>
    ((await (await fetch(`${livetable.url}/api/metrics`)).json()) as { active_sessions: number }).active_sessions;

  it('accepts a token signed by a key of the set', async () => {
    const response = await start(await sign(keys.privateKey));
    expect(response.status).toBe(200);
    await stop(response);
  });

  it.each([
    ['a key outside the set', () => sign(strangerKeys.privateKey)],
    // The set answers, but has no such key: the token's fault, not an outage.
    ['a kid the set does not have', () => sign(strangerKeys.privateKey, { kid: 'k2' })],
    ['another issuer', () => sign(keys.privateKey, { iss: 'https://other.example' })],
    ['another audience', () => sign(keys.privateKey, { aud: 'other' })],
    ['a signer that set no expiry', () => sign(keys.privateKey, { exp: null })],
    ['a signer whose clock is a minute ahead (iat in the future)', () => sign(keys.privateKey, { iat: now() + 60 })],
  ])('refuses a token from %s with 401 and starts nothing', async (_name, make) => {
    const before = await activeSessions();
    const response = await start(await make());
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await response.json()).toMatchObject({ status: 'error', code: 'unauthorized' });
    expect(await activeSessions()).toBe(before);
  });

  it('says a token without exp is refused because it must expire', async () => {
    const response = await start(await sign(keys.privateKey, { exp: null }));
    expect(response.status).toBe(401);
    expect(((await response.json()) as { message: string }).message).toMatch(/must expire/);
  });

  it.each([
    ['no iat', () => sign(keys.privateKey)],
    ['an iat of now', () => sign(keys.privateKey, { iat: now() })],
    ['an iat a few seconds ahead, within the 5 s clock skew', () => sign(keys.privateKey, { iat: now() + 3 })],
  ])('accepts a token with %s', async (_name, make) => {
    const response = await start(await make());
    expect(response.status).toBe(200);
    await stop(response);
  });

  it.each(['bearer ', 'BEARER ', 'bEaReR ', 'Bearer   ', 'Bearer\t'])(
    'takes the scheme case-insensitively and with extra whitespace: %j',
    async (scheme) => {
      const response = await start(await sign(keys.privateKey), scheme);
      expect(response.status).toBe(200);
      await stop(response);
    },
  );

  it.each(['Basic ', 'Bearer', 'Bearerx ', 'Token ', 'Bearer a '])(
    'refuses another scheme or a malformed credential: %j',
    async (scheme) => {
      const before = await activeSessions();
      const response = await start(await sign(keys.privateKey), scheme);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'unauthorized' });
      expect(await activeSessions()).toBe(before);
    },
  );
});

describe('--auth-jwks-url that cannot be read', () => {
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwk: object;

  beforeAll(async () => {
    keys = await generateKeyPair('ES256');
    jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  });

  const token = () =>
    new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setAudience('livetable')
      .setExpirationTime('2m')
      .sign(keys.privateKey);

  /** Starts a session on a Livetable reading its keys from `jwksUrl`; returns the answer and how long it took. */
  const startWith = async (jwksUrl: string) => {
    const livetable = await startTestServer({ authJwksUrl: jwksUrl, updateInterval: 600_000 });
    try {
      const began = Date.now();
      const response = await fetch(`${livetable.url}/api/start`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${await token()}` },
      });
      const body = (await response.json()) as { code: string };
      const metrics = (await (await fetch(`${livetable.url}/api/metrics`)).json()) as { active_sessions: number };
      return { response, body, elapsed: Date.now() - began, activeSessions: metrics.active_sessions };
    } finally {
      await livetable.close();
    }
  };

  const expectUnavailable = (answer: Awaited<ReturnType<typeof startWith>>) => {
    expect(answer.response.status).toBe(503);
    expect(answer.body).toMatchObject({ status: 'error', code: 'auth_unavailable' });
    expect(answer.response.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    // jose gives up on the set after 3 s; this bound only says "not hanging".
    expect(answer.elapsed).toBeLessThan(10_000);
    expect(answer.activeSessions).toBe(0);
  };

  it.each<[string, RequestListener]>([
    ['never answers', () => {}],
    [
      'sends headers and then nothing',
      (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders(),
    ],
    ['answers HTTP 500', (_req, res) => res.writeHead(500).end('{"keys":[]}')],
    ['answers with something other than JSON', (_req, res) => res.writeHead(200).end('<html>maintenance</html>')],
    ['answers JSON that is not a key set', (_req, res) => res.writeHead(200).end('{"hello":"world"}')],
  ])('answers 503 auth_unavailable, promptly, when the set %s', async (_name, handler) => {
    const { server, url } = await listen(handler);
    try {
      expectUnavailable(await startWith(url));
    } finally {
      await close(server);
    }
  });

  it('answers 503 auth_unavailable, promptly, when nothing listens at the set’s address', async () => {
    const { server, url } = await listen(() => {});
    await close(server); // the port is free now, and refuses connections
    expectUnavailable(await startWith(url));
  });

  it('accepts tokens again once the set answers again', async () => {
    let up = false;
    const { server, url } = await listen((_req, res) => {
      if (!up) return void res.writeHead(500).end();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    const livetable = await startTestServer({ authJwksUrl: url, updateInterval: 600_000 });
    try {
      const start = async () =>
        fetch(`${livetable.url}/api/start`, { method: 'POST', headers: { Authorization: `Bearer ${await token()}` } });
      expect((await start()).status).toBe(503);
      up = true;
      expect((await start()).status).toBe(200);
    } finally {
      await livetable.close();
      await close(server);
    }
  });
});

describe('authOwner', () => {
  const secret = 'a-test-secret-that-is-long-enough-for-hs256';
  const key = new TextEncoder().encode(secret);
  const sign = (claims: JWTPayload = { sub: 'alice' }) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setAudience('livetable').setExpirationTime('2m').sign(key);

  /** Runs the middleware on a request with this Authorization header; resolves to the request and whether next ran. */
  const check = async (options: Parameters<typeof requireBearer>[0], authorization?: string) => {
    const req = { headers: authorization === undefined ? {} : { authorization } } as unknown as Request;
    let passed = false;
    let error: unknown;
    try {
      await requireBearer(options)(req, {} as ServerResponse, () => {
        passed = true;
      });
    } catch (caught) {
      error = caught;
    }
    return { req: req as IncomingMessage, passed, error };
  };

  it('is undefined when auth is off', async () => {
    const { req, passed } = await check({ audience: 'livetable' }, `Bearer ${await sign({ sub: 'alice' })}`);
    expect(passed).toBe(true);
    expect(authOwner(req)).toBeUndefined();
  });

  it('is undefined before the check ran', () => {
    expect(authOwner({ headers: {} } as IncomingMessage)).toBeUndefined();
  });

  it('is the token’s sub within its issuer after a valid token', async () => {
    const { req, passed } = await check({ secret, audience: 'livetable' }, `Bearer ${await sign({ sub: 'alice' })}`);
    expect(passed).toBe(true);
    expect(authOwner(req)).toBe(ownerKey(undefined, 'alice'));
    const issued = await check(
      { secret, audience: 'livetable' },
      `Bearer ${await sign({ sub: 'alice', iss: 'https://a.example' })}`,
    );
    expect(authOwner(issued.req)).toBe(ownerKey('https://a.example', 'alice'));
    // The same subject from another issuer is someone else.
    expect(ownerKey('https://a.example', 'alice')).not.toBe(ownerKey('https://b.example', 'alice'));
  });

  it('refuses a token with no sub: a session must belong to someone', async () => {
    const { req, passed, error } = await check({ secret, audience: 'livetable' }, `Bearer ${await sign({})}`);
    expect(passed).toBe(false);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', message: expect.stringContaining('sub') });
    expect(authOwner(req)).toBeUndefined();
  });

  it('is not set, and the request goes no further, after a refused token', async () => {
    const { req, passed, error } = await check({ secret, audience: 'other' }, `Bearer ${await sign({ sub: 'alice' })}`);
    expect(passed).toBe(false);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(authOwner(req)).toBeUndefined();
  });

  it('refuses a token whose sub is not a string', async () => {
    const { passed, error } = await check(
      { secret, audience: 'livetable' },
      `Bearer ${await sign({ sub: 42 } as unknown as JWTPayload)}`,
    );
    expect(passed).toBe(false);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});
