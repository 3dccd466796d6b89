import { get, writable, type Readable } from 'svelte/store';
import { fieldProblem, type Row, type RowField } from '../../../shared/protocol';
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

/** The keyboard a phone shows for a field's text input. */
export function inputModeOf(field: RowField): 'numeric' | 'decimal' | 'text' {
  return field === 'age' ? 'numeric' : field === 'score' ? 'decimal' : 'text';
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
 * write overwrites another unseen: the row's ETag is read when the edit
 * begins, and nothing is saved without one. Whenever the server's value of
 * the cell turns out to differ from the one the viewer started from (when
 * the row is read, or as a 412 to the save), the edit shows it and lets the
 * viewer save theirs over it or keep it. A 412 caused by another field of the
 * row is retried at once: the edited cell is still as seen. While a save is
 * out the edit can be neither cancelled nor replaced: its answer is always
 * shown.
 */
export function createCellEditor(api: Pick<RowsApi, 'get' | 'update'>, onWrote: (seq: number) => void) {
  const edit = writable<CellEdit | null>(null);
  /** Bumped when an edit ends, so answers for an older one are dropped. */
  let generation = 0;
  /** Enter was pressed again while a save was out: save once more when it is back. */
  let again = false;
  /** The last read of the edited row. */
  let reading: Promise<WriteOutcome> = Promise.resolve({ ok: false, status: 0, code: 'none', message: '' });

  const current = () => get(edit);
  const update = (at: number, change: (e: CellEdit) => CellEdit) => {
    if (at !== generation) return;
    const e = current();
    if (e !== null) edit.set(change(e));
  };
  /** The phase a save goes back to when it does not go through. */
  const open = (e: CellEdit): EditPhase => (e.theirs === undefined ? 'editing' : 'conflict');

  /**
   * What a read of the row tells the edit: its ETag, and the cell's value now.
   * Untouched, the edit takes that value; typed over, a value other than the
   * one the viewer started from is a conflict, shown at once.
   */
  function learn(e: CellEdit, outcome: WriteOutcome): CellEdit {
    if (!outcome.ok) return outcome.status === 404 ? { ...e, phase: 'gone' } : e;
    const now = cellText(outcome.row, e.field);
    const etag = outcome.etag;
    if (e.text === e.base && e.phase === 'editing') return { ...e, etag, base: now, text: now };
    if (sameValue(e.field, now, e.base)) return { ...e, etag };
    return { ...e, etag, base: now, theirs: now, phase: 'conflict' };
  }

  function read(at: number, id: number): Promise<WriteOutcome> {
    reading = api.get(id).then((outcome) => {
      update(at, (e) => learn(e, outcome));
      return outcome;
    });
    return reading;
  }

  /** Starts editing a cell; refused (false) while a save is out. */
  function start(row: Row, field: RowField): boolean {
    if (current()?.phase === 'saving') return false;
    const at = ++generation;
    const text = cellText(row, field);
    edit.set({ id: row.id, field, name: row.name, text, base: text, etag: null, phase: 'editing' });
    void read(at, row.id);
    return true;
  }

  /** What the viewer types, while a save is out too: it is saved next, never dropped. */
  function input(text: string): void {
    const e = current();
    if (e !== null && e.phase !== 'gone') edit.set({ ...e, text, refusal: undefined });
  }

  function finish(): true {
    generation++;
    again = false;
    edit.set(null);
    return true;
  }

  /** The edit as it now is (the viewer may have typed meanwhile) with `change` applied. */
  function set(change: Partial<CellEdit>): void {
    const e = current();
    if (e !== null) edit.set({ ...e, ...change });
  }

  /** Ends the edit without saving; refused (false) while a save is out. */
  function cancel(): boolean {
    if (current()?.phase === 'saving') return false;
    finish();
    return true;
  }

  /**
   * Saves what was typed (in a conflict: over the other value). Resolves
   * true when the edit is over (saved, or nothing to save), false while it
   * stays open (refused, conflict, invalid, a save already out).
   */
  async function save(): Promise<boolean> {
    let e = current();
    if (e === null) return true;
    if (e.phase === 'saving') {
      again = true;
      return false;
    }
    if (e.phase === 'gone') return false;
    if (cellProblem(e.field, e.text) !== undefined) return false;
    // Nothing to write: the value is the one there already.
    if (sameValue(e.field, e.text, e.theirs ?? e.base)) return finish();
    const at = generation;
    edit.set({ ...e, phase: 'saving', refusal: undefined });
    // No ETag yet: wait for the read under way, and read again if it failed.
    if (e.etag === null) {
      let outcome = await reading;
      if (current()?.etag === null && (outcome.ok || outcome.status !== 404)) outcome = await read(at, e.id);
      e = current() as CellEdit;
      if (e.phase === 'conflict' || e.phase === 'gone') return false;
      if (e.etag === null) {
        set({ phase: open(e), refusal: outcome.ok ? undefined : outcome.message });
        return false;
      }
    }
    for (let quiet = 0; ; quiet++) {
      const sent = e.etag;
      const text = e.text;
      const outcome = await api.update(e.id, { [e.field]: parseCell(e.field, text) }, sent);
      if (outcome.ok) {
        // A write that changed nothing answers the seq it found: not a change of ours.
        if (outcome.etag !== sent) onWrote(outcome.seq);
        const now = current() as CellEdit;
        if (now.text === text && !again) return finish();
        // Typed on while it was saved: the edit goes on from what was saved.
        edit.set({ ...now, phase: 'editing', base: text, etag: outcome.etag, theirs: undefined });
        if (!again) return false;
        again = false;
        return save();
      }
      const now = current() as CellEdit;
      again = false;
      if (outcome.code === 'row_changed' && outcome.current !== undefined) {
        const theirs = cellText(outcome.current.row, e.field);
        const etag = outcome.current.etag;
        // Someone else wrote the very value typed: nothing is left to save.
        if (sameValue(e.field, theirs, now.text)) return finish();
        if (sameValue(e.field, theirs, e.base)) {
          e = { ...now, etag };
          if (quiet < MAX_QUIET_RETRIES) continue;
          // The row keeps changing under the edit: say so, and let the viewer try again.
          set({ etag, phase: open(now), refusal: outcome.message });
          return false;
        }
        set({ etag, base: theirs, theirs, phase: 'conflict' });
        return false;
      }
      if (outcome.status === 404) {
        set({ phase: 'gone' });
        return false;
      }
      set({ phase: open(now), refusal: outcome.fields?.[e.field] ?? outcome.message });
      return false;
    }
  }

  return { edit: edit as Readable<CellEdit | null>, start, input, save, cancel };
}

export type CellEditor = ReturnType<typeof createCellEditor>;
