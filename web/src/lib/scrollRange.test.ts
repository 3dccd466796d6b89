import { describe, expect, it } from 'vitest';
import { paddedRowCount } from './scrollRange';

describe('paddedRowCount', () => {
  it('is exact for short views', () => {
    for (const length of [0, 1, 41, 127]) expect(paddedRowCount(length)).toBe(length);
  });

  it('is never short of the view, and pads it by under 1/64', () => {
    for (let length = 0; length <= 300_000; length += 37) {
      const padded = paddedRowCount(length);
      expect(padded).toBeGreaterThanOrEqual(length);
      expect(padded - length).toBeLessThanOrEqual(Math.max(0, length / 64));
    }
  });

  it('changes once in many added rows on a big table', () => {
    let changes = 0;
    for (let length = 100_000; length < 101_000; length++) {
      if (paddedRowCount(length + 1) !== paddedRowCount(length)) changes++;
    }
    expect(changes).toBe(1); // 100,000 rows pad to steps of 1,024
    expect(paddedRowCount(100_000)).toBe(100_352);
  });
});
