import { customAlphabet } from 'nanoid';
import { interval, map, NEVER, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { HttpError } from '../http/httpError.js';
import type { Sink } from '../http/sse.js';
import type { ChangeEvent, EndReason, HeartbeatEvent } from '../protocol.js';
import type { SessionRecord, SessionStore } from '../store/sessionStore.js';
import type { TableStore } from '../store/tableStore.js';
import { nextMutation, type MutationMix } from '../table/mutations.js';
import type { Random } from '../table/random.js';
import { createFanout, type FanoutSession } from './fanout.js';
import { sessionPipeline, type SessionPipeline } from './sessionPipeline.js';

const newSessionId = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 16);

/**
 * Seconds a client refused for too many streams should wait: streams end
 * whenever their clients leave, so this is a back-off, not a promise.
 */
const RETRY_AFTER_S = '5';
/** The fan-out group of the watch streams; no session id looks like it. */
const WATCH_GROUP = '*watch';

export interface Session {
  readonly id: string;
  readonly startedAt: number;
  readonly deadline: number;
  /** The client address that started it, or null for one restored from an older file. */
  readonly address: string | null;
  /** The token subject it belongs to when auth is on; null when it was started without auth. */
  readonly owner: string | null;
  readonly pipeline: SessionPipeline<ChangeEvent>;
  connections: number;
}

export interface SessionManagerOptions {
  store: TableStore;
  sessionStore: SessionStore;
  config: Pick<
    Config,
    | 'updateInterval'
    | 'heartbeatInterval'
    | 'sessionTimeout'
    | 'minRecords'
    | 'maxRecords'
    | 'weights'
    | 'batchSize'
    | 'maxConnections'
    | 'maxConnectionsPerSession'
    | 'maxSessions'
    | 'maxSessionsPerAddress'
    | 'watchShare'
    | 'changesPerTick'
  >;
  scheduler: SchedulerLike;
  random: Random;
  logger: Logger;
}

export type SessionManager = ReturnType<typeof createSessionManager>;

/** Starts, stops and times out sessions, and counts their connections against the limits. */
export function createSessionManager({
  store,
  sessionStore,
  config,
  scheduler,
  random,
  logger,
}: SessionManagerOptions) {
  const sessions = new Map<string, Session & { stop$: Subject<void>; watch: Subscription }>();
  /** Running sessions per client address, for --max-sessions-per-address. */
  const byAddress = new Map<string, Set<Session>>();
  let connections = 0;
  let watches = 0;
  // Set by close(): a watch asked for during the shutdown would start a heartbeat timer.
  let closed = false;
  const fanout = createFanout({
    store,
    heartbeatInterval: config.heartbeatInterval,
    now: () => scheduler.now(),
    onError: (err, sessionId) => logger.error({ err, session_id: sessionId }, 'session failed; its streams are cut'),
  });
  /**
   * The watch streams' group: their heartbeats come from a timer that runs
   * while at least one is open (the fan-out subscribes with the first and
   * unsubscribes after the last); they never end.
   */
  const watcher: FanoutSession = {
    id: WATCH_GROUP,
    initSessionId: null,
    events$: interval(config.heartbeatInterval, scheduler).pipe(
      map((): HeartbeatEvent => ({ type: 'heartbeat', timestamp: new Date(scheduler.now()).toISOString() })),
    ),
    end$: NEVER,
  };

  // Watch streams need no session, so anyone can open them: they get a share
  // of the connections, and session streams keep the rest.
  const maxWatches = Math.max(1, Math.floor((config.maxConnections * config.watchShare) / 100));

  /**
   * Counts a stream in, opens it on the sink `open` makes, and returns the
   * function that takes it out and counts it out again (once, however often
   * it is called). A stream that fails while opening is counted out at once.
   */
  const openCounted = (
    group: FanoutSession,
    cursor: number | undefined,
    open: () => Sink,
    countOut: () => void,
  ): (() => void) => {
    connections++;
    let released = false;
    let leave: (() => void) | undefined;
    const release = () => {
      if (released) return;
      released = true;
      leave?.();
      connections--;
      countOut();
    };
    try {
      leave = fanout.open(group, open(), cursor);
    } catch (err) {
      release();
      throw err;
    }
    return release;
  };

  const checkServerLimit = () => {
    if (connections >= config.maxConnections) {
      throw new HttpError(
        429,
        'too_many_connections',
        `The server has ${connections} open streams, the most allowed.`,
        {
          'Retry-After': RETRY_AFTER_S,
        },
      );
    }
  };

  const mix: MutationMix = {
    weights: config.weights,
    minRecords: config.minRecords,
    maxRecords: config.maxRecords,
    batchSize: config.batchSize,
  };

  /** Whole seconds until the first of `among` ends by its deadline: when a place frees for sure. */
  const secondsUntilFirstEnds = (among: Iterable<Session>): string => {
    let first = Number.POSITIVE_INFINITY;
    for (const session of among) first = Math.min(first, session.deadline);
    return String(Math.max(1, Math.ceil((first - scheduler.now()) / 1000)));
  };

  /** Runs a session, new or restored after a restart, until it ends. */
  const track = (record: SessionRecord): Session => {
    const { id, startedAt, deadline } = record;
    const address = record.address ?? null;
    const stop$ = new Subject<void>();
    let generated = record.generated;
    const pipeline = sessionPipeline<ChangeEvent>({
      // --changes-per-tick changes per tick; they reach streams through the
      // store's feed, and go out to each client in one write.
      mutate: () => {
        let last: ChangeEvent | undefined;
        for (let i = 0; i < config.changesPerTick; i++) {
          const mutation = nextMutation(store, mix, random);
          if (mutation === undefined) break;
          const timestamp = new Date(scheduler.now()).toISOString();
          try {
            last = store.commit(mutation, { session_id: id, generation_count: generated + 1, timestamp });
            generated++;
          } catch (err) {
            // Nothing was stored or sent; the next tick tries again.
            logger.error({ err, session_id: id }, 'change not stored');
            break;
          }
        }
        return last;
      },
      updateInterval: config.updateInterval,
      heartbeatInterval: config.heartbeatInterval,
      stop$,
      deadline,
      scheduler,
    });
    const watch = pipeline.end$.subscribe((reason: EndReason) => {
      sessions.delete(id);
      forgetAddress(session);
      try {
        sessionStore.end(id, reason);
      } catch (err) {
        logger.error({ err, session_id: id }, 'session end not stored');
      }
      logger.info({ session_id: id, reason, changes: generated }, 'session ended');
    });
    const session = {
      id,
      startedAt,
      deadline,
      address,
      owner: record.owner ?? null,
      pipeline,
      stop$,
      watch,
      connections: 0,
    };
    sessions.set(id, session);
    if (address !== null) {
      const started = byAddress.get(address) ?? new Set<Session>();
      byAddress.set(address, started.add(session));
    }
    return session;
  };

  const forgetAddress = (session: Session) => {
    if (session.address === null) return;
    const started = byAddress.get(session.address);
    started?.delete(session);
    if (started?.size === 0) byAddress.delete(session.address);
  };

  /** With auth on, only the session's owner may act on it: 403 for anyone else. */
  const checkOwner = (session: Session, subject: string | undefined, what: string) => {
    if (subject !== undefined && session.owner !== subject) {
      throw new HttpError(403, 'forbidden', `Session ${session.id} belongs to another user; you may not ${what} it.`);
    }
  };

  for (const record of sessionStore.active()) {
    if (record.deadline <= scheduler.now()) {
      sessionStore.end(record.id, 'timeout');
      logger.info({ session_id: record.id }, 'session timed out while the server was down');
    } else {
      track(record);
      logger.info({ session_id: record.id, deadline: new Date(record.deadline).toISOString() }, 'session restored');
    }
  }

  return {
    /**
     * Starts a session for the client at `address`, owned by the token
     * subject `owner` (null without auth). Throws HttpError 429 past
     * --max-sessions or --max-sessions-per-address, with Retry-After the time
     * until a place frees by a deadline; 503 when it cannot be stored.
     */
    start({ address, owner }: { address: string; owner: string | null }): Session {
      if (sessions.size >= config.maxSessions) {
        throw new HttpError(429, 'too_many_sessions', `${sessions.size} sessions are running, the most allowed.`, {
          'Retry-After': secondsUntilFirstEnds(sessions.values()),
        });
      }
      const ownRunning = byAddress.get(address);
      if (ownRunning !== undefined && ownRunning.size >= config.maxSessionsPerAddress) {
        throw new HttpError(
          429,
          'too_many_address_sessions',
          `This address has ${ownRunning.size} sessions running, the most allowed.`,
          { 'Retry-After': secondsUntilFirstEnds(ownRunning) },
        );
      }
      const startedAt = scheduler.now();
      const record: SessionRecord = {
        id: newSessionId(),
        startedAt,
        deadline: startedAt + config.sessionTimeout,
        generated: 0,
        address,
        owner,
      };
      try {
        sessionStore.add(record);
      } catch (err) {
        logger.error({ err }, 'session not stored');
        throw new HttpError(503, 'storage_unavailable', 'The session could not be stored; try again shortly.', {
          'Retry-After': RETRY_AFTER_S,
        });
      }
      const session = track(record);
      logger.info({ session_id: session.id, deadline: new Date(session.deadline).toISOString() }, 'session started');
      return session;
    },

    get(id: string): Session | undefined {
      return sessions.get(id);
    },

    /**
     * Ends a session; its streams get `end`. `subject` is the caller's token
     * subject when auth is on (undefined when off): another subject's session
     * is HttpError 403.
     */
    stop(id: string, subject?: string): 'stopped' | 'already_ended' | 'unknown' {
      const session = sessions.get(id);
      if (session) {
        checkOwner(session, subject, 'stop');
        session.stop$.next();
        return 'stopped';
      }
      return sessionStore.wasEnded(id) ? 'already_ended' : 'unknown';
    },

    /**
     * Opens a stream of a session on the sink `open` makes, resuming after
     * `cursor` when given. Returns the function that takes the stream out
     * (safe to call more than once). Throws HttpError 404 for an unknown
     * session, 403 when `subject` (given when streams need the owner's
     * token) is not its owner, and 429 past a limit, before `open` is called.
     */
    connect(id: string, cursor: number | undefined, open: () => Sink, subject?: string): () => void {
      const session = sessions.get(id);
      if (!session) {
        throw new HttpError(404, 'session_not_found', `No active session ${id}: it never existed or has ended.`);
      }
      checkOwner(session, subject, 'stream');
      if (session.connections >= config.maxConnectionsPerSession) {
        throw new HttpError(
          429,
          'too_many_session_connections',
          `Session ${id} already has ${session.connections} open streams, the most allowed.`,
          { 'Retry-After': RETRY_AFTER_S },
        );
      }
      checkServerLimit();
      session.connections++;
      return openCounted(
        { id, initSessionId: id, events$: session.pipeline.events$, end$: session.pipeline.end$ },
        cursor,
        open,
        () => session.connections--,
      );
    },

    /**
     * Opens a watch stream on the sink `open` makes: the table's changes,
     * whichever session makes them, with heartbeats and no end, resuming after
     * `cursor` when given. Returns the function that takes it out. Throws
     * HttpError 429 past --max-connections, before `open` is called.
     */
    watch(cursor: number | undefined, open: () => Sink): () => void {
      if (closed) throw new HttpError(503, 'shutting_down', 'The server is shutting down; try again shortly.');
      if (watches >= maxWatches) {
        throw new HttpError(
          429,
          'too_many_watch_connections',
          `The server has ${watches} open watch streams, the most allowed.`,
          { 'Retry-After': RETRY_AFTER_S },
        );
      }
      checkServerLimit();
      watches++;
      return openCounted(watcher, cursor, open, () => watches--);
    },

    get activeSessions(): number {
      return sessions.size;
    },

    get totalConnections(): number {
      return connections;
    },

    /**
     * Forgets every session without ending it, as on shutdown: the streams are
     * closed by the HTTP edge, so clients reconnect rather than stop for good.
     */
    close(): void {
      closed = true;
      fanout.close();
      for (const session of sessions.values()) {
        // With nothing recording the end any more, stopping only halts a
        // generator still in its grace period: the session stays active in
        // the session store, to be restored on the next start.
        session.watch.unsubscribe();
        session.stop$.next();
      }
      sessions.clear();
      byAddress.clear();
    },

    /** Client addresses with a session running, for tests of churn. */
    get addresses(): number {
      return byAddress.size;
    },
  };
}
