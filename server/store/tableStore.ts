import type { Observable } from 'rxjs';
import type { ChangeEvent, Row } from '../protocol.js';
import type { Mutation, TableView } from '../table/mutations.js';

/** Who made a change, and when. */
export interface ChangeMeta {
  /**
   * The session that made the change. A durable store counts the session's
   * changes by it; the event never carries it, only its `originOf` (a session
   * id is the capability to stop the session, and every stream gets every change).
   */
  session_id: string;
  generation_count: number;
  timestamp: string;
}

/**
 * The one shared table, its change sequence and the history kept for resume.
 * Every store implementation passes `tableStoreSuite` (tableStore.suite.ts).
 */
export interface TableStore extends TableView {
  /** The `seq` of the last committed change; 0 before the first. */
  readonly version: number;
  /** How many changes `since` can replay at most. */
  readonly historyLimit: number;
  /** Changes currently kept in history. */
  readonly historySize: number;
  /** All rows, in id order. */
  rows(): Row[];
  get(id: number): Row | undefined;
  /**
   * Applies a mutation, gives it the next `seq`, keeps it in history and then
   * emits it on `changes$`. Throws a RangeError for a mutation that names a
   * row that does not exist.
   */
  commit(mutation: Mutation, meta: ChangeMeta): ChangeEvent;
  /**
   * The changes after `seq`, oldest first, or undefined when they cannot all
   * be given: `seq` is older than the kept history, or newer than `version`.
   */
  since(seq: number): ChangeEvent[] | undefined;
  /** Every committed change, in `seq` order, as it is committed. */
  readonly changes$: Observable<ChangeEvent>;
  close(): void;
}
