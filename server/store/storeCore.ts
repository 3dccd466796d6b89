import { Subject } from 'rxjs';
import { describeChange, type ChangeEvent, type Row, type RowChange, type RowPatch } from '../protocol.js';
import { originOf } from '../sessions/origin.js';
import type { Mutation } from '../table/mutations.js';
import type { ChangeMeta, TableStore } from './tableStore.js';

/** Where a store starts: empty for a new table, or what a durable store loaded. */
export interface StoreState {
  rows: Row[];
  /** The id the next added row gets. */
  nextId: number;
  version: number;
  /** The newest changes, oldest first, ending at `version`. */
  history: ChangeEvent[];
}

export interface StoreCoreOptions {
  historyLimit: number;
  state: StoreState;
  /**
   * Makes a change durable. Called after the change is worked out and before
   * anything changes in memory or is sent; if it throws, nothing changes.
   * `written` holds the added or updated rows as they are after the change,
   * and `sessionId` the session that made it, which the event does not name.
   */
  persist?: (change: ChangeEvent, written: readonly Row[], sessionId: string) => void;
  close?: () => void;
}

interface Slot {
  row: Row;
  /** Position in `order`, for O(1) random access and removal. */
  index: number;
}

/**
 * The table in memory, with its seq and history, shared by every store: a
 * durable store adds `persist`. A mutation is first turned into its change
 * event (which throws for a row that does not exist), then persisted, then
 * applied from the event itself, then emitted.
 */
export function createStoreCore({ historyLimit, state, persist, close }: StoreCoreOptions): TableStore {
  if (!Number.isInteger(historyLimit) || historyLimit < 1) throw new RangeError('history must be a positive integer');

  // Rows arrive in id order and ids only grow, so the Map's order is id order.
  const byId = new Map<number, Slot>();
  const order: number[] = [];
  let nextId = state.nextId;
  let version = state.version;
  // Trimmed in chunks so a commit stays O(1) amortized.
  let kept = state.history.slice(-historyLimit);
  const changes = new Subject<ChangeEvent>();

  const slotOf = (id: number): Slot => {
    const slot = byId.get(id);
    if (!slot) throw new RangeError(`no row with id ${id}`);
    return slot;
  };
  const insert = (row: Row) => {
    byId.set(row.id, { row, index: order.length });
    order.push(row.id);
    nextId = Math.max(nextId, row.id + 1);
  };
  const replace = (row: Row) => {
    slotOf(row.id).row = row;
  };
  const remove = (id: number) => {
    const slot = slotOf(id);
    const lastId = order.pop() as number;
    if (lastId !== id) {
      order[slot.index] = lastId;
      (byId.get(lastId) as Slot).index = slot.index;
    }
    byId.delete(id);
  };
  const patched = (id: number, patch: RowPatch): Row => ({ ...slotOf(id).row, ...patch });

  for (const row of state.rows) insert(row);

  /**
   * The event a mutation would make, and the rows it writes as they will be
   * after it; reads the table, changes nothing.
   */
  const changeFor = (
    mutation: Mutation,
    seq: number,
    { session_id, generation_count, timestamp }: ChangeMeta,
  ): { change: ChangeEvent; written: Row[] } => {
    // Every stream gets every change, so the event names its session only by
    // origin: the id would let anyone who watches stop the session.
    const marks = { timestamp, generation_count, origin: originOf(session_id) };
    switch (mutation.type) {
      case 'add': {
        const data: Row = { id: nextId, ...mutation.row };
        return { change: { type: 'add', seq, data, message: describeChange('add', data), ...marks }, written: [data] };
      }
      case 'update': {
        const row = patched(mutation.id, mutation.patch);
        const data: RowChange = { id: mutation.id, ...mutation.patch };
        return {
          change: { type: 'update', seq, data, message: describeChange('update', row), ...marks },
          written: [row],
        };
      }
      case 'delete': {
        const data = slotOf(mutation.id).row;
        return {
          change: { type: 'delete', seq, data, message: describeChange('delete', data), ...marks },
          written: [],
        };
      }
      case 'batch_update': {
        const written = mutation.updates.map(({ id, patch }) => patched(id, patch));
        const data: RowChange[] = mutation.updates.map(({ id, patch }) => ({ id, ...patch }));
        return {
          change: { type: 'batch_update', seq, data, message: describeChange('batch_update', written), ...marks },
          written,
        };
      }
    }
  };

  const apply = (change: ChangeEvent, written: readonly Row[]) => {
    if (change.type === 'delete') remove(change.data.id);
    else if (change.type === 'add') insert(change.data);
    else written.forEach(replace);
  };

  return {
    get version() {
      return version;
    },
    get size() {
      return order.length;
    },
    historyLimit,
    get historySize() {
      return Math.min(kept.length, historyLimit);
    },
    rowAt(index) {
      const id = order[index];
      if (id === undefined) throw new RangeError(`no row at position ${index}`);
      return slotOf(id).row;
    },
    get(id) {
      return byId.get(id)?.row;
    },
    rows() {
      return Array.from(byId.values(), (slot) => slot.row);
    },
    commit(mutation, meta) {
      const { change, written } = changeFor(mutation, version + 1, meta);
      persist?.(change, written, meta.session_id);
      apply(change, written);
      version = change.seq;
      kept.push(change);
      if (kept.length >= 2 * historyLimit) kept = kept.slice(-historyLimit);
      changes.next(change);
      return change;
    },
    since(seq) {
      if (!Number.isInteger(seq) || seq < 0 || seq > version) return undefined;
      const available = Math.min(kept.length, historyLimit);
      if (seq < version - available) return undefined;
      return kept.slice(kept.length - (version - seq));
    },
    changes$: changes.asObservable(),
    close() {
      changes.complete();
      close?.();
    },
  };
}
