import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import type { Row, StreamEvent } from '../protocol.js';

/** Milliseconds a client waits before it reconnects, sent as the stream's first line. */
export const RETRY_MS = 1000;

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
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

// An event reaches every connection as the same object, so it is serialized
// once for all of them.
const frames = new WeakMap<StreamEvent, string>();
const fullFrames = new WeakMap<StreamEvent, string>();

function frameOf(event: StreamEvent): string {
  let frame = frames.get(event);
  if (frame === undefined) frames.set(event, (frame = formatEvent(event)));
  return frame;
}

/** A change with the whole table, as the original demo sent it (`?full=1`). */
function fullFrameOf(event: StreamEvent, rows: () => Row[]): string {
  if (event.type === 'init' || event.type === 'heartbeat' || event.type === 'end') return frameOf(event);
  let frame = fullFrames.get(event);
  if (frame === undefined) fullFrames.set(event, (frame = formatEvent({ ...event, table_data: rows() })));
  return frame;
}

/** Counts messages written to sockets but not yet handed to the kernel. */
export interface SendStats {
  pending: number;
}

export interface StreamOptions {
  /** Put the whole table into every change event. */
  full: boolean;
  rows: () => Row[];
  stats: SendStats;
  /** Called once when the connection is over, whichever side ended it. */
  onClose: () => void;
  onError: (error: unknown) => void;
}

/**
 * Serializes `events$` onto `res` as an SSE stream. The stream ends when the
 * observable completes; when the client goes away the subscription is dropped.
 */
export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  events$: Observable<StreamEvent>,
  options: StreamOptions,
): void {
  const { full, rows, stats, onClose, onError } = options;
  let closed = false;
  let queued = 0;
  const flushed = () => {
    if (closed) return;
    queued--;
    stats.pending--;
  };

  req.socket.setNoDelay(true);
  res.writeHead(200, SSE_HEADERS);
  res.write(`retry: ${RETRY_MS}\n\n`);

  const subscription = events$.subscribe({
    next(event) {
      if (closed) return;
      queued++;
      stats.pending++;
      res.write(full ? fullFrameOf(event, rows) : frameOf(event), flushed);
    },
    complete() {
      res.end();
    },
    error(error: unknown) {
      onError(error);
      res.destroy();
    },
  });

  res.once('close', () => {
    closed = true;
    stats.pending -= queued;
    queued = 0;
    subscription.unsubscribe();
    onClose();
  });
}
