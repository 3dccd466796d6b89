import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { StreamEvent } from '../../shared/protocol.js';

/** Responses that are event streams: they never end, so nothing can be pipelined behind them. */
export const eventStreams = new WeakSet<ServerResponse>();

/** Milliseconds a client waits before it reconnects, sent as the stream's first line. */
export const RETRY_MS = 1000;

const KEEPALIVE_MS = 30_000;

/**
 * An event stream's body is not chunked: it runs until the connection
 * closes, which HTTP/1.1 allows for a response without a length (an event
 * stream never ends by design). Each write is then the events' own bytes,
 * with no chunk size and CRLFs around them. The connection closes with the
 * stream, so nothing can follow it on the connection.
 */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'close',
} as const;

/** The SSE `id:` of an event: changes carry their seq, init the version it holds. */
export function eventId(event: StreamEvent): number | undefined {
  switch (event.type) {
    case 'init':
      return event.version;
    case 'add':
    case 'update':
    case 'delete':
    case 'batch_update':
      return event.seq;
    default:
      return undefined;
  }
}

/**
 * One SSE message. JSON.stringify escapes every line break, so the payload
 * is always a single `data:` line.
 */
export function formatEvent(event: StreamEvent): string {
  const id = eventId(event);
  return `${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(event)}\n\n`;
}

/** Where the fan-out writes one client's messages, already serialized. */
export interface Sink {
  /** Wants every change with the whole table after it (`?full=1`). */
  readonly full: boolean;
  /**
   * Sends `count` messages joined in `text`; false once the stream is over.
   * A Buffer is written as it is: one encoding shared by every stream.
   */
  send(text: string | Buffer, count: number): boolean;
  /** Sends `text` as the last message and ends the stream. */
  end(text: string): void;
  /** Cuts the stream without a last message: to a client that means "reconnect". */
  destroy(): void;
  /** Messages written but not yet read by the client. */
  readonly pending: number;
}

export interface SseStreamOptions {
  full: boolean;
  /**
   * Bytes that may wait unsent for a slow reader. A stream already this far
   * behind when the next message comes is closed; its client resumes later.
   */
  maxBuffer: number;
  onOverflow: (buffered: number) => void;
  /** Called once when the stream is over, whichever side ended it. */
  onClose: () => void;
}

/**
 * One open SSE response. It does no work per message beyond the write: the
 * fan-out hands it text that is already serialized and joined.
 */
export class SseStream implements Sink {
  readonly full: boolean;
  private closed = false;
  /** Messages written since the socket's buffer was last seen empty. */
  private queued = 0;
  /**
   * A single message larger than --max-buffer (the init of a big table) is
   * not a slow reader: its own size is allowed until the socket drains.
   */
  private allowance = 0;
  private readonly socket: Socket;

  constructor(
    req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly options: SseStreamOptions,
  ) {
    this.full = options.full;
    req.socket.setNoDelay(true);
    // Finds peers that vanished without a FIN (a pulled cable, a dead NAT entry).
    req.socket.setKeepAlive(true, KEEPALIVE_MS);
    eventStreams.add(res);
    // Without it Node frames every write as a chunk (see SSE_HEADERS).
    res.removeHeader('Transfer-Encoding');
    res.writeHead(200, SSE_HEADERS);
    res.write(`retry: ${RETRY_MS}\n\n`);
    // The body has no framing (see SSE_HEADERS): after the head, events go
    // straight to the socket, skipping the response's own write path (a cork
    // and a next-tick uncork for every write of every stream).
    this.socket = req.socket;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.closed = true;
      this.queued = 0;
      options.onClose();
    };
    res.once('close', finish);
    // A client may leave while the request waited (a token check): its
    // 'close' has come and gone. Told after the opener has its stream.
    if (req.socket.destroyed) queueMicrotask(finish);
  }

  send(text: string | Buffer, count: number): boolean {
    if (this.closed) return false;
    const { res } = this;
    const buffered = res.writableLength;
    if (buffered > this.options.maxBuffer + this.allowance) {
      this.options.onOverflow(buffered);
      this.closed = true;
      res.destroy();
      return false;
    }
    // An empty buffer means everything written before has gone out, a big
    // init included.
    if (buffered === 0) {
      this.queued = 0;
      this.allowance = 0;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only a text that may be
    // over the limit is measured.
    if (typeof text === 'string' ? text.length * 3 > this.options.maxBuffer : text.length > this.options.maxBuffer) {
      const bytes = Buffer.byteLength(text);
      if (bytes > this.options.maxBuffer) this.allowance = Math.max(this.allowance, bytes);
    }
    this.socket.write(text);
    this.queued += count;
    return true;
  }

  end(text: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.write(text);
    this.res.end();
  }

  /** Messages written but still waiting in this stream's buffer. */
  get pending(): number {
    return this.closed || this.res.writableLength === 0 ? 0 : this.queued;
  }

  /** Cuts the stream: to a client that means "reconnect". */
  destroy(): void {
    this.res.destroy();
  }
}
