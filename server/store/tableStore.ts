import type { Observable } from 'rxjs';
import type { ChangeEvent, Row } from '../../shared/protocol.js';
import type { Mutation, TableView } from '../table/mutations.js';

/** Who made a change, and when. */
export interface ChangeMeta {
  /**
   * The session that made the change. A store counts the session's changes
   * by it and a shared store commits only while the session runs; the event
   * never carries it, only its `originOf` (a session id is the capability to
   * stop the session, and every stream gets every change).
   */
  session_id: string | null;
  /** Who wrote a change through the API (a token's subject), when the server checks tokens. */
  author?: string;
  generation_count: number;
  timestamp: string;
}

/** Why a commit changed nothing. */
export type CommitRefusal =
  /** The mutation names a row the table no longer has. */
  | 'row_not_found'
  /** A row it reads was changed (by another node) since this node saw it. */
  | 'row_changed'
  /** It would take the table below --min-records. */
  | 'too_few_rows'
  /** It would take the table above --max-records. */
  | 'too_many_rows'
  /** Its session has ended, or another node now runs its generator. */
  | 'session_ended';

/** A commit that the table's state refused: nothing was stored or sent. */
export class CommitRefused extends Error {
  override name = 'CommitRefused';
  constructor(readonly reason: CommitRefusal) {
    super(`change refused: ${reason}`);
  }
}

/** The shared store cannot be reached: nothing was stored; try again later. */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
}

/** Bounds on the table's size that a commit checks. */
export interface TableLimits {
  minRecords: number;
  maxRecords: number;
}

/**
 * The one shared table, its change sequence and the history kept for resume,
 * as this process sees it. Reads are from memory and synchronous; a commit
 * is asynchronous, since a shared store commits it elsewhere first.
 * Every store implementation passes `tableStoreSuite` (test-support/tableStoreSuite.ts).
 */
export interface TableStore extends TableView {
  /**
   * Names this table's seq numbering: a table made anew (a store that lost
   * its data) gets a new epoch, so a seq from before is never taken for one
   * of its own.
   */
  readonly epoch: string;
  /** The `seq` of the last change applied here; 0 before the first. */
  readonly version: number;
  /** All rows, in id order. */
  rows(): Row[];
  get(id: number): Row | undefined;
  /** The seq of the row's last change (0 for a row not changed since the table was made), or undefined for no such row. */
  rowVersion(id: number): number | undefined;
  /**
   * Commits a mutation: gives it the next `seq`, stores it, applies it here,
   * emits it on `changes$` and resolves with it. Rejects with CommitRefused
   * when the table's state forbids it and StoreUnavailable when a shared
   * store cannot be reached; either way nothing changed.
   */
  commit(mutation: Mutation, meta: ChangeMeta): Promise<ChangeEvent>;
  /**
   * The changes after `seq`, oldest first, or undefined when they cannot all
   * be given: `seq` is older than the kept history, or newer than `version`.
   */
  since(seq: number): ChangeEvent[] | undefined;
  /**
   * Resolves true once every change up to `seq` is applied here, false when
   * that takes longer than `timeoutMs` (a node behind the shared log).
   */
  reach(seq: number, timeoutMs: number): Promise<boolean>;
  /** Every change, in `seq` order, as it is applied here. */
  readonly changes$: Observable<ChangeEvent>;
  /**
   * Emits when this process's table was loaded anew (a shared store lost its
   * data, or this process fell behind its kept log): every stream must start
   * over with `init`. An embedded store never does.
   */
  readonly resets$: Observable<void>;
  /** Changes committed to the shared log that this process has not applied yet. */
  readonly behind: number;
  /** Whether the store is reachable (always true for an embedded store). */
  readonly connected: boolean;
  close(): Promise<void>;
}
