import { customAlphabet } from 'nanoid';
import { NEVER, ReplaySubject, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Sink } from '../http/sse.js';
import type { ChangeEvent, EndReason } from '../../shared/protocol.js';
import { REMEMBERED_ENDED, SessionLimitReached, type SessionRecord, type SessionStore } from '../store/sessionStore.js';
import { CommitRefused, StoreUnavailable, type TableStore } from '../store/tableStore.js';
import { nextMutation, type MutationMix } from '../table/mutations.js';
import type { Random } from '../table/random.js';
import { LimitReached, NotSessionOwner, SessionNotFound, ShuttingDown } from './errors.js';
import { createFanout, type FanoutSession } from './fanout.js';
import { NO_METER, type Meter } from './meter.js';
import { heartbeats, sessionPipeline, type SessionPipeline } from './sessionPipeline.js';

const newSessionId = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 16);

/**
 * Seconds a client refused for too many streams should wait: streams end
 * whenever their clients leave, so this is a back-off, not a promise.
 */
const RETRY_AFTER_S = 5;
/** The fan-out group of the watch streams; no session id looks like it. */
const WATCH_GROUP = '*watch';
/** How long a resuming client waits for this node to catch up with the log before it gets a fresh `init`. */
const CATCH_UP_MS = 2000;

export interface Session {
  readonly id: string;
  readonly startedAt: number;
  /** Known for sure once the store confirms a session taken on trust during an outage. */
  deadline: number;
  /** The client address that started it, or null for one restored from an older file. */
  readonly address: string | null;
  /** The token subject it belongs to when auth is on; null when it was started without auth. */
  owner: string | null;
  readonly pipeline: SessionPipeline<ChangeEvent>;
}

interface LiveSession extends Session {
  readonly ended: ReplaySubject<EndReason>;
  readonly subscriptions: Subscription[];
}

export interface SessionManagerOptions {
  store: TableStore;
  sessionStore: SessionStore;
  config: Pick<
    Config,
    | 'updateInterval'
    | 'heartbeatInterval'
    | 'flushInterval'
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
  meter?: Meter;
}

export type SessionManager = ReturnType<typeof createSessionManager>;

/**
 * Starts, stops and times out sessions, runs their generators (on one node
 * at a time when the store is shared) and counts this node's streams
 * against the limits.
 */
export function createSessionManager({
  store,
  sessionStore,
  config,
  scheduler,
  random,
  logger,
  meter = NO_METER,
}: SessionManagerOptions) {
  /** The sessions this node knows to be running. */
  const sessions = new Map<string, LiveSession>();
  /**
   * Sessions whose end this node has seen lately, so a lookup that was under
   * way when the end came does not bring the session back.
   */
  const recentlyEnded = new Set<string>();
  /** Sessions taken on trust while the store is away, not confirmed yet. */
  const unconfirmed = new Set<string>();
  // Set by close(): a stream asked for during the shutdown would start timers.
  let closed = false;
  /** A store outage is logged once, when it begins, not on every tick. */
  let storeDown = false;
  // Every stream this node has open, and the one count of them: its limits
  // are checked against the fan-out that delivers to them.
  const fanout = createFanout({
    store,
    heartbeatInterval: config.heartbeatInterval,
    flushInterval: config.flushInterval,
    now: () => scheduler.now(),
    onError: (err, sessionId) => logger.error({ err, session_id: sessionId }, 'session failed; its streams are cut'),
    meter,
  });
  /**
   * The watch streams' group: their heartbeats come from a timer that runs
   * while at least one is open (the fan-out subscribes with the first and
   * unsubscribes after the last); they never end.
   */
  const watcher: FanoutSession = {
    id: WATCH_GROUP,
    initSessionId: null,
    events$: heartbeats(config.heartbeatInterval, scheduler),
    end$: NEVER,
  };

  // Watch streams need no session, so anyone can open them: they get a share
  // of the connections, and session streams keep the rest.
  const maxWatches = Math.max(1, Math.floor((config.maxConnections * config.watchShare) / 100));
  // A lease outlives two missed renewals; a node with viewers asks for it every
  // heartbeat, so a dead holder's sessions move within three heartbeats.
  const leaseMs = 2 * config.heartbeatInterval;

  const mix: MutationMix = {
    weights: config.weights,
    minRecords: config.minRecords,
    maxRecords: config.maxRecords,
    batchSize: config.batchSize,
  };

  const storeFailed = (err: unknown, what: string, sessionId?: string) => {
    if (err instanceof StoreUnavailable) {
      if (!storeDown) logger.warn({ err: err.message, session_id: sessionId }, `${what}: the store is unavailable`);
      storeDown = true;
    } else {
      logger.error({ err, session_id: sessionId }, what);
    }
  };

  /**
   * Whether this node may run the session's generator now. With a shared
   * store it holds a lease, renewed every heartbeat and asked for every
   * heartbeat while another node holds it; an embedded store needs none.
   */
  const leaseKeeper = (id: string, onTaken: () => Promise<void>) => {
    let heldUntil = 0;
    let nextAsk = 0;
    return async (): Promise<boolean> => {
      if (!sessionStore.shared) return true;
      const now = scheduler.now();
      if (now < heldUntil - leaseMs / 2) return true;
      if (now < nextAsk) return now < heldUntil;
      nextAsk = now + config.heartbeatInterval;
      const held = heldUntil > now;
      try {
        heldUntil = (await sessionStore.lease(id, leaseMs)) ? now + leaseMs : 0;
      } catch (err) {
        storeFailed(err, 'lease not renewed', id);
        return now < heldUntil;
      }
      if (!held && heldUntil > 0) await onTaken();
      return heldUntil > now;
    };
  };

  /** Knows a running session on this node: its pipeline, its deadline, its end. */
  /**
   * Knows a running session on this node. A session taken on trust while
   * the store is away (`provisional`) gets no generator or deadline until
   * the store confirms it, and ends here if the store says it is not running.
   */
  const track = (record: SessionRecord, provisional = false): LiveSession => {
    const { id, startedAt, deadline } = record;
    const ended = new ReplaySubject<EndReason>(1);
    let generated = record.generated;
    const holdLease = leaseKeeper(id, async () => {
      // Another node may have made changes under its lease: count on from the
      // stored number, before this node's first change.
      try {
        const found = await sessionStore.find(id);
        if (typeof found === 'object') generated = Math.max(generated, found.generated);
      } catch {
        // Counted on from this node's number; the store is away anyway.
      }
      logger.info({ session_id: id }, 'running the session here');
    });
    const pipeline = sessionPipeline<ChangeEvent>({
      // --changes-per-tick changes per tick, one commit after another (each
      // sees the one before); they reach streams through the store's feed.
      mutate: async () => {
        if (scheduler.now() >= session.deadline || !(await holdLease())) return undefined;
        let last: ChangeEvent | undefined;
        for (let i = 0; i < config.changesPerTick; i++) {
          const mutation = nextMutation(store, mix, random);
          if (mutation === undefined) break;
          const timestamp = new Date(scheduler.now()).toISOString();
          const began = performance.now();
          try {
            last = await store.commit(mutation, { session_id: id, generation_count: generated + 1, timestamp });
            meter.committed((performance.now() - began) / 1000);
            generated++;
            storeDown = false;
          } catch (err) {
            // Nothing was stored or sent. A row another node just changed is
            // drawn again next tick; an outage waits for the store.
            if (!(err instanceof CommitRefused)) storeFailed(err, 'change not stored', id);
            break;
          }
        }
        return last;
      },
      updateInterval: config.updateInterval,
      heartbeatInterval: config.heartbeatInterval,
      ended$: ended,
      deadline,
      scheduler,
    });
    const session: LiveSession = {
      id,
      startedAt,
      deadline,
      address: record.address ?? null,
      owner: record.owner ?? null,
      pipeline,
      ended,
      subscriptions: [],
    };
    sessions.set(id, session);
    // At its deadline this node asks the store to end it (whichever node asks
    // first ends it); the end reaches streams from the store, after the
    // session's last change. Asked again every heartbeat while the store is away.
    const timeOut = () =>
      void sessionStore.end(id, 'timeout').then(
        // Ended already, and its end lost to this node (a log it reloaded): it is over here too.
        (outcome) => outcome !== 'stopped' && forget(id, 'timeout'),
        (err: unknown) => {
          storeFailed(err, 'session end not stored', id);
          if (err instanceof StoreUnavailable && sessions.has(id)) {
            session.subscriptions.push(scheduler.schedule(timeOut, config.heartbeatInterval));
          }
        },
      );
    const armDeadline = () =>
      session.subscriptions.push(scheduler.schedule(timeOut, Math.max(0, session.deadline - scheduler.now())));
    // Asked every heartbeat until the store answers.
    const confirm = () =>
      void sessionStore.find(id).then(
        (found) => {
          unconfirmed.delete(id);
          if (typeof found !== 'object') return forget(id, 'stopped');
          session.deadline = found.deadline;
          session.owner = found.owner ?? null;
          generated = found.generated;
          armDeadline();
          logger.info({ session_id: id }, 'session confirmed by the store');
        },
        () => sessions.has(id) && session.subscriptions.push(scheduler.schedule(confirm, config.heartbeatInterval)),
      );
    if (provisional) {
      unconfirmed.add(id);
      session.subscriptions.push(scheduler.schedule(confirm, config.heartbeatInterval));
    } else armDeadline();
    return session;
  };

  const forget = (id: string, reason: EndReason) => {
    recentlyEnded.add(id);
    // An id taken on trust that the store never knew: not worth a line each.
    const doubted = unconfirmed.delete(id);
    if (recentlyEnded.size > REMEMBERED_ENDED) recentlyEnded.delete(recentlyEnded.values().next().value as string);
    const session = sessions.get(id);
    if (!session) return;
    sessions.delete(id);
    for (const subscription of session.subscriptions) subscription.unsubscribe();
    session.ended.next(reason);
    session.ended.complete();
    if (sessionStore.shared) void sessionStore.release(id).catch(() => {});
    logger[doubted ? 'debug' : 'info']({ session_id: id, reason }, 'session ended');
  };
  const ends = sessionStore.ends$.subscribe(({ id, reason }) => forget(id, reason));
  // A table loaded anew may have skipped session ends (or lost the sessions
  // with Redis's data): every session this node knows is asked after again.
  const resets = store.resets$.subscribe(() => {
    for (const id of sessions.keys()) {
      void sessionStore.find(id).then(
        (found) => typeof found !== 'object' && forget(id, 'stopped'),
        () => {},
      );
    }
  });

  /** The running session `id`, as this node or the store knows it. */
  const lookUp = async (id: string): Promise<LiveSession | 'ended' | undefined> => {
    const known = sessions.get(id);
    if (known) return known;
    const found = await sessionStore.find(id);
    if (typeof found !== 'object') return found;
    // Looked up meanwhile by another request, or ended meanwhile.
    if (recentlyEnded.has(id)) return 'ended';
    return sessions.get(id) ?? (closed ? undefined : track(found));
  };

  /** With auth on, only the session's owner may act on it. */
  const checkOwner = (session: Session, subject: string | undefined, action: 'stop' | 'stream') => {
    if (subject !== undefined && session.owner !== subject) throw new NotSessionOwner(session.id, action);
  };

  const checkServerLimit = () => {
    if (fanout.size >= config.maxConnections) {
      throw new LimitReached(
        'connections',
        `The server has ${fanout.size} open streams, the most allowed.`,
        RETRY_AFTER_S,
      );
    }
  };

  /**
   * The cursor a resuming stream may use here: one this node has not reached
   * yet waits up to CATCH_UP_MS for it; still ahead after that, it gets `init`.
   */
  const caughtUp = async (cursor: number | undefined): Promise<number | undefined> => {
    if (cursor === undefined || cursor <= store.version) return cursor;
    return (await store.reach(cursor, CATCH_UP_MS)) ? cursor : undefined;
  };

  /** Whole seconds until `deadline`: when a place frees for sure. */
  const secondsUntil = (deadline: number): number => Math.max(1, Math.ceil((deadline - scheduler.now()) / 1000));

  // Sessions running when this process last stopped (or on other nodes) go on.
  const restored = sessionStore.active().then((records) => {
    for (const record of records) {
      if (closed || sessions.has(record.id) || recentlyEnded.has(record.id)) continue;
      track(record);
      logger.info({ session_id: record.id, deadline: new Date(record.deadline).toISOString() }, 'session restored');
    }
  });

  return {
    /** Resolves once the sessions that were running are known here again. */
    ready: restored,

    /**
     * Starts a session for the client at `address`, owned by the token
     * subject `owner` (null without auth). Rejects with LimitReached past
     * --max-sessions (every node's) or --max-sessions-per-address, with the
     * time until a place frees by a deadline, and StoreUnavailable.
     */
    async start({ address, owner }: { address: string; owner: string | null }): Promise<Session> {
      if (closed) throw new ShuttingDown();
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
        await sessionStore.start(record, {
          maxSessions: config.maxSessions,
          maxPerAddress: config.maxSessionsPerAddress,
        });
      } catch (err) {
        if (err instanceof SessionLimitReached) {
          const mine = err.scope === 'address';
          throw new LimitReached(
            mine ? 'address_sessions' : 'sessions',
            `${mine ? 'This address has' : 'The server has'} ${err.running} sessions running, the most allowed.`,
            secondsUntil(err.firstDeadline),
          );
        }
        storeFailed(err, 'session not stored');
        throw err instanceof StoreUnavailable ? err : new StoreUnavailable((err as Error).message);
      }
      // Stored, and it goes on after a restart or on another node; not here.
      if (closed) throw new ShuttingDown();
      const session = sessions.get(record.id) ?? track(record);
      logger.info({ session_id: session.id, deadline: new Date(session.deadline).toISOString() }, 'session started');
      return session;
    },

    /**
     * Ends a session on whichever node runs it; its streams on every node get
     * `end`. `subject` is the caller's token subject when auth is on: another
     * subject's session is NotSessionOwner.
     */
    async stop(id: string, subject?: string): Promise<'stopped' | 'already_ended' | 'unknown'> {
      const session = await lookUp(id);
      if (session === undefined) return 'unknown';
      if (session === 'ended') return 'already_ended';
      checkOwner(session, subject, 'stop');
      return sessionStore.end(id, 'stopped');
    },

    /**
     * Opens a stream of a session on the sink `open` makes, resuming after
     * `cursor` when given. Resolves with the function that takes the stream
     * out (safe to call more than once). Rejects with SessionNotFound,
     * NotSessionOwner (`subject` is given when streams need the owner's
     * token), LimitReached or StoreUnavailable before `open` is called.
     */
    async connect(id: string, cursor: number | undefined, open: () => Sink, subject?: string): Promise<() => void> {
      if (closed) throw new ShuttingDown();
      let found: LiveSession | 'ended' | undefined;
      try {
        found = await lookUp(id);
      } catch (err) {
        // An EventSource answered 5xx gives up for good, so while the store is
        // away a session this node does not know is taken on trust: it gets
        // the table and heartbeats now, its changes once the store confirms
        // it, and `end` if it was not running after all. Only where streams
        // need no owner's token: an owner cannot be checked without the store.
        if (!(err instanceof StoreUnavailable) || subject !== undefined || closed) throw err;
        // Ids nobody can check cost memory until the store is back: no more of
        // them than sessions may run.
        if (!sessions.has(id) && unconfirmed.size >= config.maxSessions) {
          throw new LimitReached(
            'sessions',
            `${unconfirmed.size} sessions wait for the store to confirm them, the most allowed.`,
            RETRY_AFTER_S,
          );
        }
        // Nor for a stream this node would refuse anyway.
        checkServerLimit();
        const now = scheduler.now();
        found =
          sessions.get(id) ?? track({ id, startedAt: now, deadline: now + config.sessionTimeout, generated: 0 }, true);
      }
      if (typeof found !== 'object') throw new SessionNotFound(id);
      const session = found;
      checkOwner(session, subject, 'stream');
      const from = await caughtUp(cursor);
      if (closed) throw new ShuttingDown();
      if (!sessions.has(id)) throw new SessionNotFound(id);
      const ofSession = fanout.sizeOf(id);
      if (ofSession >= config.maxConnectionsPerSession) {
        throw new LimitReached(
          'session_connections',
          `Session ${id} already has ${ofSession} open streams on this server, the most allowed.`,
          RETRY_AFTER_S,
        );
      }
      checkServerLimit();
      const group = { id, initSessionId: id, events$: session.pipeline.events$, end$: session.pipeline.end$ };
      return fanout.open(group, open(), from);
    },

    /**
     * Opens a watch stream on the sink `open` makes: the table's changes,
     * whichever session makes them, with heartbeats and no end, resuming after
     * `cursor` when given. Resolves with the function that takes it out.
     * Rejects with LimitReached past this node's share of --max-connections.
     */
    async watch(cursor: number | undefined, open: () => Sink): Promise<() => void> {
      const from = await caughtUp(cursor);
      if (closed) throw new ShuttingDown();
      const watches = fanout.sizeOf(WATCH_GROUP);
      if (watches >= maxWatches) {
        throw new LimitReached(
          'watch_connections',
          `The server has ${watches} open watch streams, the most allowed.`,
          RETRY_AFTER_S,
        );
      }
      checkServerLimit();
      return fanout.open(watcher, open(), from);
    },

    /** Sessions running that this node knows of. */
    get activeSessions(): number {
      return sessions.size;
    },

    /** Sessions running on every node (the store's count). */
    allSessions: () => sessionStore.count(),

    /** This node's open streams, session and watch: how many, and their unread messages. */
    streams: {
      get open(): number {
        return fanout.size;
      },
      get pending(): number {
        return fanout.pending;
      },
    },

    /**
     * Forgets every session without ending it, as on shutdown: every stream
     * is cut, so its client reconnects (to another node, or to this one
     * restarted) rather than stop for good. A shared store's leases are
     * given up, so other nodes take over at once.
     */
    async close(): Promise<void> {
      closed = true;
      ends.unsubscribe();
      resets.unsubscribe();
      fanout.cutAll();
      fanout.close();
      const releases: Promise<void>[] = [];
      for (const session of sessions.values()) {
        for (const subscription of session.subscriptions) subscription.unsubscribe();
        // Stops a generator still in its grace period (nothing listens for
        // the end any more, so no stream gets it and the store is not told):
        // the session stays running in the session store, to go on after a
        // restart or elsewhere.
        session.ended.next('stopped');
        session.ended.complete();
        if (sessionStore.shared) releases.push(sessionStore.release(session.id));
      }
      sessions.clear();
      await Promise.allSettled(releases);
    },
  };
}
