import { randomInt } from 'node:crypto';
import { NEVER } from 'rxjs';
import type { ChangeEvent, Row } from '../../shared/protocol.js';
import { createReplica, type TableState } from './replica.js';
import type { TableLimits, TableStore } from './tableStore.js';

export interface LocalStoreOptions {
  historyLimit: number;
  state: TableState;
  limits?: TableLimits;
  /**
   * Makes a change durable. Called after the change is worked out and before
   * anything changes in memory or is sent; if it throws, nothing changes.
   * `written` holds the added or updated rows as they are after the change,
   * and `sessionId` the session that made it, which the event does not name.
   */
  persist?: (change: ChangeEvent, written: readonly Row[], sessionId: string | null) => void;
  close?: () => void;
}

const NO_LIMITS: TableLimits = { minRecords: 0, maxRecords: Number.POSITIVE_INFINITY };

/**
 * A table this process alone writes (memory, or a SQLite file it holds the
 * lock of): a commit is drafted, persisted and applied in one synchronous
 * step, so it is never behind and never refused for a concurrent change.
 */
export function createLocalStore({
  historyLimit,
  state,
  limits = NO_LIMITS,
  persist,
  close,
}: LocalStoreOptions): TableStore {
  const replica = createReplica(historyLimit, state);
  let closed = false;
  return {
    get epoch() {
      return replica.epoch;
    },
    get version() {
      return replica.version;
    },
    get size() {
      return replica.size;
    },
    rowAt: (index) => replica.rowAt(index),
    get: (id) => replica.get(id),
    rowVersion: (id) => replica.rowVersion(id),
    rows: () => replica.rows(),
    commit(mutation, meta) {
      try {
        const { change, written } = replica.draft(mutation, meta, limits);
        persist?.(change, written, meta.session_id);
        replica.apply(change);
        return Promise.resolve(change);
      } catch (error) {
        return Promise.reject(error as Error);
      }
    },
    since: (seq) => replica.since(seq),
    reach: (seq) => Promise.resolve(seq <= replica.version),
    changes$: replica.changes$,
    resets$: NEVER,
    behind: 0,
    connected: true,
    close() {
      if (!closed) {
        closed = true;
        replica.complete();
        close?.();
      }
      return Promise.resolve();
    },
  };
}

/** A new table's epoch: random, short, and different for every table made. */
export function newEpoch(): string {
  return randomInt(36 ** 6)
    .toString(36)
    .padStart(6, '0');
}
