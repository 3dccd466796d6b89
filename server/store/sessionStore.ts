import type { EndReason } from '../protocol.js';

/** What is kept of a session so it outlives a restart. */
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

/**
 * Sessions that are alive, and the ids of recently ended ones. A durable
 * store keeps both across restarts.
 */
export interface SessionStore {
  add(session: SessionRecord): void;
  end(id: string, reason: EndReason): void;
  wasEnded(id: string): boolean;
  /** Sessions started and not ended, oldest first. */
  active(): SessionRecord[];
}

export function createMemorySessionStore(): SessionStore {
  const alive = new Map<string, SessionRecord>();
  const ended = new Set<string>();
  return {
    add(session) {
      alive.set(session.id, session);
    },
    end(id) {
      alive.delete(id);
      ended.add(id);
      if (ended.size > REMEMBERED_ENDED) ended.delete(ended.values().next().value as string);
    },
    wasEnded: (id) => ended.has(id),
    active: () => [...alive.values()],
  };
}
