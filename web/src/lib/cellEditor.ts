import { get, writable, type Readable } from 'svelte/store';
import { fieldProblem, type Row, type RowField } from '../../../server/protocol';
import type { MessageKey } from './i18n';
import type { RowsApi, WriteOutcome } from './rowsApi';

/**
 * Where an edit of one cell stands:
 * - `editing`: the viewer types; Enter saves, Escape cancels.
 * - `saving`: the write is out.
 * - `conflict`: someone else changed the cell first (412): `theirs` is its
 *   value now; saving again overwrites it, cancelling keeps it.
 * - `gone`: the row was deleted; nothing can be saved.
 */
export type EditPhase = 'editing' | 'saving' | 'conflict' | 'gone';

export interface CellEdit {
  id: number;
  field: RowField;
  /** The row's name when the edit began, to say whose cell it is. */
  name: string;
  /** What the viewer has typed. */
  text: string;
  /** The cell's value as the server had it at `etag`. */
  base: string;
  /** The row's ETag the write is conditional on; null until the server has told it. */
  etag: string | null;
  phase: EditPhase;
  /** `conflict`: the cell's value now. */
  theirs?: string;
  /** Why the server refused the last save (its own words), when it did. */
  refusal?: string;
}

/** A cell's value as the editor shows it. */
export function cellText(row: Row, field: RowField): string {
  return field === 'score' ? row.score.toFixed(1) : String(row[field]);
}

/** What typed text means for a field: numbers for age and score, the text itself otherwise. */
export function parseCell(field: RowField, text: string): unknown {
  if (field !== 'age' && field !== 'score') return text;
  const trimmed = text.trim();
  return trimmed === '' ? Number.NaN : Number(trimmed);
}

/** The rule typed text breaks for its field, as a message key; undefined when the server would take it. */
export function cellProblem(field: RowField, text: string): MessageKey | undefined {
  return fieldProblem(field, parseCell(field, text)) === undefined ? undefined : `rule.${field}`;
}

/** Same value for the field, however it was typed ("90" and "90.0" are one score). */
function sameValue(field: RowField, a: string, b: string): boolean {
  return Object.is(parseCell(field, a), parseCell(field, b));
}

/** Conflicts on a row whose edited cell stayed the same are retried this often at most. */
const MAX_QUIET_RETRIES = 3;

/**
 * One cell edited at a time, through the write API with `If-Match`, so no
 * write overwrites another unseen: the row's ETag is fetched when the edit
 * begins; a save the server refuses with 412 shows the cell's value now and
 * lets the viewer overwrite it or keep it. A 412 caused by another field of
 * the row changing is retried at once: the edited cell is still as seen.
 */
export function createCellEditor(api: Pick<RowsApi, 'get' | 'update'>, onWrote: (seq: number) => void) {
  const edit = writable<CellEdit | null>(null);
  /** Bumped when an edit ends, so answers for an older one are dropped. */
  let generation = 0;
  let fetched: Promise<void> = Promise.resolve();

  const current = () => get(edit);
  const update = (at: number, change: (e: CellEdit) => CellEdit | null) => {
    if (at !== generation) return;
    const e = current();
    if (e !== null) edit.set(change(e));
  };

  /** The server's row, taken as the edit's base when the viewer has not typed yet. */
  function rebase(e: CellEdit, outcome: WriteOutcome): CellEdit {
    if (!outcome.ok) return outcome.status === 404 ? { ...e, phase: 'gone' } : e;
    const base = cellText(outcome.row, e.field);
    const untouched = e.text === e.base;
    return { ...e, etag: outcome.etag, base, text: untouched ? base : e.text };
  }

  function start(row: Row, field: RowField): void {
    const at = ++generation;
    const text = cellText(row, field);
    edit.set({ id: row.id, field, name: row.name, text, base: text, etag: null, phase: 'editing' });
    fetched = api.get(row.id).then((outcome) => update(at, (e) => rebase(e, outcome)));
  }

  function input(text: string): void {
    const e = current();
    if (e !== null && e.phase !== 'saving' && e.phase !== 'gone') edit.set({ ...e, text });
  }

  function cancel(): void {
    generation++;
    edit.set(null);
  }

  /**
   * Saves what was typed (in a conflict: over the other value). Resolves
   * true when the edit is over (saved, or nothing to save), false while it
   * stays open (refused, conflict, invalid).
   */
  async function save(): Promise<boolean> {
    let e = current();
    if (e === null) return true;
    if (e.phase === 'saving' || e.phase === 'gone') return false;
    if (cellProblem(e.field, e.text) !== undefined) return false;
    if (e.phase === 'editing' && sameValue(e.field, e.text, e.base)) {
      cancel();
      return true;
    }
    const at = generation;
    edit.set({ ...e, phase: 'saving', refusal: undefined });
    await fetched;
    for (let quiet = 0; ; quiet++) {
      e = current();
      if (at !== generation || e === null) return true;
      const outcome = await api.update(e.id, { [e.field]: parseCell(e.field, e.text) }, e.etag);
      if (at !== generation) return true;
      if (outcome.ok) {
        onWrote(outcome.seq);
        cancel();
        return true;
      }
      if (outcome.code === 'row_changed' && outcome.current !== undefined) {
        const theirs = cellText(outcome.current.row, e.field);
        const etag = outcome.current.etag;
        if (sameValue(e.field, theirs, e.text)) {
          // Someone else wrote the very value typed: nothing is left to save.
          cancel();
          return true;
        }
        if (sameValue(e.field, theirs, e.base) && quiet < MAX_QUIET_RETRIES) {
          update(at, (x) => ({ ...x, etag }));
          continue;
        }
        update(at, (x) => ({ ...x, etag, base: theirs, theirs, phase: 'conflict' }));
        return false;
      }
      if (outcome.status === 404) {
        update(at, (x) => ({ ...x, phase: 'gone' }));
        return false;
      }
      const refusal = outcome.fields?.[e.field] ?? outcome.message;
      update(at, (x) => ({ ...x, phase: x.theirs === undefined ? 'editing' : 'conflict', refusal }));
      return false;
    }
  }

  return { edit: edit as Readable<CellEdit | null>, start, input, save, cancel };
}

export type CellEditor = ReturnType<typeof createCellEditor>;
