import { readable, type Readable } from 'svelte/store';

/**
 * How often the page's counters (records, updates, average, version, rows
 * shown) may change while changes pour in. Ten times a second reads as live;
 * sixty does not read at all, and each frame a counter changes costs the
 * page a layout and paint the rows on screen do not need.
 */
export const COUNTER_REFRESH_MS = 100;

/**
 * `source`, changing at most once per `ms`: a value that follows a quiet
 * spell shows at once; values that follow it within `ms` wait, and only the
 * newest of them shows when the time is up. So at a change or two a second
 * nothing waits, and at a thousand the store changes ten times a second.
 */
export function throttled<T>(source: Readable<T>, ms: number): Readable<T> {
  return readable<T>(undefined, (set) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiting: { value: T } | null = null;
    const show = (value: T) => {
      set(value);
      timer = setTimeout(() => {
        timer = undefined;
        if (waiting === null) return;
        const next = waiting.value;
        waiting = null;
        show(next);
      }, ms);
    };
    const unsubscribe = source.subscribe((value) => {
      if (timer === undefined) show(value);
      else waiting = { value };
    });
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  });
}
