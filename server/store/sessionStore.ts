import { Subject, type Observable } from 'rxjs';
import type { EndReason } from '../../shared/protocol.js';

/** What is kept of a session so it outlives a restart, and any node can serve it. */
export interface SessionRecord {
  id: string;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms at which it times out. */
  deadline: number;
  /** Changes it has made. */
  generated: number;
  /** The client address that started it, counted against --max-sessions-per-address. */
  address?: string | null;
  /** The token subject it belongs to when auth is on; null when auth was off. */
  owner?: string | null;
}

/** Ended session ids remembered so a late stop is answered "already ended", not 404. */
export const REMEMBERED_ENDED = 10_000;

/** Bounds on running sessions that a start checks. */
export interface SessionLimits {
  /** Running sessions in all (on every node). */
  maxSessions: number;
  /** Running sessions started from one client address. */
  maxPerAddress: number;
}

/** A start refused by a session limit. */
export class SessionLimitReached extends Error {
  override name = 'SessionLimitReached';
  constructor(
    /** Which limit: every session, or those of the client's address. */
    readonly scope: 'all' | 'address',
    readonly running: number,
    /** When the first of the counted sessions ends by its deadline (epoch ms). */
    readonly firstDeadline: number,
  ) {
    super(`${running} sessions running${scope === 'address' ? ' from this address' : ''}, the most allowed`);
  }
}

/** A session's end, in order after the session's last change. */
export interface SessionEnd {
  id: string;
  reason: EndReason;
}

/**
 * The sessions of the table: running ones, the ids of recently ended ones,
 * and who runs each one's generator. A shared store (Redis) holds them for
 * every node; an embedded one for this process, across restarts when durable.
 */
export interface SessionStore {
  /** Whether other processes share it (and its generators need a lease). */
  readonly shared: boolean;
  /** Adds a running session; rejects with SessionLimitReached past a limit. */
  start(session: SessionRecord, limits: SessionLimits): Promise<void>;
  /** Ends a session: 'stopped' when this call ended it. */
  end(id: string, reason: EndReason): Promise<'stopped' | 'already_ended' | 'unknown'>;
  /** A running session, 'ended' for one that ended, undefined for an id never started (or long forgotten). */
  find(id: string): Promise<SessionRecord | 'ended' | undefined>;
  /** Running sessions, oldest first. */
  active(): Promise<SessionRecord[]>;
  /** Running sessions in all. */
  count(): Promise<number>;
  /**
   * Takes or keeps, for `ttlMs`, the right to run the session's generator:
   * true while this process holds it. An embedded store always grants it.
   */
  lease(id: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, so another node with viewers takes it at once. */
  release(id: string): Promise<void>;
  /**
   * Every session's end, after its last change: an embedded store emits it
   * before `end` resolves; a shared one when its log brings it.
   */
  readonly ends$: Observable<SessionEnd>;
}

/**
 * The rows an embedded session store keeps, synchronously: memory, or a
 * SQLite file. Running and ended sessions both; the count is of running ones.
 */
export interface SessionLedger {
  add(session: SessionRecord): void;
  /** Marks it ended; false when it was not running. */
  end(id: string, reason: EndReason): boolean;
  wasEnded(id: string): boolean;
  running(): SessionRecord[];
}

/**
 * A session store for one process. Its operations finish synchronously, so
 * a session's end reaches its streams in the same turn as the stop.
 */
export function createEmbeddedSessionStore(ledger: SessionLedger): SessionStore {
  const ends = new Subject<SessionEnd>();
  const running = new Map<string, SessionRecord>(ledger.running().map((session) => [session.id, session]));
  const firstDeadline = (among: Iterable<SessionRecord>) => Math.min(...[...among].map((s) => s.deadline));
  return {
    shared: false,
    start(session, { maxSessions, maxPerAddress }) {
      if (running.size >= maxSessions) {
        return Promise.reject(new SessionLimitReached('all', running.size, firstDeadline(running.values())));
      }
      if (session.address != null) {
        const own = [...running.values()].filter((other) => other.address === session.address);
        if (own.length >= maxPerAddress) {
          return Promise.reject(new SessionLimitReached('address', own.length, firstDeadline(own)));
        }
      }
      try {
        ledger.add(session);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      running.set(session.id, { address: null, owner: null, ...session });
      return Promise.resolve();
    },
    end(id, reason) {
      if (!running.has(id)) return Promise.resolve(ledger.wasEnded(id) ? 'already_ended' : 'unknown');
      running.delete(id);
      ends.next({ id, reason });
      try {
        ledger.end(id, reason);
      } catch (error) {
        // Ended here all the same; only the record of it is missing.
        return Promise.reject(error as Error);
      }
      return Promise.resolve('stopped');
    },
    find(id) {
      const session = running.get(id);
      return Promise.resolve(session ?? (ledger.wasEnded(id) ? 'ended' : undefined));
    },
    active: () => Promise.resolve([...running.values()].sort((a, b) => a.startedAt - b.startedAt)),
    count: () => Promise.resolve(running.size),
    lease: () => Promise.resolve(true),
    release: () => Promise.resolve(),
    ends$: ends.asObservable(),
  };
}

/** Sessions in process memory: gone on restart. */
export function createMemorySessionStore(): SessionStore {
  const alive = new Map<string, SessionRecord>();
  const ended = new Set<string>();
  return createEmbeddedSessionStore({
    add: (session) => void alive.set(session.id, session),
    end(id) {
      alive.delete(id);
      ended.add(id);
      if (ended.size > REMEMBERED_ENDED) ended.delete(ended.values().next().value as string);
      return true;
    },
    wasEnded: (id) => ended.has(id),
    running: () => [...alive.values()],
  });
}
