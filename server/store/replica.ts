import { Subject } from 'rxjs';
import {
  describeChange,
  describeUpdate,
  type ChangeEvent,
  type Row,
  type RowChange,
  type RowPatch,
} from '../../shared/protocol.js';
import { originOf } from '../sessions/origin.js';
import type { Mutation } from '../table/mutations.js';
import { CommitRefused, type ChangeMeta, type TableLimits } from './tableStore.js';

/** Where a table starts: empty for a new table, or what a durable store loaded. */
export interface TableState {
  epoch: string;
  rows: Row[];
  /** The seq of each row's last change; a row not named here last changed at 0. */
  rowVersions?: ReadonlyMap<number, number>;
  /** The id the next added row gets. */
  nextId: number;
  version: number;
  /** The newest changes, oldest first, ending at `version`. */
  history: ChangeEvent[];
}

/** A change worked out against the table as this process has it, not applied yet. */
export interface Draft {
  change: ChangeEvent;
  /** The added or updated rows as they will be after the change. */
  written: Row[];
  /** Each row the change reads, with the seq of its last change: a commit elsewhere checks them. */
  reads: { id: number; version: number }[];
}

interface Slot {
  row: Row;
  /** Seq of the row's last change. */
  version: number;
  /** Position in `order`, for O(1) random access and removal. */
  index: number;
}

export type Replica = ReturnType<typeof createReplica>;

/**
 * The table in memory with its seq and history: what every store reads
 * from. A store drafts a change here, makes it durable (or commits it to a
 * shared log) and then applies it; changes are applied strictly in seq order
 * and emitted on `changes$` as they are.
 */
export function createReplica(historyLimit: number, state: TableState) {
  if (!Number.isInteger(historyLimit) || historyLimit < 1) throw new RangeError('history must be a positive integer');

  // Rows arrive in id order and ids only grow, so the Map's order is id order.
  const byId = new Map<number, Slot>();
  const order: number[] = [];
  let nextId = state.nextId;
  let version = state.version;
  // Trimmed in chunks so an apply stays O(1) amortized.
  let kept = state.history.slice(-historyLimit);
  const changes = new Subject<ChangeEvent>();

  const slotOf = (id: number): Slot => {
    const slot = byId.get(id);
    if (!slot) throw new CommitRefused('row_not_found');
    return slot;
  };
  const insert = (row: Row, rowVersion: number) => {
    byId.set(row.id, { row, version: rowVersion, index: order.length });
    order.push(row.id);
    nextId = Math.max(nextId, row.id + 1);
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
  /** What a change read of a row: its version, which must still be the one `ifVersion` names. */
  const read = (id: number, ifVersion?: number) => {
    const { version } = slotOf(id);
    if (ifVersion !== undefined && version !== ifVersion) throw new CommitRefused('row_changed');
    return { id, version };
  };

  for (const row of state.rows) insert(row, state.rowVersions?.get(row.id) ?? 0);

  return {
    get epoch() {
      return state.epoch;
    },
    get version() {
      return version;
    },
    get size() {
      return order.length;
    },
    /** The id an add drafted now would get (a shared store gives out its own). */
    get nextId() {
      return nextId;
    },
    rowAt(index: number): Row {
      const id = order[index];
      if (id === undefined) throw new RangeError(`no row at position ${index}`);
      return slotOf(id).row;
    },
    get(id: number): Row | undefined {
      return byId.get(id)?.row;
    },
    /** The seq of the row's last change, or undefined for a row the table does not have. */
    rowVersion(id: number): number | undefined {
      return byId.get(id)?.version;
    },
    rows(): Row[] {
      return Array.from(byId.values(), (slot) => slot.row);
    },

    /**
     * The change a mutation would make as the next seq, checked against the
     * table's limits; changes nothing. Throws CommitRefused.
     */
    draft(mutation: Mutation, meta: ChangeMeta, limits: TableLimits): Draft {
      const { session_id, generation_count, timestamp, author } = meta;
      const seq = version + 1;
      // Every stream gets every change, so the event names its session only by
      // origin: the id would let anyone who watches stop the session.
      const marks = {
        timestamp,
        generation_count,
        origin: session_id === null ? null : originOf(session_id),
        ...(author === undefined ? {} : { author }),
      };
      const by = (message: string) => (author === undefined ? message : `${author} ${message}`);
      switch (mutation.type) {
        case 'add': {
          if (order.length >= limits.maxRecords) throw new CommitRefused('too_many_rows');
          const data: Row = { id: nextId, ...mutation.row };
          const change: ChangeEvent = { type: 'add', seq, data, message: by(describeChange('add', data)), ...marks };
          return { change, written: [data], reads: [] };
        }
        case 'update': {
          const reads = [read(mutation.id, mutation.ifVersion)];
          const before = slotOf(mutation.id).row;
          const row = patched(mutation.id, mutation.patch);
          const data: RowChange = { id: mutation.id, ...mutation.patch };
          // A write through the API says what it changed. The generator's
          // updates keep the original demo's words on the wire, a third
          // shorter: every stream gets every one, and a client that shows
          // what changed has the row it held (the page does so).
          const words = session_id === null ? describeUpdate(before, mutation.patch) : describeChange('update', row);
          const change: ChangeEvent = { type: 'update', seq, data, message: by(words), ...marks };
          return { change, written: [row], reads };
        }
        case 'delete': {
          const reads = [read(mutation.id, mutation.ifVersion)];
          const data = slotOf(mutation.id).row;
          if (order.length <= limits.minRecords) throw new CommitRefused('too_few_rows');
          const change: ChangeEvent = {
            type: 'delete',
            seq,
            data,
            message: by(describeChange('delete', data)),
            ...marks,
          };
          return { change, written: [], reads };
        }
        case 'batch_update': {
          const written = mutation.updates.map(({ id, patch }) => patched(id, patch));
          const data: RowChange[] = mutation.updates.map(({ id, patch }) => ({ id, ...patch }));
          const message = describeChange('batch_update', written);
          const change: ChangeEvent = { type: 'batch_update', seq, data, message, ...marks };
          return { change, written, reads: mutation.updates.map(({ id }) => read(id)) };
        }
      }
    },

    /**
     * Applies the next change (its seq must be `version + 1`), keeps it in
     * history and emits it.
     */
    apply(change: ChangeEvent): void {
      if (change.seq !== version + 1) throw new RangeError(`change ${change.seq} applied at version ${version}`);
      switch (change.type) {
        case 'add':
          insert(change.data, change.seq);
          break;
        case 'update':
          slotOf(change.data.id).row = patched(change.data.id, change.data);
          slotOf(change.data.id).version = change.seq;
          break;
        case 'delete':
          remove(change.data.id);
          break;
        case 'batch_update':
          for (const patch of change.data) {
            const slot = slotOf(patch.id);
            slot.row = { ...slot.row, ...patch };
            slot.version = change.seq;
          }
          break;
      }
      version = change.seq;
      kept.push(change);
      if (kept.length >= 2 * historyLimit) kept = kept.slice(-historyLimit);
      changes.next(change);
    },

    since(seq: number): ChangeEvent[] | undefined {
      if (!Number.isInteger(seq) || seq < 0 || seq > version) return undefined;
      const available = Math.min(kept.length, historyLimit);
      if (seq < version - available) return undefined;
      return kept.slice(kept.length - (version - seq));
    },

    changes$: changes.asObservable(),

    complete(): void {
      changes.complete();
    },
  };
}
