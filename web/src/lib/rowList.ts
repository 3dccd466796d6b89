import type { Row } from '../../../shared/protocol';

/** Rows per chunk: a change copies one chunk of this many pointers, not the table. */
const CHUNK = 512;

/** What a view of rows offers: a read-only sequence, an array or a RowList. */
export interface RowSeq extends Iterable<Row> {
  readonly length: number;
  at(index: number): Row | undefined;
  slice(start?: number, end?: number): Row[];
}

/** The rows one edit took out (deleted, or replaced by a newer version) and put in. */
export interface RowChanges {
  gone: ReadonlySet<Row>;
  fresh: readonly Row[];
}

/**
 * The table's rows in id order, immutable, kept in chunks. An edit copies only
 * the chunks it touches and shares the rest, so folding a frame's changes into
 * a 100,000-row table costs the changes, not the table. A list made by an edit
 * remembers what the edit changed, so a sorted view can follow it cheaply.
 */
export class RowList implements RowSeq {
  /** Where each chunk starts, as an index into the whole list. */
  private readonly starts: number[];
  /** The first id of each chunk. */
  private readonly lows: number[];
  readonly length: number;
  /** The list this one was edited from, while it is the newest edit of it. */
  private parent: RowList | undefined;
  private changes: RowChanges | undefined;

  private constructor(private readonly chunks: readonly (readonly Row[])[]) {
    this.starts = new Array<number>(chunks.length);
    this.lows = chunks.map((chunk) => (chunk[0] as Row).id);
    let length = 0;
    chunks.forEach((chunk, i) => {
      this.starts[i] = length;
      length += chunk.length;
    });
    this.length = length;
  }

  static readonly EMPTY = new RowList([]);

  /** A list of `rows`, which must be in id order. */
  static of(rows: readonly Row[]): RowList {
    const chunks: Row[][] = [];
    for (let i = 0; i < rows.length; i += CHUNK) chunks.push(rows.slice(i, i + CHUNK));
    return new RowList(chunks);
  }

  at(index: number): Row | undefined {
    if (index < 0) index += this.length;
    if (index < 0 || index >= this.length) return undefined;
    const chunk = this.chunkAt(index);
    return this.chunks[chunk]?.[index - (this.starts[chunk] as number)];
  }

  slice(start = 0, end = this.length): Row[] {
    start = Math.max(0, start < 0 ? start + this.length : start);
    end = Math.min(this.length, end < 0 ? end + this.length : end);
    const out: Row[] = [];
    if (start >= end) return out;
    let chunk = this.chunkAt(start);
    let offset = start - (this.starts[chunk] as number);
    while (out.length < end - start) {
      const rows = this.chunks[chunk] as readonly Row[];
      const take = Math.min(rows.length - offset, end - start - out.length);
      for (let i = 0; i < take; i++) out.push(rows[offset + i] as Row);
      chunk++;
      offset = 0;
    }
    return out;
  }

  *[Symbol.iterator](): Iterator<Row> {
    for (const chunk of this.chunks) yield* chunk;
  }

  /** The row with this id, if held. */
  get(id: number): Row | undefined {
    const chunk = this.chunkOfId(id);
    const rows = this.chunks[chunk];
    if (rows === undefined) return undefined;
    const row = rows[lowerBound(rows, id)];
    return row?.id === id ? row : undefined;
  }

  /** The index of the row with this id, or -1. */
  indexOfId(id: number): number {
    const chunk = this.chunkOfId(id);
    const rows = this.chunks[chunk];
    if (rows === undefined) return -1;
    const at = lowerBound(rows, id);
    return rows[at]?.id === id ? (this.starts[chunk] as number) + at : -1;
  }

  /**
   * What changed between `earlier` and this list, when this list was edited
   * from it; undefined when that is not known (start over from the rows).
   */
  changesSince(earlier: RowList): RowChanges | undefined {
    return this.parent === earlier ? this.changes : undefined;
  }

  /** Starts an edit; `done()` gives the new list and leaves this one as it was. */
  edit(): RowListEdit {
    return new RowListEdit(this, this.chunks);
  }

  /** @internal Makes the list an edit produced. */
  static fromEdit(parent: RowList, chunks: (readonly Row[])[], changes: RowChanges): RowList {
    const list = new RowList(chunks.filter((chunk) => chunk.length > 0));
    list.parent = parent;
    list.changes = changes;
    // Only one step is remembered: a chain of parents would keep every old table alive.
    parent.parent = undefined;
    parent.changes = undefined;
    return list;
  }

  private chunkAt(index: number): number {
    return lastAtOrBelow(this.starts, index);
  }

  /** The chunk that holds (or would hold) this id. */
  private chunkOfId(id: number): number {
    return lastAtOrBelow(this.lows, id);
  }
}

/** The last index whose value is at most `x` (0 when none is), in ascending `values`. */
function lastAtOrBelow(values: readonly number[], x: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((values[mid] as number) <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function lowerBound(rows: readonly Row[], id: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((rows[mid] as Row).id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One edit of a RowList: changes go into copies of the chunks they touch. */
export class RowListEdit {
  private readonly chunks: (readonly Row[])[];
  /** The lowest id each chunk is for: it holds while an edit empties chunks. */
  private readonly lows: number[];
  /** Chunks this edit copied, so they may be changed in place. */
  private readonly owned = new Set<number>();
  private readonly gone = new Set<Row>();
  private readonly fresh = new Set<Row>();

  constructor(
    private readonly from: RowList,
    chunks: readonly (readonly Row[])[],
  ) {
    // Chunks that an edit empties stay in place (as empty arrays) until
    // done(), so chunk numbers hold for the whole edit.
    this.chunks = chunks.slice();
    this.lows = chunks.map((chunk) => (chunk[0] as Row).id);
  }

  /** The chunk that holds (or would hold) this id. */
  private chunkOfId(id: number): number {
    return lastAtOrBelow(this.lows, id);
  }

  get(id: number): Row | undefined {
    const rows = this.chunks[this.chunkOfId(id)];
    if (rows === undefined) return undefined;
    const row = rows[lowerBound(rows, id)];
    return row?.id === id ? row : undefined;
  }

  /** Puts `row` in, in its place by id, replacing the row with its id if there is one. */
  put(row: Row): void {
    const chunk = this.chunkFor(row.id);
    const rows = this.own(chunk);
    const at = lowerBound(rows, row.id);
    const old = rows[at];
    if (old?.id === row.id) {
      this.out(old);
      rows[at] = row;
    } else {
      rows.splice(at, 0, row);
      if (rows.length > 2 * CHUNK) this.split(chunk);
    }
    this.fresh.add(row);
  }

  /** Takes out the row with this id; returns it, or undefined when it was not held. */
  remove(id: number): Row | undefined {
    const chunk = this.chunkOfId(id);
    const current = this.chunks[chunk];
    if (current === undefined) return undefined;
    const at = lowerBound(current, id);
    const old = current[at];
    if (old?.id !== id) return undefined;
    this.own(chunk).splice(at, 1);
    this.out(old);
    return old;
  }

  /** The new list, or the old one when nothing changed. */
  done(): RowList {
    if (this.owned.size === 0) return this.from;
    return RowList.fromEdit(this.from, this.chunks, { gone: this.gone, fresh: [...this.fresh] });
  }

  private out(row: Row): void {
    // A row this edit put in and now takes out again was never seen outside it.
    if (!this.fresh.delete(row)) this.gone.add(row);
  }

  private own(chunk: number): Row[] {
    if (this.chunks.length === 0) {
      this.chunks.push([]);
      this.lows.push(Number.NEGATIVE_INFINITY);
      this.owned.add(0);
    }
    if (!this.owned.has(chunk)) {
      this.chunks[chunk] = (this.chunks[chunk] as readonly Row[]).slice();
      this.owned.add(chunk);
    }
    return this.chunks[chunk] as Row[];
  }

  /** The chunk a new or replaced row goes in; a row above every id goes last, starting a chunk when that is full. */
  private chunkFor(id: number): number {
    if (this.chunks.length === 0) return 0;
    const chunk = this.chunkOfId(id);
    const last = this.chunks.length - 1;
    if (chunk === last && (this.chunks[last] as readonly Row[]).length >= CHUNK) {
      const tail = this.chunks[last] as readonly Row[];
      const top = tail[tail.length - 1] as Row;
      if (id > top.id) {
        this.chunks.push([]);
        this.lows.push(id);
        this.owned.add(last + 1);
        return last + 1;
      }
    }
    return chunk;
  }

  private split(chunk: number): void {
    const rows = this.chunks[chunk] as Row[];
    const half = rows.splice(rows.length >> 1);
    this.chunks.splice(chunk + 1, 0, half);
    this.lows.splice(chunk + 1, 0, (half[0] as Row).id);
    // Chunk numbers above `chunk` moved up by one.
    const owned = [...this.owned].map((n) => (n > chunk ? n + 1 : n));
    this.owned.clear();
    for (const n of owned) this.owned.add(n);
    this.owned.add(chunk + 1);
  }
}
