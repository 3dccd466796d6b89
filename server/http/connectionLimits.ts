import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HttpError, sendError } from './httpError.js';

/** Seconds a client refused for holding too many connections should wait. */
const RETRY_AFTER_S = 5;

export interface ConnectionLimitOptions {
  /** Open connections one client address may hold, streaming or not. */
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
  /** Told once per connection that is cut for what its client did. */
  onRefused: (address: string | undefined, code: string, message: string) => void;
}

interface ConnectionState {
  address: string;
  /** Answers not yet finished, oldest first; all but the first wait for it. */
  inFlight: Set<ServerResponse>;
  /** Over --max-connections-per-address: its first request is answered 429 and it is closed. */
  overLimit: boolean;
}

/**
 * Bounds what one client can make the server hold: how many connections an
 * address has open (a stream holds one), how many pipelined requests one
 * connection has in flight, and how many bytes of answers it may leave
 * unread before it asks for more. Wraps the app's request listener; every
 * record it keeps is dropped with its connection.
 */
export function limitConnections(server: Server, handler: RequestListener, options: ConnectionLimitOptions) {
  const perAddress = new Map<string, number>();
  const states = new WeakMap<Socket, ConnectionState>();

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const open = (perAddress.get(address) ?? 0) + 1;
    perAddress.set(address, open);
    states.set(socket, { address, inFlight: new Set(), overLimit: open > options.maxPerAddress });
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });

  const queuedBytes = (socket: Socket, state: ConnectionState): number => {
    let bytes = socket.writableLength;
    for (const res of state.inFlight) if (res.socket === null) bytes += res.writableLength;
    return bytes;
  };

  const refuse = (socket: Socket, state: ConnectionState, code: string, message: string) => {
    options.onRefused(state.address, code, message);
    socket.destroy();
  };

  const limited: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const state = states.get(socket);
    // The parser may still hand over requests it had read before a cut.
    if (state === undefined || socket.destroyed) return;
    if (state.overLimit) {
      sendError(
        res,
        new HttpError(
          429,
          'too_many_address_connections',
          `This address has more than ${options.maxPerAddress} open connections, the most allowed.`,
          { 'Retry-After': String(RETRY_AFTER_S), Connection: 'close' },
        ),
      );
      options.onRefused(state.address, 'too_many_address_connections', 'connection over the per-address limit');
      return;
    }
    if (state.inFlight.size >= options.maxInFlight) {
      return refuse(socket, state, 'too_many_pipelined', 'connection cut: too many pipelined requests');
    }
    if (queuedBytes(socket, state) > options.maxQueued) {
      return refuse(socket, state, 'unread_answers', 'connection cut: asks for more while its answers go unread');
    }
    state.inFlight.add(res);
    res.once('close', () => state.inFlight.delete(res));
    handler(req, res);
  };

  return {
    listener: limited,
    /** Addresses with a connection open now. */
    get addresses(): number {
      return perAddress.size;
    },
  };
}
