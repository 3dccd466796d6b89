import type { RowSeq } from './rowList';
import { indexOfId } from './rowView';

/**
 * Keeps the row at the top of the grid's viewport where it is on screen
 * while rows above it come and go: the reader who scrolled to a row stays
 * on it. At the very top there is no anchor, so rows added there show.
 *
 * It remembers one thing, the anchor: set when the reader scrolls; moved to
 * the row now in its place when its own row leaves the view. `topIn` is
 * otherwise a function of the view (it caches where the anchor row was last
 * found, so a frame whose changes did not move it costs no search).
 */
export class ScrollAnchor {
  private anchor: { id: number; index: number; offset: number } | null = null;

  /** The reader scrolled to `top` (px): the row there becomes the anchor. */
  scrolled(view: RowSeq, top: number, rowHeight: number): void {
    const index = Math.floor(top / rowHeight);
    const row = view.at(index);
    this.anchor = row === undefined || top <= 0 ? null : { id: row.id, index, offset: top - index * rowHeight };
  }

  /** Back to the top: nothing anchored. */
  clear(): void {
    this.anchor = null;
  }

  /** Where the viewport's top belongs in `view` (px): `top` itself when nothing is anchored. */
  topIn(view: RowSeq, rowHeight: number, top: number): number {
    const anchor = this.anchor;
    if (anchor === null) return top;
    if (view.at(anchor.index)?.id !== anchor.id) {
      const index = indexOfId(view, anchor.id);
      if (index < 0) {
        // The anchor row left: the row now in its place holds the viewport.
        const row = view.at(anchor.index);
        this.anchor = row === undefined ? null : { ...anchor, id: row.id };
      } else {
        this.anchor = { ...anchor, index };
      }
    }
    return this.anchor === null ? top : Math.max(0, this.anchor.index * rowHeight + this.anchor.offset);
  }
}

/**
 * A function that hands back the array it returned last time when the new
 * one holds the very same items: a frame's changes rarely touch the rows in
 * the window of a big table, and the same array renders nothing.
 */
export function keepSame<T>(): (next: T[]) => T[] {
  let last: T[] = [];
  return (next) => {
    if (last.length === next.length && next.every((item, i) => item === last[i])) return last;
    return (last = next);
  };
}
