import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import polka, { type Middleware, type Request } from 'polka';
import sirv from 'sirv';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Config } from './config.js';
import { authOwner, requireBearer } from './http/auth.js';
import { clientKey, forwardedClient } from './http/clientAddress.js';
import type { Metrics } from './http/metrics.js';
import {
  hostPolicy,
  jsonBody,
  originPolicy,
  refuseBrokenPath,
  refuseTraversal,
  securityHeaders,
  rateLimit,
  tokenBucket,
} from './http/guards.js';
import { clientMistake } from './http/clientErrors.js';
import { clientMistakeLog } from './http/clientMistakes.js';
import { httpErrorOf } from './http/domainErrors.js';
import { HttpError, sendError, sendJson } from './http/httpError.js';
import { mountRowsApi } from './http/rows.js';
import { eventStreams, SseStream } from './http/sse.js';
import {
  SESSION_ID_PATTERN,
  START_MESSAGE,
  STOP_MESSAGES,
  type DataResponse,
  type MetricsResponse,
  type StartResponse,
  type StopResponse,
} from '../shared/protocol.js';
import type { SessionManager } from './sessions/sessionManager.js';
import type { TableStore } from './store/tableStore.js';

export interface AppDeps {
  config: Pick<
    Config,
    | 'accessLog'
    | 'staticDir'
    | 'heartbeatInterval'
    | 'maxBuffer'
    | 'maxBody'
    | 'startRate'
    | 'startBurst'
    | 'writes'
    | 'writeRate'
    | 'writeBurst'
    | 'minRecords'
    | 'maxRecords'
    | 'allowedOrigins'
    | 'allowedHosts'
    | 'host'
    | 'authSecret'
    | 'authJwksUrl'
    | 'authAudience'
    | 'authIssuer'
    | 'streamAuth'
    | 'trustProxy'
  >;
  store: TableStore;
  sessions: SessionManager;
  logger: Logger;
  now: () => number;
  /** Answers GET /metrics and counts the streams cut for reading too slowly. */
  metrics: Pick<Metrics, 'handler' | 'slowClientsCut'>;
}

const API_ROUTES: Record<string, string[]> = {
  '/api/data': ['GET', 'HEAD'],
  '/api/metrics': ['GET', 'HEAD'],
  '/api/rows': ['POST'],
  '/api/rows/:id': ['GET', 'HEAD', 'PATCH', 'DELETE'],
  '/api/start': ['POST'],
  '/api/stop/:id': ['POST'],
  '/api/stream': ['GET'],
  '/api/stream/:id': ['GET'],
  '/metrics': ['GET', 'HEAD'],
};

/**
 * A URL fit for the log: a token given as `?access_token=` is not written
 * down, however its name is encoded (the query parser decodes names).
 */
export function loggableUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const pairs = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals === -1 ? pair : pair.slice(0, equals);
      let decoded: string;
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '));
      } catch {
        decoded = name;
      }
      return decoded.trim() === 'access_token' ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, start)}?${pairs.join('&')}`;
}

/** A malformed session id is 400 before anything else is asked of the request. */
const validSessionId: Middleware = (req, _res, next) => {
  sessionIdParam(req);
  return next();
};

function sessionIdParam(req: Request): string {
  const id = req.params.id ?? '';
  if (!SESSION_ID_PATTERN.test(id)) {
    throw new HttpError(400, 'invalid_session_id', 'A session id is 16 letters and digits (A-Z, a-z, 0-9).');
  }
  return id;
}

/** The last seq the client holds: `Last-Event-ID` (set by EventSource on reconnect) wins over `?since=`. */
function resumeCursor(req: Request): number | undefined {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') return seqValue(header.trim(), 'Last-Event-ID');
  const since = req.query.since;
  if (since !== undefined) return seqValue(String(since), 'since');
  return undefined;
}

function seqValue(raw: string, name: string): number {
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new HttpError(
      400,
      `invalid_${name.toLowerCase().replaceAll('-', '_')}`,
      `${name} must be a change seq, a whole number ≥ 0.`,
    );
  }
  return value;
}

function fullMode(req: Request): boolean {
  const full = req.query.full;
  if (full === undefined || full === '0' || full === 'false') return false;
  if (full === '1' || full === 'true') return true;
  throw new HttpError(400, 'invalid_full', 'full must be 1, 0, true or false.');
}

/** Builds the HTTP application: the JSON API, the SSE streams and the built web app. */
export function createApp({ config, store, sessions, logger, now, metrics }: AppDeps) {
  const stats = { slowDisconnects: 0 };
  /**
   * The client that per-address limits count: its address (the one
   * --trust-proxy hops back in X-Forwarded-For, behind proxies), or its IPv6 /64.
   */
  const clientAddress = (req: IncomingMessage): string =>
    clientKey(forwardedClient(req.socket.remoteAddress, req.headers['x-forwarded-for'], config.trustProxy));
  // What clients get wrong is logged at info, one line per address per 10 s.
  const mistakes = clientMistakeLog(logger);

  const app = polka({
    onError(err, req, res) {
      const mistake = clientMistake(err);
      if (mistake !== undefined) mistakes.log(clientAddress(req), mistake.code, mistake.note);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (mistake !== undefined) return sendError(res, mistake);
      if (err instanceof HttpError) return sendError(res, err);
      const refusal = httpErrorOf(err);
      if (refusal !== undefined) return sendError(res, refusal);
      logger.error({ err }, 'request failed');
      sendError(res, new HttpError(500, 'internal_error', 'The server failed to handle this request.'));
    },
    onNoMatch(req, res) {
      sendError(res, new HttpError(404, 'not_found', `No route for ${req.method} ${req.path}.`));
    },
  });

  app.use(securityHeaders);
  // Before the Host check, so refused hosts are in the access log too.
  if (config.accessLog) {
    // Method, URL, client and status only: headers may carry credentials.
    const access = pinoHttp({
      logger,
      quietReqLogger: true,
      serializers: {
        req: (req: { method: string; url: string; remoteAddress?: string; headers: Record<string, string> }) => ({
          method: req.method,
          url: loggableUrl(req.url),
          remoteAddress: forwardedClient(req.remoteAddress, req.headers['x-forwarded-for'], config.trustProxy),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    });
    app.use(access as unknown as Middleware);
  }
  app.use(hostPolicy(config), originPolicy(config.allowedOrigins), refuseBrokenPath, (req, res, next) =>
    isApiPath(req.path) ? next() : refuseTraversal(req, res, next),
  );

  const authOptions = {
    secret: config.authSecret,
    jwksUrl: config.authJwksUrl,
    audience: config.authAudience,
    issuer: config.authIssuer,
  };
  const auth = requireBearer(authOptions);
  // A session's stream asks for its owner's token unless --stream-auth says
  // the id alone will do; EventSource may give it as ?access_token=.
  const streamAuth: Middleware =
    config.streamAuth === 'owner' ? requireBearer(authOptions, { query: true }) : (_req, _res, next) => next();
  const body = jsonBody(config.maxBody);
  const starts = tokenBucket({ perMinute: config.startRate, burst: config.startBurst, now });
  const startLimit = rateLimit(starts, clientAddress);
  const writeBucket = tokenBucket({ perMinute: config.writeRate, burst: config.writeBurst, now });

  mountRowsApi(app, {
    store,
    limits: { minRecords: config.minRecords, maxRecords: config.maxRecords },
    writes: config.writes,
    now,
    // As for a start: the body is read before the token is checked, and only
    // a write with a valid token costs a rate token.
    guards: [body, auth, rateLimit(writeBucket, clientAddress, 'writes')],
  });

  app.get('/api/data', (_req, res) => {
    const body: DataResponse = {
      status: 'success',
      data: store.rows(),
      version: store.version,
      timestamp: new Date(now()).toISOString(),
      heartbeat_interval: config.heartbeatInterval,
    };
    sendJson(res, 200, body);
  });

  // The body (at most --max-body bytes) is read before the token is checked,
  // so no answer goes out over a half-read request; the rate limit counts
  // only requests that would start a session.
  app.post('/api/start', body, auth, startLimit, async (req, res) => {
    let session;
    try {
      session = await sessions.start({ address: clientAddress(req), owner: authOwner(req) ?? null });
    } catch (err) {
      // A start refused by a session limit started nothing: it costs no rate token.
      starts.refund(clientAddress(req));
      throw err;
    }
    const body: StartResponse = {
      status: 'success',
      session_id: session.id,
      message: START_MESSAGE,
      expires_at: session.deadline,
    };
    sendJson(res, 200, body);
  });

  app.post('/api/stop/:id', body, auth, async (req, res) => {
    const id = sessionIdParam(req);
    const timestamp = new Date(now()).toISOString();
    const outcome = await sessions.stop(id, authOwner(req));
    if (outcome === 'unknown') {
      throw new HttpError(404, 'session_not_found', `No session ${id} was ever started here.`);
    }
    const body: StopResponse = {
      status: 'success',
      session_id: id,
      outcome,
      message: STOP_MESSAGES[outcome],
      timestamp,
    };
    sendJson(res, 200, body);
  });

  /**
   * Opens an SSE stream on `res` through `connect`, which admits it (or
   * throws the 404/429 a client gets as plain JSON) before the stream starts.
   */
  const openStream = async (
    req: Request,
    res: ServerResponse,
    label: Record<string, string>,
    connect: (cursor: number | undefined, open: () => SseStream) => Promise<() => void>,
  ) => {
    const full = fullMode(req);
    // A stream pipelined behind another answer on its connection could start
    // only once that one is done, and streams are never done: cut it rather
    // than hold a place that cannot be used.
    if (res.socket === null) {
      req.socket.destroy();
      return;
    }
    // Marked before it is admitted (which may wait on the store), so that
    // nothing pipelined behind it meanwhile is taken in.
    eventStreams.add(res);
    // A full stream's events carry the table as it is when sent, which is
    // wrong for replayed changes: it resumes with a fresh init instead.
    const cursor = full ? (resumeCursor(req), undefined) : resumeCursor(req);
    // `release` is known once connect resolves: a stream that fails while
    // opening is closed (and its place given back) by connect itself, and
    // one whose client left before then is released as soon as it is known.
    const connection: { release?: () => void; gone: boolean } = { gone: false };
    connection.release = await connect(cursor, () => {
      return new SseStream(req, res, {
        full,
        maxBuffer: config.maxBuffer,
        onOverflow: (buffered) => {
          stats.slowDisconnects++;
          metrics.slowClientsCut.inc();
          logger.warn({ ...label, buffered }, 'slow reader disconnected');
        },
        onClose: () => {
          connection.gone = true;
          connection.release?.();
        },
      });
    });
    if (connection.gone) connection.release();
  };

  // Polka answers HEAD with the GET handler; a stream has no HEAD.
  for (const path of ['/api/stream', '/api/stream/:id']) {
    app.head(path, () => {
      throw new HttpError(405, 'method_not_allowed', `${path} takes GET, not HEAD.`, { Allow: 'GET' });
    });
  }

  app.get('/api/stream/:id', validSessionId, streamAuth, async (req, res) => {
    const id = sessionIdParam(req);
    await openStream(req, res, { session_id: id }, (cursor, open) =>
      sessions.connect(id, cursor, open, authOwner(req)),
    );
  });

  // The table's changes, whoever makes them, for a page with no session of its own.
  app.get('/api/stream', async (req, res) => {
    await openStream(req, res, { stream: 'watch' }, (cursor, open) => sessions.watch(cursor, open));
  });

  app.get('/api/metrics', (_req, res) => {
    const memory = process.memoryUsage();
    const body: MetricsResponse = {
      active_sessions: sessions.activeSessions,
      total_connections: sessions.streams.open,
      pending_messages: sessions.streams.pending,
      slow_disconnects: stats.slowDisconnects,
      table_records: store.size,
      version: store.version,
      memory_usage: { rss: memory.rss, heap_used: memory.heapUsed },
      uptime: Math.round(process.uptime() * 10) / 10,
    };
    sendJson(res, 200, body);
  });

  // Prometheus's scrape: this node's metrics (docs/operations.md).
  app.get('/metrics', (req, res) => metrics.handler(req, res));

  // A known API path asked with another method gets 405, not 404.
  for (const [path, methods] of Object.entries(API_ROUTES)) {
    app.all(path, (req) => {
      throw new HttpError(405, 'method_not_allowed', `${path} takes ${methods.join(' or ')}, not ${req.method}.`, {
        Allow: methods.join(', '),
      });
    });
  }

  app.use(staticFiles(config.staticDir, logger));

  return { app, mistakes };
}

const isApiPath = (path: string) => path === '/api' || path.startsWith('/api/');

function staticFiles(dir: string, logger: Logger): Middleware {
  if (!existsSync(dir)) {
    logger.warn({ dir }, 'web app not built: run `npm run build`; only the API is served');
    return (req, res, next) => {
      if (isApiPath(req.path)) return next();
      sendError(res, new HttpError(404, 'app_not_built', 'The web app is not built. Run `npm run build`.'));
    };
  }
  const serve = sirv(dir, {
    single: true,
    etag: true,
    setHeaders(res, pathname) {
      // Vite puts a content hash in every asset name, so they never change.
      if (pathname.startsWith('/assets/')) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      else res.setHeader('Cache-Control', 'no-cache');
    },
  });
  return (req, res, next) => {
    if (isApiPath(req.path)) return next();
    serve(req, res, () => next());
  };
}
