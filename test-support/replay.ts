import type { Row, RowChange, StreamEvent } from '../shared/protocol.js';

/**
 * Folds stream events into a table the way any client must: the test oracle
 * for "every stream converges to GET /api/data".
 */
export function replay(events: readonly StreamEvent[], start: Row[] = []): { rows: Row[]; version: number } {
  const rows = new Map(start.map((row) => [row.id, row]));
  let version = 0;
  for (const event of events) {
    switch (event.type) {
      case 'init':
        rows.clear();
        for (const row of event.data) rows.set(row.id, row);
        version = event.version;
        break;
      case 'add':
        rows.set(event.data.id, event.data);
        version = event.seq;
        break;
      case 'update':
        rows.set(event.data.id, patch(rows, event.data));
        version = event.seq;
        break;
      case 'delete':
        rows.delete(event.data.id);
        version = event.seq;
        break;
      case 'batch_update':
        for (const change of event.data) rows.set(change.id, patch(rows, change));
        version = event.seq;
        break;
      default:
        break;
    }
  }
  return { rows: [...rows.values()].sort((a, b) => a.id - b.id), version };
}

/** A row with an update's fields applied; throws for a row the client does not hold. */
function patch(rows: Map<number, Row>, change: RowChange): Row {
  const row = rows.get(change.id);
  if (row === undefined) throw new Error(`update of row ${change.id}, which the client does not hold`);
  return { ...row, ...change };
}

/** The seqs of the change events, in the order they came. */
export function seqsOf(events: readonly StreamEvent[]): number[] {
  return events.flatMap((e) => ('seq' in e ? [e.seq] : []));
}
