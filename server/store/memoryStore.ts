import type { NewRow } from '../table/rows.js';
import { createLocalStore, newEpoch } from './localStore.js';
import type { TableLimits, TableStore } from './tableStore.js';

export interface MemoryStoreOptions {
  /** Changes kept for resume. */
  history: number;
  /** Rows the table starts with; they get ids 1, 2, … */
  initialRows?: readonly NewRow[];
  limits?: TableLimits;
}

/** A table store that lives in process memory: fast, and gone on restart (with a new epoch). */
export function createMemoryStore({ history, initialRows = [], limits }: MemoryStoreOptions): TableStore {
  return createLocalStore({
    historyLimit: history,
    limits,
    state: {
      epoch: newEpoch(),
      rows: initialRows.map((row, i) => ({ id: i + 1, ...row })),
      nextId: initialRows.length + 1,
      version: 0,
      history: [],
    },
  });
}
