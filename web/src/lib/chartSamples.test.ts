import { get } from 'svelte/store';
import { describe, expect, it, vi } from 'vitest';
import { CHART_SECONDS, chartSamples, polylinePoints, pushSample, recentRate, sampleOf } from './chartSamples';

describe('sampleOf', () => {
  it('counts the changes of the second, and starts over with a new session', () => {
    expect(sampleOf(150, 100, '80.5')).toEqual({ rate: 50, average: 80.5 });
    expect(sampleOf(7, 900, '80.5')).toEqual({ rate: 7, average: 80.5 });
    expect(sampleOf(0, 0, '—')).toEqual({ rate: 0, average: null });
  });
});

describe('pushSample', () => {
  it(`keeps the last ${CHART_SECONDS} seconds`, () => {
    let samples = [] as ReturnType<typeof pushSample>;
    for (let i = 0; i < CHART_SECONDS + 5; i++) samples = pushSample(samples, { rate: i, average: null });
    expect(samples).toHaveLength(CHART_SECONDS);
    expect(samples[0]?.rate).toBe(5);
    expect(samples.at(-1)?.rate).toBe(CHART_SECONDS + 4);
  });
});

describe('polylinePoints', () => {
  it('puts the newest value at the right edge, scaled to the box, skipping gaps', () => {
    expect(polylinePoints([0, null, 50, 100], 30, 10, 100, 4)).toBe('0.0,10.0 20.0,5.0 30.0,0.0');
    expect(polylinePoints([200], 30, 10, 100, 4)).toBe('30.0,0.0');
    expect(polylinePoints([5], 30, 10, 0, 4)).toBe('30.0,10.0');
  });
});

describe('chartSamples', () => {
  it('takes a sample a second while subscribed, from the counters as they are then, and stops with the last subscriber', () => {
    vi.useFakeTimers();
    try {
      let counters = { updates: 10, average: '80.0' };
      const store = chartSamples(() => counters);
      const seen: number[][] = [];
      const stop = store.subscribe((samples) => seen.push(samples.map((s) => s.rate)));
      counters = { updates: 25, average: '81.0' };
      vi.advanceTimersByTime(1000);
      counters = { updates: 27, average: '81.5' };
      vi.advanceTimersByTime(999);
      expect(seen).toEqual([[], [15]]);
      vi.advanceTimersByTime(1);
      expect(seen.at(-1)).toEqual([15, 2]);
      expect(get(store).map((s) => s.average)).toEqual([81, 81.5]);
      stop();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('recentRate', () => {
  const at = (...rates: number[]) => rates.map((rate) => ({ rate, average: null }));
  it('averages the last ten seconds to one decimal, and reads 0.0 before the first', () => {
    expect(recentRate([])).toBe('0.0');
    expect(recentRate(at(1, 0, 1, 0))).toBe('0.5');
    expect(recentRate(at(100, 100, ...Array<number>(10).fill(3)))).toBe('3.0');
    expect(recentRate(at(1, 2))).toBe('1.5');
  });
});
