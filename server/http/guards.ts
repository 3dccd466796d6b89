import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'polka';
import { clientKey } from './clientAddress.js';
import { bodyCutOff } from './clientErrors.js';
import { HttpError } from './httpError.js';

/**
 * The app loads only its own scripts, styles and connections; nothing may
 * frame it. Svelte's built CSS is a file and its animations use the Web
 * Animations API, so neither needs 'unsafe-inline'.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Sets the security headers on every response, errors and streams included. */
export const securityHeaders: Middleware = (_req, res, next) => {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  return next();
};

/** A Host header: a name or IPv4 address, or a bracketed IPv6 address, and an optional port. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:\d{1,5})?$/i;
/** Addresses that listen on every interface: they name no host to answer for. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '[::]']);

/**
 * The canonical form of a host name or address as a browser sends it in
 * `Host`: lower-case, no trailing dot, IPv6 bracketed and shortened (`[::1]`);
 * undefined if it is not one.
 */
function canonicalHost(raw: string): string | undefined {
  const host = raw.includes(':') && !raw.startsWith('[') ? `[${raw}]` : raw;
  try {
    return new URL(`http://${host}`).hostname.replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

/**
 * Answers only requests whose `Host` names this server, so a page on another
 * site cannot reach it through DNS rebinding (a name of the attacker's that
 * turns into 127.0.0.1 after the page has loaded). Allowed on any port:
 * localhost, 127.0.0.1, [::1], the listen address unless it is a wildcard
 * (0.0.0.0, ::), and --allowed-hosts, where `.example.com` is example.com and
 * every name under it. An HTTP/1.0 request without `Host` names nothing to
 * rebind and passes; an HTTP/1.1 one, or one with two, is 400 `invalid_host`.
 */
export function hostPolicy({ allowedHosts, host }: { allowedHosts: readonly string[]; host: string }): Middleware {
  const exact = new Set(['localhost', '127.0.0.1', '[::1]']);
  const listen = canonicalHost(host);
  if (listen !== undefined && !WILDCARD_HOSTS.has(listen)) exact.add(listen);
  const suffixes: string[] = [];
  for (const entry of allowedHosts) {
    const name = canonicalHost(entry.replace(/^\./, ''));
    if (name === undefined) continue;
    exact.add(name);
    if (entry.startsWith('.')) suffixes.push(`.${name}`);
  }
  const hostHeaders = (raw: string[]) => {
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === 'host') hosts++;
    return hosts;
  };
  const allowed = (name: string) => exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix));
  return (req, _res, next) => {
    const header = req.headers.host;
    if (header === undefined) {
      if (req.httpVersion === '1.0') return next();
      throw new HttpError(400, 'invalid_host', 'An HTTP/1.1 request must name its host in one Host header.');
    }
    // Counted in the raw headers: `headersDistinct` would build and keep an
    // array for every header of every request, streams' included.
    if (hostHeaders(req.rawHeaders) > 1) {
      throw new HttpError(400, 'invalid_host', 'A request must have one Host header, not several.');
    }
    const match = HOST_HEADER.exec(header);
    const name = match ? canonicalHost(match[1]!) : undefined;
    if (name === undefined || !allowed(name)) {
      throw new HttpError(
        403,
        'host_not_allowed',
        `This server does not answer for the host "${header.slice(0, 100)}"; add it to --allowed-hosts.`,
      );
    }
    return next();
  };
}

const CORS_METHODS = 'GET, POST, PATCH, DELETE, OPTIONS';
const CORS_HEADERS = 'Authorization, Content-Type, If-Match, Last-Event-ID';

function sameOrigin(req: IncomingMessage, origin: string): boolean {
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Cross-origin access for the listed origins only (never `*`). A request
 * from any other foreign origin that would change something is refused, so
 * another site cannot start or stop sessions through a visitor's browser.
 */
export function originPolicy(allowed: readonly string[]): Middleware {
  const allowedSet = new Set(allowed);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined || sameOrigin(req, origin)) return next();
    if (!allowedSet.has(origin)) {
      if (req.method === 'GET' || req.method === 'HEAD') return next(); // the browser withholds the answer
      throw new HttpError(403, 'origin_not_allowed', `Requests from ${origin} are not allowed.`);
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': CORS_METHODS,
        'Access-Control-Allow-Headers': CORS_HEADERS,
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    return next();
  };
}

/**
 * A body refused unread (or half read) is never read to its end: Node would
 * keep the connection and read on, discarding, for as long as the client
 * sends. `Connection: close` makes it close once the answer is out.
 */
const CLOSE = { Connection: 'close' };

const bodyTooLarge = (limit: number) =>
  new HttpError(413, 'body_too_large', `A request body may have at most ${limit} bytes.`, CLOSE);

/**
 * Reads a request body of at most `limit` bytes. The API's POST and PATCH
 * routes take no body or a JSON object; anything else is refused before it
 * is read whole.
 */
export function jsonBody(limit: number): Middleware {
  return async (req, _res, next) => {
    if (req.method !== 'POST' && req.method !== 'PATCH') return next();
    const declared = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && (declared === undefined || declared === '0')) return next();
    if (declared !== undefined && Number(declared) > limit) {
      throw bodyTooLarge(limit);
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new HttpError(415, 'unsupported_media_type', 'A request body must be application/json.', CLOSE);
    }
    const text = await readLimited(req, limit);
    if (text.trim() === '') return next();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'invalid_json', 'The request body is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'invalid_json', 'The request body must be a JSON object.');
    }
    req.body = body;
    return next();
  };
}

/**
 * Reads the body, at most `limit` bytes. A body the client cuts off (it
 * closes the connection, or Node's parser finds broken chunked framing and
 * aborts the request) rejects with a ClientMistake, not a Node error.
 */
function readLimited(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(bodyTooLarge(limit));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // Node emits 'aborted', then 'error' (ECONNRESET), then 'close'; the
    // first one settles the promise, the others find it settled.
    req.once('aborted', () => reject(bodyCutOff()));
    req.once('error', (error) => reject(bodyCutOff(error)));
    req.once('close', () => reject(bodyCutOff()));
  });
}

/** Addresses a rate limiter remembers at once; past this the first seen is forgotten. */
const MAX_BUCKETS = 10_000;

/**
 * Tokens per client address, refilled continuously: a burst, then a steady
 * rate. A full bucket holds no information, so full ones are forgotten: once
 * per full-refill time a sweep drops them, and the map returns to its idle
 * size after a burst from many addresses. Past MAX_BUCKETS addresses the first
 * seen is forgotten, which can only give that address its burst back early.
 */
export function tokenBucket({ perMinute, burst, now }: { perMinute: number; burst: number; now: () => number }) {
  type Bucket = { tokens: number; at: number };
  const buckets = new Map<string, Bucket>();
  /** How long an empty bucket takes to fill up. */
  const fillMs = (burst * 60_000) / perMinute;
  let sweptAt = now();
  const refill = (bucket: Bucket, t: number) => {
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) * perMinute) / 60_000);
    bucket.at = t;
  };
  const sweep = (t: number) => {
    sweptAt = t;
    for (const [key, bucket] of buckets) {
      refill(bucket, t);
      if (bucket.tokens >= burst) buckets.delete(key);
    }
  };
  return {
    /** Takes a token; returns 0 when granted, else the seconds until one is free. */
    take(key: string): number {
      const t = now();
      // Every bucket last used a whole fill time before this is full by now.
      if (t - sweptAt >= fillMs) sweep(t);
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        if (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value as string);
        bucket = { tokens: burst, at: t };
        buckets.set(key, bucket);
      }
      refill(bucket, t);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil(((1 - bucket.tokens) * 60) / perMinute);
    },
    /** Gives back a token taken for something that was then refused. */
    refund(key: string): void {
      const bucket = buckets.get(key);
      if (bucket !== undefined) bucket.tokens = Math.min(burst, bucket.tokens + 1);
    },
    /** Addresses remembered now. */
    get size() {
      return buckets.size;
    },
  };
}

/**
 * Limits requests per client, as `clientOf` names it (its address, or one a
 * trusted proxy gave): POST /api/start by default, or what `what` names.
 */
export function rateLimit(
  bucket: ReturnType<typeof tokenBucket>,
  clientOf: (req: IncomingMessage) => string = (req) => clientKey(req.socket.remoteAddress),
  what = 'sessions started',
): Middleware {
  return (req, _res, next) => {
    const wait = bucket.take(clientOf(req));
    if (wait > 0) {
      throw new HttpError(429, 'rate_limited', `Too many ${what} from this address; wait ${wait} s.`, {
        'Retry-After': String(wait),
      });
    }
    return next();
  };
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new HttpError(400, 'invalid_path', 'The path is not valid percent-encoding.');
  }
}

/** Every path, the API's included, must be valid percent-encoding: 400 otherwise. */
export const refuseBrokenPath: Middleware = (req, _res, next) => {
  decodedPath(req.path);
  return next();
};

/**
 * Paths that try to leave the web root (`..`, encoded or not, backslashes,
 * NUL) get 404 before they reach the file server.
 */
export const refuseTraversal: Middleware = (req, _res, next) => {
  const path = decodedPath(req.path);
  if (/(^|[/\\])\.\.([/\\]|$)|\\|\0/.test(path) || /%2e|%2f|%5c|%00/i.test(path)) {
    throw new HttpError(404, 'not_found', 'No such file.');
  }
  return next();
};
