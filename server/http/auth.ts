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

const unauthorized = (message: string) =>
  new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer realm="livetable"' });

/**
 * Requires a valid bearer JWT: signature, algorithm, expiry, audience (and
 * issuer when set) are all checked. Without a secret or JWKS URL, lets
 * everything through.
 */
export function requireBearer(options: AuthOptions): Middleware {
  const { secret, jwksUrl, audience, issuer } = options;
  if (secret === undefined && jwksUrl === undefined) return (_req, _res, next) => next();
  const key: Uint8Array | JWTVerifyGetKey =
    secret !== undefined ? new TextEncoder().encode(secret) : createRemoteJWKSet(new URL(jwksUrl!));
  const algorithms = secret !== undefined ? ['HS256'] : ['RS256', 'ES256', 'EdDSA'];

  return async (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header);
    if (!match) throw unauthorized('A bearer token is required: Authorization: Bearer <JWT>.');
    try {
      await jwtVerify(match[1]!, key as Uint8Array, { algorithms, audience, issuer, clockTolerance: 5 });
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthorized('The token has expired.');
      if (error instanceof errors.JOSEError) throw unauthorized('The token is not valid here.');
      throw error;
    }
    return next();
  };
}
