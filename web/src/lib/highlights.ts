/** The last change that touched a row, so the view can play its highlight once per change. */
export interface Flash {
  kind: 'add' | 'update';
  seq: number;
}

interface Entry {
  id: number;
  flash: Flash;
}

/**
 * The newest highlight of each recently changed row, for at most `limit`
 * rows; immutable. Entries are kept oldest first in one short array, so a
 * frame's changes cost a copy of that array, not a copy of a record keyed
 * by id plus a sort, and a lookup scans it from the newest end (the grid
 * looks up the few dozen rows in its window).
 */
export class Highlights {
  static readonly NONE = new Highlights([]);

  private constructor(private readonly entries: readonly Entry[]) {}

  get size(): number {
    return this.entries.length;
  }

  get(id: number): Flash | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i] as Entry;
      if (entry.id === id) return entry.flash;
    }
    return undefined;
  }

  /** The highlighted rows' ids, oldest highlight first. */
  ids(): number[] {
    return this.entries.map((entry) => entry.id);
  }

  /**
   * Collects one run of changes; `done()` gives the highlights after them.
   * The oldest go as soon as there are more than `limit`, as they would
   * change by change, so a run leaves what its changes one by one would.
   */
  edit(limit: number): HighlightsEdit {
    const entries = this.entries;
    // This run's highlights, oldest first (a Map keeps insertion order).
    const added = new Map<number, Entry>();
    // Rows highlighted again or gone in this run: their older entries go.
    const touched = new Set<number>();
    // Entries before `head` have been trimmed; `count` rows are highlighted.
    let head = 0;
    let count = entries.length;
    const inEntries = (id: number) => {
      if (touched.has(id)) return false;
      for (let i = head; i < entries.length; i++) if ((entries[i] as Entry).id === id) return true;
      return false;
    };
    const trimOldest = () => {
      while (head < entries.length) {
        if (!touched.has((entries[head++] as Entry).id)) return;
      }
      added.delete(added.keys().next().value as number);
    };
    return {
      set(id, flash) {
        if (!added.delete(id) && !inEntries(id)) count++;
        touched.add(id);
        added.set(id, { id, flash });
        for (; count > limit; count--) trimOldest();
      },
      delete(id) {
        if (!added.delete(id) && !inEntries(id)) return; // not highlighted: nothing changes
        count--;
        touched.add(id);
      },
      done: () => {
        if (touched.size === 0) return this;
        const kept: Entry[] = [];
        for (let i = head; i < entries.length; i++) {
          const entry = entries[i] as Entry;
          if (!touched.has(entry.id)) kept.push(entry);
        }
        for (const entry of added.values()) kept.push(entry);
        return new Highlights(kept);
      },
    };
  }
}

export interface HighlightsEdit {
  /** Highlights the row (again): it becomes the newest. */
  set(id: number, flash: Flash): void;
  /** The row is gone: no highlight for it. */
  delete(id: number): void;
  done(): Highlights;
}
