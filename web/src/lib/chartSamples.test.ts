import { describe, expect, it } from 'vitest';
import { CHART_SECONDS, polylinePoints, pushSample, sampleOf } from './chartSamples';

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
