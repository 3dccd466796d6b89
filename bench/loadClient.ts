import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

/** What one load run measured; printed as JSON by the benchmark. */
export interface LoadResult {
  clients: number;
  connected: number;
  failed: number;
  events: number;
  eventsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  bytesPerEvent: number;
  gaps: number;
  seconds: number;
}

export interface LoadOptions {
  host: string;
  port: number;
  /** The request path of one stream. */
  path: string;
  clients: number;
  /** How long to count, after every client connected. */
  seconds: number;
  /** Clients opened at once while connecting. */
  concurrency?: number;
  /** Called with true when counting starts (every client connected) and false when it ends. */
  onCount?: (counting: boolean) => void;
}

/**
 * One SSE client on a raw socket: it decodes chunked transfer encoding (when
 * the body has it) and SSE framing incrementally and reads only `seq` and `timestamp` of each
 * event (no JSON.parse), so the load tool stays cheaper than what it loads.
 */
class RawStreamClient {
  events = 0;
  bytes = 0;
  gaps = 0;
  lastSeq = -1;
  status = 0;
  private head = Buffer.alloc(0);
  private inBody = false;
  private chunked = true;
  private chunkLeft = 0;
  private sizeLine = '';
  private crlfLeft = 0;
  /** The text of the message being received, one piece per read. */
  private parts: string[] = [];
  /** The last read ended in a newline that may start the blank line ending a message. */
  private pendingNewline = false;
  private readonly text = new StringDecoder('utf8');

  constructor(
    readonly socket: Socket,
    private readonly onLatency: (ms: number) => void,
    private readonly counting: () => boolean,
  ) {}

  feed(data: Buffer): void {
    if (!this.inBody) {
      this.head = Buffer.concat([this.head, data]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.status = Number(this.head.toString('latin1', 9, 12));
      this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(this.head.toString('latin1', 0, end + 2));
      data = this.head.subarray(end + 4);
      this.inBody = true;
    }
    // A body without chunked framing runs until the connection closes (Nchan's event streams).
    if (this.chunked) this.dechunk(data);
    else this.sse(data);
  }

  /** Undoes chunked transfer encoding, on bytes. */
  private dechunk(data: Buffer): void {
    let i = 0;
    while (i < data.length) {
      if (this.crlfLeft > 0) {
        const skip = Math.min(this.crlfLeft, data.length - i);
        this.crlfLeft -= skip;
        i += skip;
      } else if (this.chunkLeft === 0) {
        const eol = data.indexOf('\r\n', i);
        if (eol === -1) {
          this.sizeLine += data.toString('latin1', i);
          return;
        }
        this.chunkLeft = parseInt(this.sizeLine + data.toString('latin1', i, eol), 16);
        this.sizeLine = '';
        i = eol + 2;
        if (this.chunkLeft === 0) return; // the last chunk
      } else {
        const take = Math.min(this.chunkLeft, data.length - i);
        this.sse(data.subarray(i, i + take));
        this.chunkLeft -= take;
        i += take;
        if (this.chunkLeft === 0) this.crlfLeft = 2;
      }
    }
  }

  /**
   * Splits SSE text into messages at blank lines. The text of an unfinished
   * message is kept in pieces and joined once, when the message is complete:
   * growing one string and searching it again for every network read would be
   * quadratic in a multi-megabyte init or ?full=1 event.
   */
  private sse(piece: Buffer): void {
    const text = this.text.write(piece);
    let start = 0;
    // The blank line that ends a message may straddle two reads.
    if (this.pendingNewline && text.startsWith('\n')) {
      const last = this.parts.length - 1;
      this.parts[last] = (this.parts[last] as string).slice(0, -1);
      this.message(this.parts.join(''));
      this.parts = [];
      start = 1;
    }
    let end: number;
    while ((end = text.indexOf('\n\n', start)) !== -1) {
      this.parts.push(text.slice(start, end));
      this.message(this.parts.join(''));
      this.parts = [];
      start = end + 2;
    }
    if (start < text.length) this.parts.push(text.slice(start));
    this.pendingNewline = this.parts.length > 0 && text.endsWith('\n');
  }

  private message(event: string): void {
    // The fields sit near the start; a table_data tail can be megabytes.
    const seq = /"seq":(\d+)/.exec(event.slice(0, 200));
    if (seq === null) return; // heartbeats and init are not changes
    const value = Number(seq[1]);
    if (this.lastSeq >= 0 && value !== this.lastSeq + 1) this.gaps++;
    this.lastSeq = value;
    if (!this.counting()) return;
    this.events++;
    this.bytes += Buffer.byteLength(event) + 2; // the change event as sent, blank line included
    const stamp = /"timestamp":"([^"]+)"/.exec(event.length > 4000 ? event.slice(0, 400) + event.slice(-400) : event);
    if (stamp) this.onLatency(Date.now() - Date.parse(stamp[1] as string));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Opens `clients` streams, counts for `seconds`, closes them, and reports. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { host, port, path, clients, seconds, concurrency = 200 } = options;
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') throw new Error('load only loopback');
  const latencies: number[] = [];
  let counting = false;
  const open: RawStreamClient[] = [];
  let failed = 0;

  const connectOne = () =>
    new Promise<void>((resolve) => {
      const socket = connect(port, host);
      const client = new RawStreamClient(
        socket,
        (ms) => latencies.push(ms),
        () => counting,
      );
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (ok) open.push(client);
        else failed++;
        resolve();
      };
      socket.setTimeout(15_000, () => socket.destroy());
      socket.on('connect', () =>
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`),
      );
      socket.on('data', (data) => {
        client.feed(data);
        if (client.status !== 0) settle(client.status === 200);
      });
      socket.on('error', () => settle(false));
      socket.on('close', () => settle(false));
    });

  for (let i = 0; i < clients; i += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, clients - i) }, connectOne));
  }
  for (const client of open) client.socket.setTimeout(0);
  counting = true;
  options.onCount?.(true);
  const started = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  options.onCount?.(false);
  const elapsed = (Date.now() - started) / 1000;
  for (const client of open) client.socket.destroy();

  const events = open.reduce((sum, c) => sum + c.events, 0);
  const bytes = open.reduce((sum, c) => sum + c.bytes, 0);
  latencies.sort((a, b) => a - b);
  return {
    clients,
    connected: open.length,
    failed,
    events,
    eventsPerSecond: Math.round(events / elapsed),
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
    },
    bytesPerEvent: events === 0 ? NaN : Math.round(bytes / Math.max(events, 1)),
    gaps: open.reduce((sum, c) => sum + c.gaps, 0),
    seconds: Math.round(elapsed * 10) / 10,
  };
}
