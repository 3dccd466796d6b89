import { get, writable, type Writable } from 'svelte/store';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttled } from './throttled';

describe('throttled', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function watch<T>(source: Writable<T>) {
    const seen: T[] = [];
    const unsubscribe = throttled(source, 100).subscribe((value) => seen.push(value));
    return { seen, unsubscribe };
  }

  it('shows the current value at once, and a change after a quiet spell at once', () => {
    const source = writable(1);
    const { seen } = watch(source);
    expect(seen).toEqual([1]);
    vi.advanceTimersByTime(150);
    source.set(2);
    expect(seen).toEqual([1, 2]);
  });

  it('holds changes within the interval and then shows only the newest', () => {
    const source = writable(1);
    const { seen } = watch(source);
    source.set(2);
    source.set(3);
    vi.advanceTimersByTime(99);
    expect(seen).toEqual([1]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([1, 3]);
    // The value shown at the end of one interval opens the next.
    source.set(4);
    vi.advanceTimersByTime(99);
    expect(seen).toEqual([1, 3]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([1, 3, 4]);
  });

  it('changes at most once per interval however fast the source does', () => {
    const source = writable(0);
    const { seen } = watch(source);
    for (let ms = 1; ms <= 1000; ms++) {
      source.set(ms);
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(100);
    expect(seen.length).toBe(11);
    expect(seen.at(-1)).toBe(1000);
  });

  it('stops its timer and lets go of the source when the last subscriber leaves', () => {
    const source = writable(1);
    const { seen, unsubscribe } = watch(source);
    source.set(2);
    unsubscribe();
    expect(vi.getTimerCount()).toBe(0);
    source.set(3);
    vi.advanceTimersByTime(200);
    expect(seen).toEqual([1]);
    // A new subscriber starts from the source's current value.
    expect(get(throttled(source, 100))).toBe(3);
  });
});
