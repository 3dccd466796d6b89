import type { StreamEvent } from '../../../shared/protocol';
import { STREAM_EVENT_TYPES } from '../../../shared/protocol';
import type { MessageKey, MessageParams } from './i18n';
import type { LiveTableDeps, StreamSource } from './pageDeps';
import { sequenceOf, type LiveState, type LogKind, type Message } from './reducer';

const CONNECTING = 0;
const OPEN = 1;
/** A stream silent for this many heartbeat intervals is taken for dead. */
const WATCHDOG_FACTOR = 2.5;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 10_000;
const DEFAULT_RETRY_AFTER_S = 5;
const STREAM_TYPES = new Set<string>(STREAM_EVENT_TYPES);

/** A session's stream, or with no session (null) the watch stream of the table. */
function streamUrl(id: string | null, since: number | undefined): string {
  const path = id === null ? '/api/stream' : `/api/stream/${id}`;
  return since === undefined ? path : `${path}?since=${since}`;
}

function parseEvent(data: string): StreamEvent | null {
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  const known =
    typeof message === 'object' && message !== null && STREAM_TYPES.has(String((message as { type?: unknown }).type));
  return known ? (message as StreamEvent) : null;
}

/** Seconds from a `Retry-After` header (delay-seconds form), or the default. */
function retryAfterSeconds(header: string | null): number {
  const seconds = header === null ? NaN : Number(header.trim());
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : DEFAULT_RETRY_AFTER_S;
}

/** What the stream needs from the live table it feeds. */
export interface StreamHost {
  /** The state with everything received folded in. */
  current(): LiveState;
  /** The state as of the last fold, read on every message without folding. */
  latest(): LiveState;
  /** Folds an action now. */
  dispatch(action: Message): void;
  /** Queues a stream message for the next frame. */
  deliver(message: StreamEvent): void;
  /** Folds whatever is queued. */
  flush(): void;
  note(kind: LogKind, key: MessageKey, params?: MessageParams): void;
  /** The session this stream followed is over: its `end` came, or the server no longer knows it. */
  sessionOver(): void;
}

/**
 * One EventSource at a time, kept alive: a watchdog for a stream gone silent,
 * a probe that asks the server why it refused one, and back-off between
 * tries. It decides which messages the table gets (no replays; a gap starts
 * over from a fresh snapshot) and hands them to the host.
 */
export class StreamConnection {
  private source: StreamSource | null = null;
  /** What the open stream follows: a session id, null for the watch stream, undefined for none. */
  private followed: string | null | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  /** The pending watchdog's check, to run early when a hidden tab shows again. */
  private watchdogCheck: (() => void) | undefined;
  /** When the stream last delivered anything, and the silence the watchdog allows (ms). */
  private heardAt = 0;
  private watchdogMs = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private probe: AbortController | null = null;
  private attempt = 0;
  /** Bumped on every close, so an answer that arrives for an older stream is dropped. */
  private generation = 0;
  /** The newest seq received, folded or not (queued for a frame, or held while paused). */
  private received = 0;

  constructor(
    private readonly deps: Pick<LiveTableDeps, 'openStream' | 'fetch'>,
    private readonly host: StreamHost,
  ) {}

  /** What the stream follows: a session id, null for the watch stream, undefined when closed. */
  get following(): string | null | undefined {
    return this.followed;
  }

  /** A stream is open, or one is being probed or waited for. */
  get active(): boolean {
    return this.source !== null || this.probe !== null || this.retry !== undefined;
  }

  /** The stream is open and delivering. */
  get isOpen(): boolean {
    return this.source !== null && this.source.readyState === OPEN;
  }

  /**
   * Follows a session's stream, or (id null) the watch stream that keeps a
   * page with no session current with everyone's changes. With `resume`,
   * from the version the page holds; else from a fresh snapshot.
   */
  open(id: string | null, resume: boolean): void {
    this.close();
    const { synced, version } = this.host.current();
    const es = this.deps.openStream(streamUrl(id, resume && synced ? version : undefined));
    this.source = es;
    this.followed = id;
    es.onopen = () => {
      this.attempt = 0;
      if (this.host.current().connection === 'reconnecting') this.host.note('success', 'log.resumed');
      this.host.dispatch({ type: 'connection', state: 'live' });
    };
    es.onmessage = (event) => {
      this.receive(event.data);
      if (this.source !== es || this.host.latest().stopping) return;
      this.heardAt = performance.now();
      // An init can bring a new heartbeat interval; otherwise the timer set stands.
      if (this.watchdogMs !== WATCHDOG_FACTOR * this.host.latest().heartbeatInterval) this.armWatchdog(id);
    };
    es.onerror = () => {
      if (this.host.latest().stopping) {
        this.host.sessionOver();
        return;
      }
      // CONNECTING: the browser retries by itself and sends Last-Event-ID, so the
      // server replays what we missed. Closing here would throw that away.
      if (es.readyState === CONNECTING) {
        this.reconnecting();
        return;
      }
      // CLOSED: the server refused with an HTTP error; ask it why before retrying.
      this.reconnecting();
      this.close();
      void this.probeStream(id);
    };
    this.armWatchdog(id);
  }

  /** Closes the stream and cancels every timer and probe. */
  close(): void {
    this.host.flush();
    this.generation++;
    if (this.source) {
      this.source.onopen = this.source.onmessage = this.source.onerror = null;
      this.source.close();
      this.source = null;
    }
    this.followed = undefined;
    this.probe?.abort();
    this.probe = null;
    clearTimeout(this.watchdog);
    clearTimeout(this.retry);
    this.watchdog = this.retry = undefined;
  }

  /**
   * The session was stopped: the stream has only its `end` left to deliver.
   * No watchdog for it; past `graceMs` the session is over without it.
   */
  awaitEnd(graceMs: number): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.host.sessionOver(), graceMs);
  }

  /**
   * Runs the watchdog's check now. Browsers run a hidden tab's timers late
   * (Chrome: once a minute after five minutes), so a tab shown again looks
   * at its stream at once.
   */
  checkNow(): void {
    if (this.watchdog === undefined) return;
    clearTimeout(this.watchdog);
    this.watchdogCheck?.();
  }

  /**
   * Loads the table afresh: changes past the version it holds were let go.
   * With no stream open, the next one resumes from that version.
   */
  startOver(): void {
    this.received = this.host.latest().version;
    if (this.followed !== undefined) this.open(this.followed, false);
  }

  private reconnecting(): void {
    const { connection } = this.host.current();
    if (connection === 'live') this.host.note('info', 'log.lost');
    // A first connection that fails is still "connecting": it never was live.
    if (connection !== 'connecting') this.host.dispatch({ type: 'connection', state: 'reconnecting' });
  }

  /**
   * Reopens the stream once it has been silent for WATCHDOG_FACTOR heartbeat
   * intervals. Messages only note the time they came (a timer reset per
   * message would cost a thousand timers a second); the timer, when it
   * fires, waits again for whatever is left of the silence.
   */
  private armWatchdog(id: string | null): void {
    clearTimeout(this.watchdog);
    this.heardAt = performance.now();
    // Read without a flush: inits apply at once.
    const ms = (this.watchdogMs = WATCHDOG_FACTOR * this.host.latest().heartbeatInterval);
    const check = () => {
      const left = this.heardAt + ms - performance.now();
      if (left > 0) {
        this.watchdog = setTimeout(check, left);
        return;
      }
      this.host.note('info', 'log.stalled', { seconds: ms / 1000 });
      this.host.dispatch({ type: 'connection', state: 'reconnecting' });
      this.open(id, true);
    };
    this.watchdogCheck = check;
    this.watchdog = setTimeout(check, ms);
  }

  private receive(data: string): void {
    const message = parseEvent(data);
    if (message === null) {
      this.host.note('error', 'log.badMessage');
      return;
    }
    if (message.type === 'init') {
      // A snapshot replaces the table at once, paused or not.
      this.host.deliver(message);
      this.host.flush();
      this.received = message.version;
      return;
    }
    if (!('seq' in message)) {
      this.host.deliver(message);
      // The fold logs the end and marks the session over.
      if (message.type === 'end') this.host.sessionOver();
      return;
    }
    // Against what the page holds, queued or held while paused.
    const before = Math.max(this.received, this.host.latest().version);
    const standing = sequenceOf(message.seq, before);
    if (standing === 'replay') return;
    this.received = message.seq;
    if (standing === 'gap' && this.followed !== undefined) {
      // Start over from a fresh snapshot rather than drift from the server.
      this.host.note('error', 'log.gap', { expected: before + 1, seq: message.seq });
      this.open(this.followed, false);
      return;
    }
    this.host.deliver(message);
  }

  /** Probes the stream again after the next back-off delay, which it returns (ms). */
  private backOff(id: string | null): number {
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** this.attempt, BACKOFF_MAX_MS);
    this.attempt++;
    this.retry = setTimeout(() => void this.probeStream(id), delay);
    return delay;
  }

  /** Asks the server, with a plain request, why it refused the stream; acts on the status. */
  private async probeStream(id: string | null): Promise<void> {
    const mine = this.generation;
    const controller = new AbortController();
    this.probe = controller;
    const { synced, version } = this.host.current();
    let status: number | undefined;
    let retryAfter: string | null = null;
    try {
      const response = await this.deps.fetch(streamUrl(id, synced ? version : undefined), {
        signal: controller.signal,
        cache: 'no-store',
        headers: { Accept: 'text/event-stream' },
      });
      status = response.status;
      retryAfter = response.headers.get('Retry-After');
    } catch {
      status = undefined;
    } finally {
      // Only the status matters; a 200 would otherwise hold a stream open.
      controller.abort();
    }
    if (mine !== this.generation) return;
    this.probe = null;

    if (status === undefined || status >= 500 || status === 408) {
      this.host.note('info', 'log.retry', { seconds: this.backOff(id) / 1000 });
    } else if (status === 429) {
      const seconds = retryAfterSeconds(retryAfter);
      this.host.note('info', 'log.busy', { seconds });
      this.retry = setTimeout(() => this.open(id, true), seconds * 1000);
    } else if (status >= 200 && status < 300) {
      this.open(id, true);
    } else if (id === null) {
      // The watch stream has no session to lose: a server that refuses it is
      // asked again, backing off, and the refusal is logged once.
      if (this.attempt === 0) this.host.note('error', 'log.requestFailed', { status });
      this.backOff(id);
    } else {
      // 404: the session has ended (or the server restarted); 400: a bad id.
      this.host.note('error', 'log.sessionGone');
      this.host.sessionOver();
    }
  }
}
