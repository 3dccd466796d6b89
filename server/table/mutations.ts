import type { Row, RowPatch } from '../../shared/protocol.js';
import { randomPatch, randomRow, type NewRow } from './rows.js';
import { weightedChoice, type Random } from './random.js';

export type Mutation =
  | { type: 'add'; row: NewRow }
  /** `ifVersion`: commit only if the row's last change is still this seq (else `row_changed`). */
  | { type: 'update'; id: number; patch: RowPatch; ifVersion?: number }
  | { type: 'delete'; id: number; ifVersion?: number }
  | { type: 'batch_update'; updates: { id: number; patch: RowPatch }[] };

export interface MutationMix {
  weights: { add: number; update: number; delete: number; batch_update: number };
  /** Deletes never take the table below this many rows. */
  minRecords: number;
  /** Adds never take the table above this many rows. */
  maxRecords: number;
  /** Rows changed by one batch update. */
  batchSize: number;
}

/** The read access the generator needs: a size and random access by position. */
export interface TableView {
  readonly size: number;
  rowAt(index: number): Row;
}

/**
 * Chooses the next change to the table by weight. An operation the table's
 * bounds forbid (add at the cap, delete at the floor, update on an empty
 * table) is left out of the draw, so every tick that can change something does.
 * Returns undefined only when no operation is possible.
 */
export function nextMutation(table: TableView, mix: MutationMix, random: Random): Mutation | undefined {
  const { size } = table;
  const { weights } = mix;
  const type = weightedChoice(random, [
    { value: 'add' as const, weight: size < mix.maxRecords ? weights.add : 0 },
    { value: 'update' as const, weight: size > 0 ? weights.update : 0 },
    { value: 'delete' as const, weight: size > mix.minRecords ? weights.delete : 0 },
    { value: 'batch_update' as const, weight: size > 0 ? weights.batch_update : 0 },
  ]);
  switch (type) {
    case undefined:
      return undefined;
    case 'add':
      return { type, row: randomRow(random) };
    case 'update': {
      const row = randomRowOf(table, random);
      return { type, id: row.id, patch: randomPatch(random, row) };
    }
    case 'delete':
      return { type, id: randomRowOf(table, random).id };
    case 'batch_update':
      return {
        type,
        updates: distinctRows(table, random, mix.batchSize).map((row) => ({
          id: row.id,
          patch: randomPatch(random, row),
        })),
      };
  }
}

function randomRowOf(table: TableView, random: Random): Row {
  return table.rowAt(Math.floor(random() * table.size));
}

/** Up to `count` different rows, drawn without replacement. */
function distinctRows(table: TableView, random: Random, count: number): Row[] {
  const n = Math.min(count, table.size);
  const chosen = new Set<number>();
  // Floyd's algorithm: n draws, no retries, no copy of the table.
  for (let j = table.size - n; j < table.size; j++) {
    const t = Math.floor(random() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].map((i) => table.rowAt(i));
}
