import { derived, get, writable, type Readable } from 'svelte/store';
import type { DataResponse, StreamEvent } from '../../../shared/protocol';
import { SESSION_ID_PATTERN, STREAM_EVENT_TYPES } from '../../../shared/protocol';
import type { MessageKey, MessageParams } from './i18n';
import { HeldChanges } from './heldChanges';
import { browserDeps, type KeyValueStore, type LiveTableDeps, type StreamSource } from './pageDeps';
import { averageScore, initialState, reduce, reduceAll, sequenceOf, type LogKind, type Message } from './reducer';

export type { LiveTableDeps, StreamSource } from './pageDeps';

/** sessionStorage key of the running session, so a reload picks it up again. */
export const SESSION_KEY = 'livetable.session';
/** sessionStorage key of the update count, so a reload does not reset the stat. */
export const UPDATES_KEY = 'livetable.updates';

const CONNECTING = 0;
const OPEN = 1;
/** A stream silent for this many heartbeat intervals is taken for dead. */
const WATCHDOG_FACTOR = 2.5;
/** The update count is saved for a reload at most this often (and when the page is hidden away). */
const UPDATES_WRITE_MS = 1000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 10_000;
const DEFAULT_RETRY_AFTER_S = 5;
/** How long a stopped session's stream may take to deliver `end` before we close it ourselves. */
const STOP_GRACE_MS = 3000;
/**
 * Changes held back while paused, at most: about 20 s at 1,000 changes a
 * second. Past it they are let go, still counted, and resuming loads the table
 * afresh instead of replaying them, so a long pause cannot fill the memory.
 */
export const MAX_HELD = 20_000;
const STREAM_TYPES = new Set<string>(STREAM_EVENT_TYPES);

/** A session's stream, or with no session (null) the watch stream of the table. */
function streamUrl(id: string | null, since: number | undefined): string {
  const path = id === null ? '/api/stream' : `/api/stream/${id}`;
  return since === undefined ? path : `${path}?since=${since}`;
}

async function readJson(response: Response): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = await response.json();
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function isStreamEvent(value: unknown): value is StreamEvent {
  return typeof value === 'object' && value !== null && STREAM_TYPES.has(String((value as { type?: unknown }).type));
}

/** Seconds from a `Retry-After` header (delay-seconds form), or the default. */
function retryAfterSeconds(header: string | null): number {
  const seconds = header === null ? NaN : Number(header.trim());
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : DEFAULT_RETRY_AFTER_S;
}

/**
 * `derived`, except that it emits only when the picked value changes (by
 * `same`, Object.is by default). A store of objects otherwise emits on every
 * state change: at a thousand changes a second the session's buttons would be
 * written every frame, and the log re-run on every heartbeat.
 */
export function changesOf<S, T>(
  source: Readable<S>,
  pick: (s: S) => T,
  same: (a: T, b: T) => boolean = Object.is,
): Readable<T> {
  let last: { value: T } | undefined;
  return derived(source, (value, set) => {
    const next = pick(value);
    if (last !== undefined && same(last.value, next)) return;
    last = { value: next };
    set(next);
  });
}

/** The same fields with the same values. */
export function sameFields<T extends object>(a: T, b: T): boolean {
  const keys = Object.keys(a) as (keyof T)[];
  return keys.length === Object.keys(b).length && keys.every((key) => Object.is(a[key], b[key]));
}

/**
 * The one place with side effects: one EventSource at a time, folded through
 * `reduce` into a store the views derive from. The reconnect rules are in
 * `open` and `probeStream`.
 */
export function createLiveTable(deps: LiveTableDeps = browserDeps()) {
  const state = writable(initialState());
  // The state as of the last fold, read on every message without a store round trip.
  let latest = initialState();
  state.subscribe((s) => (latest = s));
  const busy = writable(false);

  let source: StreamSource | null = null;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  /** The pending watchdog's check, to run early when a hidden tab shows again. */
  let watchdogCheck: (() => void) | undefined;
  /** When the stream last delivered anything, and the silence the watchdog allows (ms). */
  let heardAt = 0;
  let watchdogMs = 0;
  let updatesTimer: ReturnType<typeof setTimeout> | undefined;
  let updatesWrittenAt = -Infinity;
  let retry: ReturnType<typeof setTimeout> | undefined;
  /** What the open stream follows: a session id, null for the watch stream, undefined for none. */
  let following: string | null | undefined;
  /** The tab is hidden: a page with no session then holds no stream, and watches again once shown. */
  let hidden = false;
  let watchWhenShown = false;
  let probe: AbortController | null = null;
  let attempt = 0;
  // Set between a successful stop and the `end` it makes the server send.
  let stopping = false;
  // Bumped on every teardown, so an answer that arrives for an older stream is dropped.
  let generation = 0;

  // Stream messages wait here for the next frame; everything else applies them first.
  let queue: Message[] = [];
  let scheduled = false;
  // Changes held back while the viewer has paused live updates.
  const held = new HeldChanges<Message>(deps.maxHeld ?? MAX_HELD);
  // The newest seq received, applied or not, so gaps and replays are told apart before a frame.
  let received = 0;
  const paused = writable({ paused: false, held: 0 });
  // The same, read on every message.
  let isPaused = false;

  /** Applies every queued message in one fold: one new state, one render. */
  function flush(): void {
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    state.update((s) => reduceAll(s, batch));
    rememberUpdates(batch);
  }

  function enqueue(message: Message): void {
    queue.push(message);
    if (deps.schedule === undefined) {
      flush();
    } else if (!scheduled) {
      scheduled = true;
      deps.schedule(() => {
        scheduled = false;
        flush();
      });
    }
  }

  /**
   * Keeps the update count across a reload: written at most once a second
   * (a storage write is synchronous, and a frame's worth of changes would
   * pay for it every frame) and once more when the page goes away.
   */
  function rememberUpdates(batch: readonly Message[]): void {
    if (updatesTimer !== undefined || !batch.some((m) => 'seq' in m)) return;
    const wait = updatesWrittenAt + UPDATES_WRITE_MS - performance.now();
    if (wait <= 0) writeUpdates();
    else updatesTimer = setTimeout(writeUpdates, wait);
  }

  function writeUpdates(): void {
    clearTimeout(updatesTimer);
    updatesTimer = undefined;
    updatesWrittenAt = performance.now();
    const { updates, sessionId } = latest;
    if (sessionId !== null) store((s) => s.setItem(UPDATES_KEY, String(updates)));
  }
  deps.onPageHide?.(() => {
    flush();
    if (updatesTimer !== undefined) writeUpdates();
  });

  const current = () => {
    flush();
    return get(state);
  };
  const dispatch = (message: Message) => {
    flush();
    state.update((s) => reduce(s, message));
  };
  const note = (kind: LogKind, key: MessageKey, params?: MessageParams) =>
    dispatch({ type: 'log', kind, text: params === undefined ? { key } : { key, params }, at: deps.now() });
  const say = (kind: LogKind, text: string) => dispatch({ type: 'log', kind, text, at: deps.now() });

  function store(action: (storage: KeyValueStore) => void): void {
    try {
      const storage = deps.storage();
      if (storage) action(storage);
    } catch {
      // Storage full or denied: only the reload resume is lost.
    }
  }

  function remembered(): { id: string; updates: number } | null {
    let id: string | null = null;
    let updates = 0;
    store((s) => {
      id = s.getItem(SESSION_KEY);
      updates = Number(s.getItem(UPDATES_KEY)) || 0;
    });
    return id !== null && SESSION_ID_PATTERN.test(id) ? { id, updates } : null;
  }

  function forget(): void {
    clearTimeout(updatesTimer);
    updatesTimer = undefined;
    store((s) => {
      s.removeItem(SESSION_KEY);
      s.removeItem(UPDATES_KEY);
    });
  }

  /** Closes the stream and cancels every stream timer and probe. */
  function teardown(): void {
    flush();
    generation++;
    stopping = false;
    if (source) {
      source.onopen = source.onmessage = source.onerror = null;
      source.close();
      source = null;
    }
    following = undefined;
    probe?.abort();
    probe = null;
    clearTimeout(watchdog);
    clearTimeout(retry);
    watchdog = retry = undefined;
  }

  /** The session is over on this page: close everything, then follow the table on the watch stream. */
  function leaveSession(): void {
    teardown();
    forget();
    dispatch({ type: 'session', id: null });
    dispatch({ type: 'connection', state: 'disconnected' });
    watch();
  }

  /**
   * Follows the table on the watch stream from the version the page holds;
   * in a hidden tab, once it shows again. A hidden tab holds no stream for
   * nothing: browsers allow only a few connections per server over HTTP/1.1,
   * and a tab nobody looks at need not apply every change.
   */
  function watch(): void {
    watchWhenShown = hidden;
    if (hidden) return;
    // Connecting until it opens; a first attempt that fails leaves it so (see reconnecting).
    dispatch({ type: 'connection', state: 'connecting' });
    open(null, true);
  }

  deps.onVisibilityChange?.((visible) => {
    hidden = !visible;
    if (latest.sessionId !== null) {
      // A session's stream stays open, hidden or not. Browsers run a hidden
      // tab's timers late (Chrome: once a minute after five minutes), so the
      // watchdog looks at once when the tab shows again.
      if (visible && watchdog !== undefined) {
        clearTimeout(watchdog);
        watchdogCheck?.();
      }
      return;
    }
    if (hidden && (source !== null || probe !== null || retry !== undefined)) {
      teardown();
      dispatch({ type: 'connection', state: 'disconnected' });
      watchWhenShown = true;
    } else if (!hidden && watchWhenShown) {
      watch();
    }
  });

  function reconnecting(): void {
    const { connection } = current();
    if (connection === 'live') note('info', 'log.lost');
    // A first connection that fails is still "connecting": it never was live.
    if (connection !== 'connecting') dispatch({ type: 'connection', state: 'reconnecting' });
  }

  /**
   * Follows a session's stream, or (id null) the watch stream that keeps a
   * page with no session current with everyone's changes. With `resume`, from
   * the version the page holds.
   */
  function open(id: string | null, resume: boolean): void {
    teardown();
    const { synced, version } = current();
    const es = deps.openStream(streamUrl(id, resume && synced ? version : undefined));
    source = es;
    following = id;
    es.onopen = () => {
      attempt = 0;
      if (current().connection === 'reconnecting') note('success', 'log.resumed');
      dispatch({ type: 'connection', state: 'live' });
    };
    es.onmessage = (event) => {
      receive(event.data);
      if (source !== es || stopping) return;
      heardAt = performance.now();
      // An init can bring a new heartbeat interval; otherwise the timer set stands.
      if (watchdogMs !== WATCHDOG_FACTOR * latest.heartbeatInterval) armWatchdog(id);
    };
    es.onerror = () => {
      if (stopping) {
        leaveSession();
        return;
      }
      // CONNECTING: the browser retries by itself and sends Last-Event-ID, so the
      // server replays what we missed. Closing here would throw that away.
      if (es.readyState === CONNECTING) {
        reconnecting();
        return;
      }
      // CLOSED: the server refused with an HTTP error; ask it why before retrying.
      reconnecting();
      teardown();
      void probeStream(id);
    };
    armWatchdog(id);
  }

  /**
   * Reopens the stream once it has been silent for WATCHDOG_FACTOR heartbeat
   * intervals. Messages only note the time they came (a timer reset per
   * message would cost a thousand timers a second); the timer, when it
   * fires, waits again for whatever is left of the silence.
   */
  function armWatchdog(id: string | null): void {
    clearTimeout(watchdog);
    heardAt = performance.now();
    // Read without a flush: inits apply at once.
    const ms = (watchdogMs = WATCHDOG_FACTOR * latest.heartbeatInterval);
    const check = () => {
      const left = heardAt + ms - performance.now();
      if (left > 0) {
        watchdog = setTimeout(check, left);
        return;
      }
      note('info', 'log.stalled', { seconds: ms / 1000 });
      dispatch({ type: 'connection', state: 'reconnecting' });
      open(id, true);
    };
    watchdogCheck = check;
    watchdog = setTimeout(check, ms);
  }

  function receive(data: string): void {
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      message = undefined;
    }
    if (!isStreamEvent(message)) {
      note('error', 'log.badMessage');
      return;
    }
    if (message.type === 'init') {
      // A snapshot replaces the table at once, paused or not. It was taken
      // after every change this page received, so whatever is held is in it.
      if (isPaused) {
        held.take();
        paused.set({ paused: true, held: 0 });
      }
      enqueue(message);
      flush();
      received = message.version;
      return;
    }
    if (!('seq' in message)) {
      // A pause outlives the session: what is held stays held until resumed.
      enqueue(message);
      // The reducer has logged the end and marked the session over.
      if (message.type === 'end') leaveSession();
      return;
    }
    // Against what the page holds or holds back (paused), not yet folded.
    const before = Math.max(received, latest.version);
    const standing = sequenceOf(message.seq, before);
    if (standing === 'replay') return;
    received = message.seq;
    if (standing === 'gap' && following !== undefined) {
      // Start over from a fresh snapshot rather than drift from the server.
      note('error', 'log.gap', { expected: before + 1, seq: message.seq });
      open(following, false);
      return;
    }
    if (isPaused) {
      held.hold(message);
      paused.set({ paused: true, held: held.count });
    } else {
      enqueue(message);
    }
  }

  /**
   * Holds back changes from the stream until `resume`; the stream itself stays
   * open. A page with no session can pause too: it follows everyone's changes.
   */
  function pause(): void {
    if (isPaused) return;
    isPaused = true;
    paused.set({ paused: true, held: held.count });
  }

  /** Applies every change held back since `pause`, in one fold, and goes live again. */
  function resume(): void {
    if (!isPaused) return;
    isPaused = false;
    const { messages: batch, dropped } = held.take();
    paused.set({ paused: false, held: 0 });
    flush();
    if (dropped > 0) {
      // Too much was let go to replay: start over from a fresh snapshot. With
      // no stream open, the next one resumes from the version the table holds.
      note('info', 'log.resync', { count: dropped });
      received = latest.version;
      if (following !== undefined) open(following, false);
      return;
    }
    if (batch.length === 0) return;
    state.update((s) => reduceAll(s, batch));
    rememberUpdates(batch);
  }

  /** Probes the stream again after the next back-off delay, which it returns (ms). */
  function backOff(id: string | null): number {
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** attempt, BACKOFF_MAX_MS);
    attempt++;
    retry = setTimeout(() => void probeStream(id), delay);
    return delay;
  }

  async function probeStream(id: string | null): Promise<void> {
    const mine = generation;
    const controller = new AbortController();
    probe = controller;
    const { synced, version } = current();
    let status: number | undefined;
    let retryAfter: string | null = null;
    try {
      const response = await deps.fetch(streamUrl(id, synced ? version : undefined), {
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
    if (mine !== generation) return;
    probe = null;

    if (status === undefined || status >= 500 || status === 408) {
      note('info', 'log.retry', { seconds: backOff(id) / 1000 });
    } else if (status === 429) {
      const seconds = retryAfterSeconds(retryAfter);
      note('info', 'log.busy', { seconds });
      retry = setTimeout(() => open(id, true), seconds * 1000);
    } else if (status >= 200 && status < 300) {
      open(id, true);
    } else if (id === null) {
      // The watch stream has no session to lose: a server that refuses it is
      // asked again, backing off, and the refusal is logged once.
      if (attempt === 0) note('error', 'log.requestFailed', { status });
      backOff(id);
    } else {
      // 404: the session has ended (or the server restarted); 400: a bad id.
      note('error', 'log.sessionGone');
      leaveSession();
    }
  }

  function reportFailure(response: Response, body: Record<string, unknown> | null): void {
    if (typeof body?.message === 'string') say('error', body.message);
    else note('error', 'log.requestFailed', { status: response.status });
  }

  /** Shows `/api/data`; dropped if a session started meanwhile. Returns false on failure. */
  async function loadData(): Promise<boolean> {
    const mine = generation;
    try {
      const response = await deps.fetch('/api/data', { headers: { Accept: 'application/json' } });
      const body = (await readJson(response)) as Partial<DataResponse> | null;
      if (!response.ok || !Array.isArray(body?.data)) return false;
      if (mine !== generation || current().sessionId !== null) return true;
      dispatch({
        type: 'loaded',
        data: body.data,
        version: body.version ?? 0,
        timestamp: body.timestamp ?? deps.now(),
        // The watch stream that follows resumes without an init: its watchdog needs this.
        heartbeatInterval: body.heartbeat_interval,
      });
      return true;
    } catch {
      return false;
    }
  }

  async function request(url: string): Promise<{ response: Response; body: Record<string, unknown> | null } | null> {
    try {
      const response = await deps.fetch(url, { method: 'POST', headers: { Accept: 'application/json' } });
      return { response, body: await readJson(response) };
    } catch {
      note('error', 'log.networkError');
      return null;
    }
  }

  /** Asks the server for a new session and follows its stream. */
  async function start(): Promise<void> {
    if (get(busy) || current().sessionId !== null) return;
    busy.set(true);
    try {
      const answer = await request('/api/start');
      if (answer === null) return;
      const { response, body } = answer;
      const id = body?.session_id;
      if (!response.ok || typeof id !== 'string' || !SESSION_ID_PATTERN.test(id)) {
        reportFailure(response, body);
        return;
      }
      teardown();
      watchWhenShown = false;
      store((s) => {
        s.setItem(SESSION_KEY, id);
        s.setItem(UPDATES_KEY, '0');
      });
      dispatch({ type: 'session', id });
      note('success', 'log.started');
      dispatch({ type: 'connection', state: 'connecting' });
      open(id, false);
    } finally {
      busy.set(false);
    }
  }

  /** Stops the running session; its stream then delivers `end` and closes. */
  async function stop(): Promise<void> {
    const id = current().sessionId;
    if (get(busy) || id === null) return;
    busy.set(true);
    try {
      const answer = await request(`/api/stop/${id}`);
      if (answer === null) return;
      const { response, body } = answer;
      if (!response.ok) {
        reportFailure(response, body);
        // The server does not know this session: holding on to it helps nobody.
        if (response.status === 404 || response.status === 400) leaveSession();
        return;
      }
      // Worded by the page from `outcome`; an older server's own words otherwise.
      if (body?.outcome === 'stopped' || body?.outcome === 'already_ended') note('success', `log.${body.outcome}`);
      else if (typeof body?.message === 'string') say('success', body.message);
      if (current().sessionId !== id) return; // `end` came first and did the rest
      if (source !== null && source.readyState === OPEN) {
        // The server sends `end` on the open stream; let it arrive so the log shows it.
        stopping = true;
        clearTimeout(watchdog);
        retry = setTimeout(leaveSession, STOP_GRACE_MS);
      } else {
        leaveSession();
      }
    } finally {
      busy.set(false);
    }
  }

  /** On page load: follow the session this tab was running, or show the table and follow it. */
  async function resumeOrLoad(): Promise<void> {
    const saved = remembered();
    if (saved === null) {
      if (await loadData()) note('info', 'log.loaded', { count: current().rows.length });
      else note('error', 'log.loadFailed');
      // The watch stream picks up from the table just loaded (or sends it, if that failed).
      if (current().sessionId === null && source === null) watch();
      return;
    }
    dispatch({ type: 'session', id: saved.id, updates: saved.updates });
    note('info', 'log.resuming', { id: saved.id });
    dispatch({ type: 'connection', state: 'connecting' });
    open(saved.id, false);
  }

  return {
    state: { subscribe: state.subscribe },
    paused: { subscribe: paused.subscribe },
    pause,
    resume,
    table: changesOf(state, (s) => ({ rows: s.rows, version: s.version, flash: s.flash }), sameFields),
    stats: changesOf(
      state,
      (s) => ({ records: s.rows.length, updates: s.updates, average: averageScore(s) }),
      sameFields,
    ),
    log: changesOf(state, (s) => s.log),
    connection: changesOf(state, (s) => s.connection),
    session: changesOf(
      derived([state, busy], (both) => both),
      ([s, b]) => ({ id: s.sessionId, running: s.sessionId !== null, busy: b, ended: s.ended }),
      sameFields,
    ),
    start,
    stop,
    resumeOrLoad,
    /** This page wrote the change with this seq: the log tells it as the viewer's own. */
    wrote(seq: number): void {
      dispatch({ type: 'wrote', seq });
    },
    /** The row with this id as the page holds it now. */
    row(id: number) {
      return current().rows.get(id);
    },
    /** Closes the stream and clears every timer (tests, hot reload). */
    destroy(): void {
      teardown();
      clearTimeout(updatesTimer);
      updatesTimer = undefined;
    },
  };
}

export type LiveTable = ReturnType<typeof createLiveTable>;

/** The page's live table. Creating it touches nothing; `resumeOrLoad()` starts the work. */
export const liveTable = createLiveTable();
