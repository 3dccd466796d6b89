import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

/**
 * SSE clients for `npm run bench:cluster`. They decode the stream as
 * bench/loadClient.ts does (raw sockets, chunked encoding and SSE framing
 * undone incrementally, only `seq` and `timestamp` read, no JSON.parse), and
 * add what a cluster run needs: a counting window opened and closed by the
 * caller (so CPU can be sampled over the same seconds), gaps and duplicates
 * counted apart, streams the server closed, and a check that every client
 * received every change made during the window.
 */

export interface StreamClientsOptions {
  host: string;
  /** Client i connects to ports[i % ports.length]. */
  ports: readonly number[];
  /** The request path of one stream. */
  path: string;
  clients: number;
  /** Clients opened at once while connecting. */
  concurrency?: number;
  /**
   * Loopback addresses the clients come from, 127.0.1.1 on (client i from
   * the (i % sources)th), as different users would: a proxy or a node that
   * limits connections per client address sees each address's share. 1: all
   * from the system's choice, 127.0.0.1.
   */
  sources?: number;
}

export interface WindowResult {
  seconds: number;
  /** Changes received by all clients during the window. */
  events: number;
  eventsPerSecond: number;
  /** Commit (the change's `timestamp`) to arrival at the client, for the changes received during the window. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** The newest seq any client had when the window opened, and when it closed. */
  fromSeq: number;
  toSeq: number;
  /** Changes made during the window, per second (from the seqs). */
  changesPerSecond: number;
}

export interface StreamTotals {
  clients: number;
  connected: number;
  /** Refused or broken before the stream's headers. */
  failed: number;
  /** Why, by HTTP status or `closed` (no answer). */
  failures: Record<string, number>;
  /** Streams the server (or the proxy) closed while they were being measured. */
  closedEarly: number;
  /** A seq more than one past the one before, on any stream. */
  gaps: number;
  /** A seq not above the one before, on any stream. */
  duplicates: number;
  /** `end` events: the session ended under the streams. */
  ends: number;
  /** Clients that received every change of the window (fromSeq, toSeq], once each, and stayed connected. */
  complete: number;
  /** Changes of the window the incomplete clients missed, all together. */
  missing: number;
}

class Client {
  status = 0;
  lastSeq = -1;
  gaps = 0;
  duplicates = 0;
  ends = 0;
  /** Changes with a seq in the window's range, received. */
  covered = 0;
  closed = false;
  private head = Buffer.alloc(0);
  private inBody = false;
  private chunkLeft = 0;
  private sizeLine = '';
  private crlfLeft = 0;
  private parts: string[] = [];
  private pendingNewline = false;
  private readonly text = new StringDecoder('utf8');

  constructor(
    readonly socket: Socket,
    private readonly owner: StreamClients,
  ) {}

  feed(data: Buffer): void {
    if (!this.inBody) {
      this.head = Buffer.concat([this.head, data]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.status = Number(this.head.toString('latin1', 9, 12));
      data = this.head.subarray(end + 4);
      this.inBody = true;
    }
    this.dechunk(data);
  }

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

  private sse(piece: Buffer): void {
    const text = this.text.write(piece);
    let start = 0;
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
    const head = event.slice(0, 200);
    const seq = /"seq":(\d+)/.exec(head);
    if (seq === null) {
      if (head.includes('"type":"end"')) this.ends++;
      return; // heartbeats and init are not changes
    }
    const value = Number(seq[1]);
    if (this.lastSeq >= 0) {
      if (value <= this.lastSeq) this.duplicates++;
      else if (value !== this.lastSeq + 1) this.gaps++;
    }
    if (value > this.lastSeq) this.lastSeq = value;
    this.owner.received(this, value, event);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** `clients` open streams, measured in a window the caller opens and closes. */
export class StreamClients {
  private readonly open: Client[] = [];
  private failed = 0;
  private readonly failures: Record<string, number> = {};
  private counting = false;
  private events = 0;
  private latencies: number[] = [];
  private started = 0;
  /** The window's seqs: (fromSeq, toSeq]; toSeq is unbounded while the window is open. */
  private fromSeq = Infinity;
  private toSeq = Infinity;
  private closing = false;

  private constructor(private readonly options: StreamClientsOptions) {}

  /** Opens every stream (`concurrency` at a time) and resolves once each answered or failed. */
  static async open(options: StreamClientsOptions): Promise<StreamClients> {
    const { host, sources = 1 } = options;
    if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') throw new Error('load only loopback');
    if (sources > 1 && host !== '127.0.0.1') throw new Error('several sources only from 127.0.0.0/8');
    if (sources > 254 * 254) throw new Error(`at most ${254 * 254} sources`);
    const source = (i: number) => {
      if (sources <= 1) return undefined;
      const k = i % sources;
      return `127.0.${1 + Math.floor(k / 254)}.${1 + (k % 254)}`;
    };
    const clients = new StreamClients(options);
    const { clients: count, concurrency = 200 } = options;
    for (let i = 0; i < count; i += concurrency) {
      await Promise.all(
        Array.from({ length: Math.min(concurrency, count - i) }, (_, j) =>
          clients.connectOne(options.ports[(i + j) % options.ports.length] as number, source(i + j)),
        ),
      );
    }
    for (const client of clients.open) client.socket.setTimeout(0);
    return clients;
  }

  private connectOne(port: number, localAddress: string | undefined): Promise<void> {
    const { host, path } = this.options;
    return new Promise((resolve) => {
      const socket = connect({ port, host, localAddress });
      const client = new Client(socket, this);
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (ok) this.open.push(client);
        else {
          this.failed++;
          const why = client.status === 0 ? 'closed' : String(client.status);
          this.failures[why] = (this.failures[why] ?? 0) + 1;
        }
        resolve();
      };
      socket.setTimeout(15_000, () => socket.destroy());
      socket.on('connect', () =>
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`),
      );
      socket.on('data', (data: Buffer) => {
        client.feed(data);
        if (client.status !== 0) settle(client.status === 200);
      });
      socket.on('error', () => settle(false));
      socket.on('close', () => {
        if (settled && !this.closing) client.closed = true;
        settle(false);
      });
    });
  }

  /** Called by a client for each change it receives. */
  received(client: Client, seq: number, event: string): void {
    if (seq > this.fromSeq && seq <= this.toSeq) client.covered++;
    if (!this.counting) return;
    this.events++;
    const stamp = /"timestamp":"([^"]+)"/.exec(event.length > 4000 ? event.slice(0, 400) + event.slice(-400) : event);
    if (stamp) this.latencies.push(Date.now() - Date.parse(stamp[1] as string));
  }

  private newestSeq(): number {
    let newest = -1;
    for (const client of this.open) if (client.lastSeq > newest) newest = client.lastSeq;
    return newest;
  }

  /** The seq every client has reached (the oldest lastSeq among the streams still open). */
  private oldestSeq(): number {
    let oldest = Infinity;
    for (const client of this.open) if (!client.closed && client.lastSeq < oldest) oldest = client.lastSeq;
    return oldest;
  }

  startWindow(): void {
    this.events = 0;
    this.latencies = [];
    this.fromSeq = this.newestSeq();
    this.toSeq = Infinity;
    for (const client of this.open) client.covered = 0;
    this.counting = true;
    this.started = performance.now();
  }

  endWindow(): WindowResult {
    this.counting = false;
    const seconds = (performance.now() - this.started) / 1000;
    this.toSeq = this.newestSeq();
    const latencies = this.latencies.sort((a, b) => a - b);
    return {
      seconds: Math.round(seconds * 10) / 10,
      events: this.events,
      eventsPerSecond: Math.round(this.events / seconds),
      latencyMs: {
        p50: percentile(latencies, 50),
        p90: percentile(latencies, 90),
        p99: percentile(latencies, 99),
        max: latencies.at(-1) ?? NaN,
      },
      fromSeq: this.fromSeq,
      toSeq: this.toSeq,
      changesPerSecond: Math.round(((this.toSeq - this.fromSeq) / seconds) * 10) / 10,
    };
  }

  /** Waits up to `timeoutMs` for every open stream to receive the window's last change; the ms it took. */
  async drain(timeoutMs: number): Promise<number> {
    const began = Date.now();
    while (this.oldestSeq() < this.toSeq && Date.now() - began < timeoutMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return Date.now() - began;
  }

  totals(): StreamTotals {
    const expected = Number.isFinite(this.toSeq) ? this.toSeq - this.fromSeq : 0;
    let complete = 0;
    let missing = this.failed * expected;
    for (const client of this.open) {
      if (!client.closed && client.covered === expected && client.gaps === 0 && client.duplicates === 0) complete++;
      else missing += Math.max(0, expected - client.covered);
    }
    const sum = (pick: (client: Client) => number) => this.open.reduce((total, client) => total + pick(client), 0);
    return {
      clients: this.options.clients,
      connected: this.open.length,
      failed: this.failed,
      failures: { ...this.failures },
      closedEarly: sum((c) => (c.closed ? 1 : 0)),
      gaps: sum((c) => c.gaps),
      duplicates: sum((c) => c.duplicates),
      ends: sum((c) => c.ends),
      complete,
      missing,
    };
  }

  close(): void {
    this.closing = true;
    for (const client of this.open) client.socket.destroy();
  }
}
