import { describe, expect, it } from 'vitest';
import { seededRandom, weightedChoice } from './random.js';

describe('seededRandom', () => {
  it('replays the same sequence for the same seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, seededRandom(43))).not.toEqual(first);
  });

  it('stays in [0, 1)', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 10_000; i++) {
      const x = random();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});

describe('weightedChoice', () => {
  it('picks each choice in proportion to its weight', () => {
    const random = seededRandom(1234);
    const choices = [
      { value: 'add', weight: 40 },
      { value: 'update', weight: 50 },
      { value: 'delete', weight: 10 },
    ];
    const n = 100_000;
    const counts: Record<string, number> = { add: 0, update: 0, delete: 0 };
    for (let i = 0; i < n; i++) counts[weightedChoice(random, choices) as string]!++;
    // Three standard deviations of a binomial at n = 100k is under 0.5 percentage points.
    expect(counts.add! / n).toBeCloseTo(0.4, 1);
    expect(Math.abs(counts.add! / n - 0.4)).toBeLessThan(0.005);
    expect(Math.abs(counts.update! / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(counts.delete! / n - 0.1)).toBeLessThan(0.005);
  });

  it('never picks a choice of weight 0', () => {
    const random = seededRandom(5);
    for (let i = 0; i < 1000; i++) {
      expect(
        weightedChoice(random, [
          { value: 'a', weight: 0 },
          { value: 'b', weight: 1 },
          { value: 'c', weight: 0 },
        ]),
      ).toBe('b');
    }
  });

  it('returns undefined when nothing can be picked', () => {
    expect(weightedChoice(seededRandom(1), [{ value: 'a', weight: 0 }])).toBeUndefined();
    expect(weightedChoice(seededRandom(1), [])).toBeUndefined();
  });
});
