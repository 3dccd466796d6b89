import type { Row } from '../../../shared/protocol';
import { RowList, type RowSeq } from './rowList';

export type SortKey = keyof Row;
export type SortDirection = 'asc' | 'desc';

/** What the viewer asked to see: an order and a text filter. */
export interface ViewSpec {
  key: SortKey;
  direction: SortDirection;
  /** Matched, case-insensitively, against every cell as shown. */
  filter: string;
}

export const DEFAULT_VIEW: ViewSpec = { key: 'id', direction: 'asc', filter: '' };

const collator = new Intl.Collator(undefined, { numeric: true });

/** The order of a view: by the key, ties by id, all of it reversed for `desc`. */
export function compareBy(key: SortKey, direction: SortDirection): (a: Row, b: Row) => number {
  const sign = direction === 'asc' ? 1 : -1;
  if (key === 'id') return (a, b) => sign * (a.id - b.id);
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    const order = typeof x === 'number' ? x - (y as number) : collator.compare(x, y as string);
    return sign * (order === 0 ? a.id - b.id : order);
  };
}

/** A filter as typed, in the form `matches` wants. */
export function needleOf(filter: string): string {
  return filter.trim().toLowerCase();
}

/**
 * A status as an English page's badge shows it, lower-cased (the same words
 * as i18n's status.* texts): a filter finds a status by either language's word.
 */
const STATUS_IN_ENGLISH: Readonly<Record<string, string>> = { 活跃: 'active', 离线: 'offline', 忙碌: 'busy' };

/** True when some cell, as the table shows it in either language, contains `needle`. */
export function matches(row: Row, needle: string): boolean {
  if (needle === '') return true;
  return (
    String(row.id).includes(needle) ||
    row.name.toLowerCase().includes(needle) ||
    String(row.age).includes(needle) ||
    row.city.toLowerCase().includes(needle) ||
    row.score.toFixed(1).includes(needle) ||
    row.status.toLowerCase().includes(needle) ||
    (STATUS_IN_ENGLISH[row.status]?.includes(needle) ?? false)
  );
}

/** The rows a view shows, computed from scratch. `rows` are in id order. */
export function viewRows(rows: Iterable<Row>, spec: ViewSpec): Row[] {
  const needle = needleOf(spec.filter);
  const kept: Row[] = [];
  for (const row of rows) if (needle === '' || matches(row, needle)) kept.push(row);
  if (spec.key === 'id') return spec.direction === 'asc' ? kept : kept.reverse();
  return kept.sort(compareBy(spec.key, spec.direction));
}

function sameSpec(a: ViewSpec, b: ViewSpec): boolean {
  return a.key === b.key && a.direction === b.direction && needleOf(a.filter) === needleOf(b.filter);
}

/** First index in `view` whose row sorts after `row`. */
function upperBound(view: Row[], row: Row, compare: (a: Row, b: Row) => number): number {
  let lo = 0;
  let hi = view.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(view[mid] as Row, row) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A view that follows a live table cheaply: while the order and filter stay
 * the same, each new `rows` only moves the rows that changed (a walk, a
 * filter and a binary insert each) instead of sorting 100,000 rows a frame.
 */
export function createRowView(): (rows: RowList, spec: ViewSpec) => RowSeq {
  let lastRows: RowList | null = null;
  let lastSpec: ViewSpec = DEFAULT_VIEW;
  let lastView: Row[] = [];

  return (rows, spec) => {
    const isDefault = spec.key === 'id' && spec.direction === 'asc' && needleOf(spec.filter) === '';
    if (isDefault) {
      // The rows are already this view; nothing to copy.
      lastRows = null;
      return rows;
    }
    if (lastRows === rows && sameSpec(spec, lastSpec)) return lastView;
    const changes = lastRows !== null && sameSpec(spec, lastSpec) ? rows.changesSince(lastRows) : undefined;
    // Past an eighth of the table, sorting afresh is cheaper than moving rows one by one.
    if (changes === undefined || changes.gone.size + changes.fresh.length > Math.max(64, rows.length >> 3)) {
      lastView = viewRows(rows, spec);
    } else {
      const needle = needleOf(spec.filter);
      const compare = compareBy(spec.key, spec.direction);
      const view = changes.gone.size === 0 ? [...lastView] : lastView.filter((row) => !changes.gone.has(row));
      for (const row of changes.fresh) {
        if (matches(row, needle)) view.splice(upperBound(view, row, compare), 0, row);
      }
      lastView = view;
    }
    lastRows = rows;
    lastSpec = spec;
    return lastView;
  };
}

/** Where the row with this id is in a view, or -1: a binary search in the table itself, else a scan. */
export function indexOfId(view: RowSeq, id: number): number {
  if (view instanceof RowList) return view.indexOfId(id);
  return (view as readonly Row[]).findIndex((row) => row.id === id);
}
