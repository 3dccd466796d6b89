import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../server.js';
import { startTestServer } from '../testing/testServer.js';

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

  const sign = (key: CryptoKey, claims: { iss?: string; aud?: string } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(claims.iss ?? 'https://issuer.example')
      .setAudience(claims.aud ?? 'livetable')
      .setExpirationTime('2m')
      .sign(key);
  const start = (token: string) =>
    fetch(`${livetable.url}/api/start`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });

  it('accepts a token signed by a key of the set', async () => {
    const response = await start(await sign(keys.privateKey));
    expect(response.status).toBe(200);
    const { session_id } = (await response.json()) as { session_id: string };
    const stop = await fetch(`${livetable.url}/api/stop/${session_id}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await sign(keys.privateKey)}` },
    });
    expect(stop.status).toBe(200);
  });

  it.each([
    ['a key outside the set', () => sign(strangerKeys.privateKey)],
    ['another issuer', () => sign(keys.privateKey, { iss: 'https://other.example' })],
    ['another audience', () => sign(keys.privateKey, { aud: 'other' })],
  ])('refuses a token from %s with 401 and starts nothing', async (_name, make) => {
    const response = await start(await make());
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ status: 'error', code: 'unauthorized' });
    const metrics = (await (await fetch(`${livetable.url}/api/metrics`)).json()) as { active_sessions: number };
    expect(metrics.active_sessions).toBe(0);
  });
});
