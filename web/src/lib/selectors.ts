import { derived, type Readable } from 'svelte/store';
import { averageScore, type LiveState } from './reducer';

/**
 * `derived`, except that it emits only when the picked value changes (by
 * `same`, Object.is by default). A store of objects otherwise emits on every
 * state change: at a thousand changes a second the session's buttons would be
 * written every frame, and the log re-run on every heartbeat.
 */
export function changesOf<S, T>(
  source: Readable<S>,
  pick: (s: S) => T,
  same: (a: T, b: T) => boolean = Object.is,
): Readable<T> {
  let last: { value: T } | undefined;
  return derived(source, (value, set) => {
    const next = pick(value);
    if (last !== undefined && same(last.value, next)) return;
    last = { value: next };
    set(next);
  });
}

/** The same fields with the same values. */
export function sameFields<T extends object>(a: T, b: T): boolean {
  const keys = Object.keys(a) as (keyof T)[];
  return keys.length === Object.keys(b).length && keys.every((key) => Object.is(a[key], b[key]));
}

/** The parts of the state the views show, each a store that emits only when its part changes. */
export function selectors(state: Readable<LiveState>) {
  return {
    table: changesOf(state, (s) => ({ rows: s.rows, version: s.version, flash: s.flash }), sameFields),
    stats: changesOf(
      state,
      (s) => ({ records: s.rows.length, updates: s.updates, average: averageScore(s) }),
      sameFields,
    ),
    log: changesOf(state, (s) => s.log),
    connection: changesOf(state, (s) => s.connection),
    session: changesOf(
      state,
      // Busy from a click until its work is done: a stop's, until its end came.
      (s) => ({ id: s.sessionId, running: s.sessionId !== null, busy: s.busy || s.stopping, ended: s.ended }),
      sameFields,
    ),
    paused: changesOf(state, (s) => ({ paused: s.paused, held: s.held.count }), sameFields),
  };
}
