import type { NewRow } from '../table/rows.js';
import { createStoreCore } from './storeCore.js';
import type { TableStore } from './tableStore.js';

export interface MemoryStoreOptions {
  /** Changes kept for resume. */
  history: number;
  /** Rows the table starts with; they get ids 1, 2, … */
  initialRows?: readonly NewRow[];
}

/** A table store that lives in process memory: fast, and gone on restart. */
export function createMemoryStore({ history, initialRows = [] }: MemoryStoreOptions): TableStore {
  return createStoreCore({
    historyLimit: history,
    state: {
      rows: initialRows.map((row, i) => ({ id: i + 1, ...row })),
      nextId: initialRows.length + 1,
      version: 0,
      history: [],
    },
  });
}
