import { Subject } from 'rxjs';
import { describeChange, type ChangeEvent, type Row, type RowPatch } from '../protocol.js';
import type { Mutation } from '../table/mutations.js';
import type { NewRow } from '../table/rows.js';
import type { ChangeMeta, TableStore } from './tableStore.js';

export interface MemoryStoreOptions {
  /** Changes kept for resume. */
  history: number;
  /** Rows the table starts with. */
  initialRows?: readonly NewRow[];
}

interface Slot {
  row: Row;
  /** Position in `order`, for O(1) random access and removal. */
  index: number;
}

/** A table store that lives in process memory: fast, and gone on restart. */
export function createMemoryStore({ history, initialRows = [] }: MemoryStoreOptions): TableStore {
  if (!Number.isInteger(history) || history < 1) throw new RangeError('history must be a positive integer');

  // Ids only grow, so the Map's insertion order is id order.
  const byId = new Map<number, Slot>();
  const order: number[] = [];
  let nextId = 1;
  let version = 0;
  // Trimmed in chunks so a commit stays O(1) amortized.
  let kept: ChangeEvent[] = [];
  const changes = new Subject<ChangeEvent>();

  const insert = (fields: NewRow): Row => {
    const row: Row = { id: nextId++, ...fields };
    byId.set(row.id, { row, index: order.length });
    order.push(row.id);
    return row;
  };
  const slotOf = (id: number): Slot => {
    const slot = byId.get(id);
    if (!slot) throw new RangeError(`no row with id ${id}`);
    return slot;
  };
  const patch = (id: number, fields: RowPatch): Row => {
    const slot = slotOf(id);
    slot.row = { ...slot.row, ...fields };
    return slot.row;
  };
  const remove = (id: number): Row => {
    const slot = slotOf(id);
    const lastId = order.pop() as number;
    if (lastId !== id) {
      order[slot.index] = lastId;
      (byId.get(lastId) as Slot).index = slot.index;
    }
    byId.delete(id);
    return slot.row;
  };

  for (const fields of initialRows) insert(fields);

  const apply = (mutation: Mutation, seq: number, meta: ChangeMeta): ChangeEvent => {
    switch (mutation.type) {
      case 'add': {
        const data = insert(mutation.row);
        return { type: 'add', seq, data, message: describeChange('add', data), ...meta };
      }
      case 'update': {
        const data = patch(mutation.id, mutation.patch);
        const fields = Object.keys(mutation.patch) as (keyof RowPatch)[];
        return { type: 'update', seq, data, fields, message: describeChange('update', data), ...meta };
      }
      case 'delete': {
        const data = remove(mutation.id);
        return { type: 'delete', seq, data, message: describeChange('delete', data), ...meta };
      }
      case 'batch_update': {
        // Check every id first so a bad batch changes nothing.
        for (const { id } of mutation.updates) slotOf(id);
        const data = mutation.updates.map(({ id, patch: fields }) => patch(id, fields));
        return { type: 'batch_update', seq, data, message: describeChange('batch_update', data), ...meta };
      }
    }
  };

  return {
    get version() {
      return version;
    },
    get size() {
      return order.length;
    },
    historyLimit: history,
    get historySize() {
      return Math.min(kept.length, history);
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
      const change = apply(mutation, version + 1, meta);
      version = change.seq;
      kept.push(change);
      if (kept.length >= 2 * history) kept = kept.slice(-history);
      changes.next(change);
      return change;
    },
    since(seq) {
      if (!Number.isInteger(seq) || seq < 0 || seq > version) return undefined;
      const oldest = version - Math.min(kept.length, history) + 1;
      if (seq < oldest - 1) return undefined;
      return kept.slice(kept.length - (version - seq));
    },
    changes$: changes.asObservable(),
    close() {
      changes.complete();
    },
  };
}
