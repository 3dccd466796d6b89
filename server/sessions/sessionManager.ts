import { customAlphabet } from 'nanoid';
import { Subject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { HttpError } from '../http/httpError.js';
import type { ChangeEvent, EndReason, StreamEvent } from '../protocol.js';
import type { TableStore } from '../store/tableStore.js';
import { nextMutation, type MutationMix } from '../table/mutations.js';
import type { Random } from '../table/random.js';
import { connectionStream } from './connectionStream.js';
import { sessionPipeline, type SessionPipeline } from './sessionPipeline.js';

const newSessionId = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 16);

/** Ended session ids remembered so a late stop is answered "already ended", not 404. */
const REMEMBERED_ENDED = 10_000;
/** Seconds a client refused for too many connections should wait. */
const RETRY_AFTER_S = '5';

export interface Session {
  readonly id: string;
  readonly startedAt: number;
  readonly deadline: number;
  readonly pipeline: SessionPipeline<ChangeEvent>;
  connections: number;
}

export interface SessionManagerOptions {
  store: TableStore;
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
  >;
  scheduler: SchedulerLike;
  random: Random;
  logger: Logger;
}

export interface Connection {
  events$: Observable<StreamEvent>;
  /** Gives the connection's place back; safe to call more than once. */
  release: () => void;
}

export type SessionManager = ReturnType<typeof createSessionManager>;

/** Starts, stops and times out sessions, and counts their connections against the limits. */
export function createSessionManager({ store, config, scheduler, random, logger }: SessionManagerOptions) {
  const sessions = new Map<string, Session & { stop$: Subject<void>; watch: Subscription }>();
  const ended = new Set<string>();
  let connections = 0;
  const mix: MutationMix = {
    weights: config.weights,
    minRecords: config.minRecords,
    maxRecords: config.maxRecords,
    batchSize: config.batchSize,
  };

  const remember = (id: string) => {
    ended.add(id);
    if (ended.size > REMEMBERED_ENDED) ended.delete(ended.values().next().value as string);
  };

  return {
    start(): Session {
      const id = newSessionId();
      const startedAt = scheduler.now();
      const stop$ = new Subject<void>();
      let generated = 0;
      const pipeline = sessionPipeline<ChangeEvent>({
        mutate: () => {
          const mutation = nextMutation(store, mix, random);
          if (mutation === undefined) return undefined;
          generated++;
          const timestamp = new Date(scheduler.now()).toISOString();
          return store.commit(mutation, { session_id: id, generation_count: generated, timestamp });
        },
        updateInterval: config.updateInterval,
        heartbeatInterval: config.heartbeatInterval,
        stop$,
        deadline: startedAt + config.sessionTimeout,
        scheduler,
      });
      const watch = pipeline.end$.subscribe((reason: EndReason) => {
        sessions.delete(id);
        remember(id);
        logger.info({ session_id: id, reason, changes: generated }, 'session ended');
      });
      const session = {
        id,
        startedAt,
        deadline: startedAt + config.sessionTimeout,
        pipeline,
        stop$,
        watch,
        connections: 0,
      };
      sessions.set(id, session);
      logger.info({ session_id: id, deadline: new Date(session.deadline).toISOString() }, 'session started');
      return session;
    },

    get(id: string): Session | undefined {
      return sessions.get(id);
    },

    /** Ends a session; its streams get `end`. Returns false for an id never seen. */
    stop(id: string): 'stopped' | 'already_ended' | 'unknown' {
      const session = sessions.get(id);
      if (session) {
        session.stop$.next();
        return 'stopped';
      }
      return ended.has(id) ? 'already_ended' : 'unknown';
    },

    /**
     * Opens a stream of a session, resuming after `cursor` when given.
     * Throws HttpError 404 for an unknown session and 429 past a limit.
     */
    connect(id: string, cursor: number | undefined): Connection {
      const session = sessions.get(id);
      if (!session) {
        throw new HttpError(404, 'session_not_found', `No active session ${id}: it never existed or has ended.`);
      }
      if (session.connections >= config.maxConnectionsPerSession) {
        throw new HttpError(
          429,
          'too_many_session_connections',
          `Session ${id} already has ${session.connections} open streams, the most allowed.`,
          { 'Retry-After': RETRY_AFTER_S },
        );
      }
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
      session.connections++;
      connections++;
      let released = false;
      return {
        events$: connectionStream({
          store,
          sessionId: id,
          session: session.pipeline,
          cursor,
          heartbeatInterval: config.heartbeatInterval,
          now: () => scheduler.now(),
        }),
        release: () => {
          if (released) return;
          released = true;
          session.connections--;
          connections--;
        },
      };
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
      for (const session of sessions.values()) session.watch.unsubscribe();
      sessions.clear();
    },
  };
}
