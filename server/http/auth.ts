import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Middleware } from 'polka';
import { HttpError } from './httpError.js';

export interface AuthOptions {
  /** A shared secret: tokens are HS256-signed with it. */
  secret?: string;
  /** A JWKS URL: tokens are signed by one of its keys (RS256, ES256 or EdDSA). */
  jwksUrl?: string;
  audience: string;
  issuer?: string;
}

/** How far (seconds) the issuer's clock may be off from ours, for `exp`, `nbf` and `iat`. */
const CLOCK_TOLERANCE = 5;
/** How long (ms) one fetch of the JWKS may take, connecting and reading, before it counts as failed. */
const JWKS_TIMEOUT = 3_000;
/** Seconds a client is asked to wait after a 503 `auth_unavailable`. */
const RETRY_AFTER = 5;

const unauthorized = (message: string) =>
  new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer realm="livetable"' });

const unavailable = () =>
  new HttpError(503, 'auth_unavailable', 'The keys that check tokens cannot be fetched just now; try again shortly.', {
    'Retry-After': String(RETRY_AFTER),
  });

/** The scheme is case-insensitive (RFC 7235); the token is one base64url JWS, alone. */
const BEARER = /^[ \t]*bearer[ \t]+([A-Za-z0-9_\-.]+)[ \t]*$/i;

/** `?access_token=` (RFC 6750 §2.3) as the header it stands for: EventSource cannot send headers. */
function queryToken(value: unknown): string {
  return typeof value === 'string' ? `Bearer ${value}` : '';
}

/** What a passed check leaves on the request for the routes after it. */
interface AuthState {
  /** Who the token speaks for: its issuer and subject, as one key (see authOwner). */
  owner: string;
  /** The token's subject (`sub`), as a person would read it. */
  subject: string;
}

type CheckedRequest = IncomingMessage & { auth?: AuthState };

/**
 * Who the token `requireBearer` accepted for this request speaks for: its
 * subject (`sub`) within its issuer (`iss`), as one opaque key, since two
 * issuers of one key set may use the same subject for different people.
 * Undefined when no check passed on this request, always so with auth off.
 */
export function authOwner(req: IncomingMessage): string | undefined {
  return (req as CheckedRequest).auth?.owner;
}

/** The subject (`sub`) of the token `requireBearer` accepted for this request; undefined with auth off. */
export function authSubject(req: IncomingMessage): string | undefined {
  return (req as CheckedRequest).auth?.subject;
}

/** The owner key of a token's claims: `["<iss>","<sub>"]`, `[null,"<sub>"]` without an issuer. */
export const ownerKey = (iss: string | undefined, sub: string): string => JSON.stringify([iss ?? null, sub]);

/** The key set could not be fetched or read: the token was never judged. */
class KeySetUnavailable extends Error {
  override name = 'KeySetUnavailable';
}

/**
 * The keys of a remote JWKS. jose caches the set for 10 minutes, fetches it
 * again at most every 30 s for a token whose `kid` it does not know, and
 * shares one fetch among concurrent requests. Every failure to get a usable
 * set (timeout, refused connection, non-200, not JSON, not a key set) becomes
 * KeySetUnavailable; a set that has no key for the token stays the token's
 * fault.
 */
function remoteKeySet(url: URL): JWTVerifyGetKey {
  const keySet = createRemoteJWKSet(url, {
    timeoutDuration: JWKS_TIMEOUT,
    cooldownDuration: 30_000,
    cacheMaxAge: 600_000,
  });
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new KeySetUnavailable('the JWKS could not be used', { cause: error });
    }
  };
}

/**
 * Requires a valid bearer JWT: signature, algorithm, audience (and issuer
 * when set) are checked; it must carry an `exp` not yet past and no `iat` in
 * the future, both within 5 s of clock skew, and name its subject (`sub`),
 * who the sessions it starts belong to. A passed check records who
 * the token speaks for, for `authOwner`. A JWKS that cannot be fetched within 3 s,
 * or answers something that is not a key set, gives 503 `auth_unavailable`.
 * With `query`, a request without the header may give the token as
 * `?access_token=` (for EventSource). Without a secret or JWKS URL, lets
 * everything through.
 */
export function requireBearer(options: AuthOptions, { query = false }: { query?: boolean } = {}): Middleware {
  const { secret, jwksUrl, audience, issuer } = options;
  if (secret === undefined && jwksUrl === undefined) return (_req, _res, next) => next();
  const key: Uint8Array | JWTVerifyGetKey =
    secret !== undefined ? new TextEncoder().encode(secret) : remoteKeySet(new URL(jwksUrl!));
  const algorithms = secret !== undefined ? ['HS256'] : ['RS256', 'ES256', 'EdDSA'];

  return async (req, _res, next) => {
    const match = BEARER.exec(req.headers.authorization ?? (query ? queryToken(req.query.access_token) : ''));
    if (!match) {
      throw unauthorized(
        query
          ? 'A bearer token is required: Authorization: Bearer <JWT>, or ?access_token=<JWT> where headers cannot be set.'
          : 'A bearer token is required: Authorization: Bearer <JWT>.',
      );
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1]!, key as Uint8Array, {
        algorithms,
        audience,
        issuer,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE,
      }));
    } catch (error) {
      if (error instanceof KeySetUnavailable) throw unavailable();
      if (error instanceof errors.JWTExpired) throw unauthorized('The token has expired.');
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'exp') {
        throw unauthorized('The token must expire: it needs a numeric exp claim.');
      }
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'sub') {
        throw unauthorized('The token must name its subject (sub): the sessions it starts belong to it.');
      }
      if (error instanceof errors.JOSEError) throw unauthorized('The token is not valid here.');
      throw error;
    }
    // jose checks that iat is a number, but its future only along with
    // maxTokenAge, which would also require iat; a token without one is fine.
    if (payload.iat !== undefined && payload.iat > Math.floor(Date.now() / 1000) + CLOCK_TOLERANCE) {
      throw unauthorized('The token was issued in the future (iat): check the issuer’s clock.');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw unauthorized('The token’s sub claim must be a non-empty string.');
    }
    (req as CheckedRequest).auth = { owner: ownerKey(payload.iss, payload.sub), subject: payload.sub };
    return next();
  };
}
