/**
 * Changes held back while the viewer has paused live updates: an immutable
 * value the reducer keeps in the state. Each fold adds its frame's changes
 * as one run (no copy of what is held already). Past `limit` the changes are
 * let go but still counted: resuming then loads the table afresh instead of
 * replaying them, so a long pause cannot fill the page's memory.
 */
export interface HeldChanges<T> {
  readonly limit: number;
  /** Changes held or let go since the pause. */
  readonly count: number;
  /** How many were let go (then nothing is held: the table must be loaded afresh). */
  readonly dropped: number;
  /** The newest run last; each run points at the one before it. */
  readonly newest: HeldRun<T> | null;
}

interface HeldRun<T> {
  readonly changes: readonly T[];
  readonly before: HeldRun<T> | null;
}

/** Nothing held, with room for `limit` changes. */
export function nothingHeld<T>(limit: number): HeldChanges<T> {
  return { limit, count: 0, dropped: 0, newest: null };
}

/** Holds `changes` after what is held, or past the limit lets everything go. */
export function hold<T>(held: HeldChanges<T>, changes: readonly T[]): HeldChanges<T> {
  if (changes.length === 0) return held;
  const count = held.count + changes.length;
  if (held.dropped > 0 || count > held.limit) return { ...held, count, dropped: count, newest: null };
  return { ...held, count, newest: { changes, before: held.newest } };
}

/** What is held, oldest first (nothing once some were let go). */
export function heldInOrder<T>(held: HeldChanges<T>): T[] {
  const runs: (readonly T[])[] = [];
  for (let run = held.newest; run !== null; run = run.before) runs.push(run.changes);
  return runs.reverse().flat();
}
