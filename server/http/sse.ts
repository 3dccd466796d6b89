import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import type { Row, StreamEvent } from '../protocol.js';

/** Milliseconds a client waits before it reconnects, sent as the stream's first line. */
export const RETRY_MS = 1000;

const KEEPALIVE_MS = 30_000;

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
// once for all of them (and a change in history once for every replay).
const frames = new WeakMap<StreamEvent, string>();
// A full frame holds the whole table, so only the newest is kept: live
// delivery hands one change to every connection before the next exists.
let lastFull: { event: StreamEvent; frame: string } | undefined;

function frameOf(event: StreamEvent): string {
  let frame = frames.get(event);
  if (frame === undefined) frames.set(event, (frame = formatEvent(event)));
  return frame;
}

/**
 * A change with the whole table after it, as the original demo sent it
 * (`?full=1`). Only right for a change being delivered live: full streams
 * never replay history (they resume with a fresh `init`).
 */
function fullFrameOf(event: StreamEvent, rows: () => Row[]): string {
  if (event.type === 'init' || event.type === 'heartbeat' || event.type === 'end') return frameOf(event);
  if (lastFull?.event !== event) lastFull = { event, frame: formatEvent({ ...event, table_data: rows() }) };
  return lastFull.frame;
}

// Streams that see the same events in a tick build the same batch: join it
// once and hand the same string to all of them.
let lastBatch: { frames: string[]; text: string } = { frames: [], text: '' };

function joined(frames: string[]): string {
  if (frames.length === 1) return frames[0] as string;
  const last = lastBatch.frames;
  if (last.length === frames.length && frames.every((frame, i) => frame === last[i])) return lastBatch.text;
  lastBatch = { frames, text: frames.join('') };
  return lastBatch.text;
}

/** Counts messages written to sockets but not yet handed to the kernel. */
export interface SendStats {
  pending: number;
  slowDisconnects: number;
}

export interface StreamOptions {
  /** Put the whole table into every change event. */
  full: boolean;
  rows: () => Row[];
  stats: SendStats;
  /**
   * Bytes that may wait unsent for a slow reader. A connection already this
   * far behind when the next event comes is closed; its client resumes later.
   */
  maxBuffer: number;
  onOverflow: () => void;
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
  const { full, rows, stats, maxBuffer, onOverflow, onClose, onError } = options;
  let closed = false;
  let queued = 0;
  // Events that arrive in one run of the event loop (every change of one
  // generator tick) go out as one write: fewer syscalls and TCP packets,
  // each event still its own SSE message with its own id.
  let batch: string[] = [];
  let scheduled = false;
  // A single frame larger than --max-buffer (the init of a big table) is not
  // a slow reader: its own size is allowed until the socket drains.
  let allowance = 0;
  res.on('drain', () => (allowance = 0));

  const flush = () => {
    scheduled = false;
    if (closed || batch.length === 0) return;
    const count = batch.length;
    const text = joined(batch);
    batch = [];
    if (text.length > maxBuffer) allowance = Math.max(allowance, Buffer.byteLength(text));
    queued += count;
    stats.pending += count;
    res.write(text, () => {
      if (closed) return;
      queued -= count;
      stats.pending -= count;
    });
  };

  req.socket.setNoDelay(true);
  // Finds peers that vanished without a FIN (a pulled cable, a dead NAT entry).
  req.socket.setKeepAlive(true, KEEPALIVE_MS);
  res.writeHead(200, SSE_HEADERS);
  res.write(`retry: ${RETRY_MS}\n\n`);

  const subscription = events$.subscribe({
    next(event) {
      if (closed) return;
      if (res.writableLength > maxBuffer + allowance) {
        onOverflow();
        res.destroy();
        return;
      }
      batch.push(full ? fullFrameOf(event, rows) : frameOf(event));
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    complete() {
      flush();
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
