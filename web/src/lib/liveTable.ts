import { get, writable } from 'svelte/store';
import type { MessageKey, MessageParams } from './i18n';
import { FrameQueue } from './frameQueue';
import { browserDeps, type LiveTableDeps } from './pageDeps';
import { initialState, reduce, reduceAll, type LiveState, type LogKind, type Message } from './reducer';
import { selectors } from './selectors';
import { SessionApi } from './sessionApi';
import { SessionMemory } from './sessionMemory';
import { StreamConnection } from './streamConnection';

export type { LiveTableDeps, StreamSource } from './pageDeps';
export { SESSION_KEY, UPDATES_KEY } from './sessionMemory';

/** How long a stopped session's stream may take to deliver `end` before we close it ourselves. */
const STOP_GRACE_MS = 3000;
/**
 * Changes held back while paused, at most: about 20 s at 1,000 changes a
 * second. Past it they are let go, still counted, and resuming loads the table
 * afresh instead of replaying them, so a long pause cannot fill the memory.
 */
export const MAX_HELD = 20_000;

/**
 * The page's live table: one state, changed only by folding messages
 * through `reduce`, and the flows that feed it. The stream's messages wait
 * for the next frame (FrameQueue); the page's own actions (start, stop,
 * pause) fold at once, after whatever waits. The stream itself, with its
 * reconnect rules, is StreamConnection; the session's requests are
 * SessionApi; what a reload needs is SessionMemory.
 */
export function createLiveTable(deps: LiveTableDeps = browserDeps()) {
  const state = writable(initialState());
  // The state as of the last fold, read on every message without a store round trip.
  let latest = initialState();
  state.subscribe((s) => (latest = s));
  const maxHeld = deps.maxHeld ?? MAX_HELD;

  const memory = new SessionMemory(deps.storage, () => latest);
  const api = new SessionApi(deps.fetch);
  const frames = new FrameQueue<Message>((batch) => {
    state.update((s) => reduceAll(s, batch));
    if (batch.some((m) => 'seq' in m)) memory.updatesChanged();
  }, deps.schedule);

  const current = (): LiveState => {
    frames.flush();
    return get(state);
  };
  const dispatch = (message: Message): void => {
    frames.flush();
    state.update((s) => reduce(s, message));
  };
  const note = (kind: LogKind, key: MessageKey, params?: MessageParams): void =>
    dispatch({ type: 'log', kind, text: params === undefined ? { key } : { key, params }, at: deps.now() });

  const stream = new StreamConnection(deps, {
    current,
    latest: () => latest,
    dispatch,
    deliver: (message) => frames.push(message),
    flush: () => frames.flush(),
    note,
    sessionOver: leaveSession,
  });

  /** The tab is hidden: a page with no session then holds no stream, and watches again once shown. */
  let hidden = false;
  let watchWhenShown = false;

  deps.onPageHide?.(() => {
    frames.flush();
    memory.saveNow();
  });

  deps.onVisibilityChange?.((visible) => {
    hidden = !visible;
    if (latest.sessionId !== null) {
      // A session's stream stays open, hidden or not.
      if (visible) stream.checkNow();
      return;
    }
    if (hidden && stream.active) {
      stream.close();
      dispatch({ type: 'connection', state: 'disconnected' });
      watchWhenShown = true;
    } else if (!hidden && watchWhenShown) {
      watch();
    }
  });

  /** The session is over on this page: close everything, then follow the table on the watch stream. */
  function leaveSession(): void {
    stream.close();
    memory.forget();
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
    // Connecting until it opens; a first attempt that fails leaves it so.
    dispatch({ type: 'connection', state: 'connecting' });
    stream.open(null, true);
  }

  /** Runs a start or stop request, one at a time: the buttons wait for it. */
  async function request(work: () => Promise<void>): Promise<void> {
    if (latest.busy) return;
    dispatch({ type: 'busy', busy: true });
    try {
      await work();
    } finally {
      dispatch({ type: 'busy', busy: false });
    }
  }

  /** Asks the server for a new session and follows its stream. */
  async function start(): Promise<void> {
    if (current().sessionId !== null) return;
    await request(async () => {
      const answer = await api.start();
      if ('failed' in answer) {
        dispatch({ type: 'log', kind: 'error', text: answer.failed, at: deps.now() });
        return;
      }
      stream.close();
      watchWhenShown = false;
      memory.remember(answer.id);
      dispatch({ type: 'session', id: answer.id });
      note('success', 'log.started');
      dispatch({ type: 'connection', state: 'connecting' });
      // From the table the page holds: at 100,000 rows a snapshot is a long
      // task for nothing. The server sends one if it cannot go on from there.
      stream.open(answer.id, true);
    });
  }

  /** Stops the running session; its stream then delivers `end` and closes. */
  async function stop(): Promise<void> {
    const { sessionId: id, stopping } = current();
    if (id === null || stopping) return;
    await request(async () => {
      dispatch({ type: 'stopAsked', at: deps.now() });
      const answer = await api.stop(id);
      if ('failed' in answer) {
        dispatch({ type: 'stopAnswered', kind: 'error', text: answer.failed, at: deps.now() });
        // The server does not know this session: holding on to it helps nobody.
        if (answer.status === 404 || answer.status === 400) leaveSession();
        return;
      }
      dispatch({ type: 'stopAnswered', kind: 'success', text: answer.said, at: answer.at ?? deps.now() });
      if (current().sessionId !== id) return; // `end` came first and did the rest
      if (stream.isOpen) {
        // The server sends `end` on the open stream; let it arrive so the log shows it.
        dispatch({ type: 'stopping' });
        stream.awaitEnd(STOP_GRACE_MS);
      } else {
        leaveSession();
      }
    });
  }

  /** Shows `/api/data` unless a session started meanwhile. Returns false on failure. */
  async function loadData(): Promise<boolean> {
    const snapshot = await api.table();
    if (snapshot === null) return false;
    if (current().sessionId !== null || stream.following !== undefined) return true;
    dispatch({
      type: 'loaded',
      data: snapshot.data,
      version: snapshot.version,
      timestamp: snapshot.timestamp ?? deps.now(),
      // The watch stream that follows resumes without an init: its watchdog needs this.
      heartbeatInterval: snapshot.heartbeatInterval,
    });
    return true;
  }

  /** On page load: follow the session this tab was running, or show the table and follow it. */
  async function resumeOrLoad(): Promise<void> {
    const saved = memory.recall();
    if (saved === null) {
      if (await loadData()) note('info', 'log.loaded', { count: current().rows.length });
      else note('error', 'log.loadFailed');
      // The watch stream picks up from the table just loaded (or sends it, if that failed).
      if (current().sessionId === null && stream.following === undefined) watch();
      return;
    }
    dispatch({ type: 'session', id: saved.id, updates: saved.updates });
    note('info', 'log.resuming', { id: saved.id });
    dispatch({ type: 'connection', state: 'connecting' });
    stream.open(saved.id, false);
  }

  /**
   * Holds back changes from the stream until `resume`; the stream itself stays
   * open. A page with no session can pause too: it follows everyone's changes.
   */
  function pause(): void {
    dispatch({ type: 'pause', limit: maxHeld });
  }

  /** Applies every change held back since `pause`, in one fold, and goes live again. */
  function resume(): void {
    const { paused, held } = current();
    if (!paused) return;
    dispatch({ type: 'resume', at: deps.now() });
    // Too much was let go to replay: start over from a fresh snapshot.
    if (held.dropped > 0) stream.startOver();
    else if (held.count > 0) memory.updatesChanged();
  }

  return {
    state: { subscribe: state.subscribe },
    ...selectors(state),
    pause,
    resume,
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
      stream.close();
      memory.cancel();
    },
  };
}

export type LiveTable = ReturnType<typeof createLiveTable>;

/** The page's live table. Creating it touches nothing; `resumeOrLoad()` starts the work. */
export const liveTable = createLiveTable();
