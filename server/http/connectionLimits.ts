import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientKey } from './clientAddress.js';
import { BODY_CUT_OFF, CLIENT_GONE, rawAnswer, refusalOf, type RawRefusal } from './clientErrors.js';
import { SECURITY_HEADERS } from './guards.js';
import { HttpError, sendError } from './httpError.js';
import { eventStreams } from './sse.js';

/** Seconds a client refused for holding too many connections should wait: a back-off. */
const RETRY_AFTER_S = 5;
/** How long a refused connection may take to read its answer before it is cut. */
const LINGER_MS = 1000;
/** Clients cut off at once, at most; past this the oldest is forgiven early. */
const MAX_CUT_OFF = 10_000;

/**
 * Turns an absolute-form target (`GET http://host/path`, which servers must
 * accept) into the path the app routes on, its authority becoming `Host` as
 * RFC 9112 says, so the Host check sees it. False for a target that is
 * neither a path nor an http URL.
 */
function originForm(req: IncomingMessage): boolean {
  const target = req.url ?? '';
  if (target.startsWith('/')) return true;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return false;
  }
  if (!/^https?:$/.test(url.protocol) || url.host === '') return false;
  req.headers.host = url.host;
  req.url = `${url.pathname}${url.search}`;
  return true;
}

export interface ConnectionLimitOptions {
  /** Open connections one client (see clientKey) may hold, streaming or not. */
  maxPerAddress: number;
  /**
   * Requests one connection may have in flight at once. Browsers never
   * pipeline; a client that sends more before it reads an answer is not
   * waiting for them, and each one would hold a whole answer in memory.
   */
  maxInFlight: number;
  /**
   * Bytes of answers a connection may leave unread and still send another
   * request. One answer may be larger; the next request on it is refused.
   */
  maxQueued: number;
  /**
   * Milliseconds a client whose connection was cut for pipelining is cut
   * off: its new connections are closed as they come, before a byte is read,
   * so a flood of pipelined requests costs the parser one read, not one per
   * reconnect. 0: never.
   */
  cutOffMs: number;
  /** Told of each connection refused or cut for what its client did. */
  onRefused: (client: string, code: string, note: string) => void;
}

interface ConnectionState {
  client: string;
  /** Answers not yet finished, oldest first; all but the first wait for it. */
  inFlight: Set<ServerResponse>;
  /** Answered and closing: requests that still arrive on it are ignored. */
  refused: boolean;
  /** Requests that arrived after it was answered 429; a second is pipelining. */
  ignored: number;
}

/**
 * Bounds what one client can make the server hold: how many connections it
 * has open (a stream holds one), how many pipelined requests one connection
 * has in flight, and how many bytes of answers it may leave unread before it
 * asks for more. It also answers what Node's parser refuses (bad requests,
 * slow ones) on the connection itself. Wraps the app's request listener;
 * every record it keeps is dropped with its connection.
 */
export function limitConnections(server: Server, handler: RequestListener, options: ConnectionLimitOptions) {
  const perClient = new Map<string, number>();
  const states = new WeakMap<Socket, ConnectionState>();
  // Client → when its cut-off ends, in the order they were cut off.
  const cutOff = new Map<string, number>();

  const isCutOff = (client: string): boolean => {
    const t = Date.now();
    for (const [key, until] of cutOff) {
      if (until > t && cutOff.size <= MAX_CUT_OFF) break;
      cutOff.delete(key);
    }
    return cutOff.has(client);
  };

  /** Writes `refusal` and closes the connection once the client has it. */
  const answerAndClose = (socket: Socket, state: ConnectionState, refusal: RawRefusal) => {
    state.refused = true;
    options.onRefused(state.client, refusal.code, refusal.note);
    if (!socket.writable) return void socket.destroy();
    socket.end(rawAnswer(refusal, SECURITY_HEADERS));
    // Ending only half-closes: a client that never closes its side is cut.
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };

  /** Cuts a connection for what its client did; pipelining abuse cuts the client off for a while. */
  const cut = (socket: Socket, state: ConnectionState, code: string, note: string, cutOffToo = false) => {
    state.refused = true;
    options.onRefused(state.client, code, note);
    if (cutOffToo && options.cutOffMs > 0) {
      cutOff.delete(state.client);
      cutOff.set(state.client, Date.now() + options.cutOffMs);
    }
    socket.destroy();
  };

  server.on('connection', (socket: Socket) => {
    const client = clientKey(socket.remoteAddress);
    if (cutOff.size > 0 && isCutOff(client)) {
      options.onRefused(client, 'cut_off', 'connection closed: its client is cut off for pipelining');
      return void socket.destroy();
    }
    const open = (perClient.get(client) ?? 0) + 1;
    perClient.set(client, open);
    const state: ConnectionState = { client, inFlight: new Set(), refused: false, ignored: 0 };
    states.set(socket, state);
    socket.once('close', () => {
      const left = (perClient.get(client) ?? 1) - 1;
      if (left === 0) perClient.delete(client);
      else perClient.set(client, left);
    });
    if (open > options.maxPerAddress) {
      answerAndClose(socket, state, {
        status: 429,
        reason: 'Too Many Requests',
        code: 'too_many_address_connections',
        message: `This address has ${options.maxPerAddress} open connections, the most allowed.`,
        note: 'connection over the per-address limit',
        headers: { 'Retry-After': String(RETRY_AFTER_S) },
      });
    }
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const state = states.get(socket);
    if (state === undefined || state.refused || CLIENT_GONE.has(error.code ?? '')) return void socket.destroy();
    const [current] = state.inFlight;
    if (current === undefined) return answerAndClose(socket, state, refusalOf(error));
    // A request is being answered. If it is the one whose body broke, it has
    // not been answered yet: say so. If a request pipelined behind it broke,
    // an answer here would be taken for the earlier one's: only cut.
    if (!current.req.complete && !current.headersSent) {
      const late = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      return answerAndClose(socket, state, late ? refusalOf(error) : BODY_CUT_OFF);
    }
    cut(socket, state, 'bad_request', 'connection cut: a broken request behind an answer');
  });

  const queuedBytes = (socket: Socket, state: ConnectionState): number => {
    let bytes = socket.writableLength;
    for (const res of state.inFlight) if (res.socket === null) bytes += res.writableLength;
    return bytes;
  };

  const limited: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const state = states.get(socket);
    if (state === undefined || socket.destroyed) return;
    if (state.refused) {
      // The request a client sent before it read its 429 is fine; more than
      // one is pipelining past a refusal, which would dodge every bound.
      if (++state.ignored > 1) cut(socket, state, 'too_many_pipelined', 'connection cut: pipelines past a 429', true);
      return;
    }
    const [current] = state.inFlight;
    // Anything behind an event stream would wait for ever, holding its answer.
    if (current !== undefined && eventStreams.has(current)) {
      return cut(socket, state, 'pipelined_behind_stream', 'connection cut: requests pipelined behind a stream', true);
    }
    if (state.inFlight.size >= options.maxInFlight) {
      return cut(socket, state, 'too_many_pipelined', 'connection cut: too many pipelined requests', true);
    }
    if (queuedBytes(socket, state) > options.maxQueued) {
      return cut(socket, state, 'unread_answers', 'connection cut: asks for more while its answers go unread', true);
    }
    state.inFlight.add(res);
    res.once('close', () => state.inFlight.delete(res));
    if (!originForm(req)) {
      return sendError(
        res,
        new HttpError(400, 'bad_request', 'The request target must be a path or an http URL.', SECURITY_HEADERS),
      );
    }
    handler(req, res);
  };

  return {
    listener: limited,
    /** Clients with a connection open now. */
    get clients(): number {
      return perClient.size;
    },
  };
}
