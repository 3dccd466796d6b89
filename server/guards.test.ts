import { describe, expect, it } from 'vitest';
import { tokenBucket } from './http/guards.js';

describe('the start rate limiter', () => {
  it('forgets buckets that filled up again: after churn it is back to its idle size', () => {
    let t = 1_000_000;
    // 10 tokens, 30 a minute: an empty bucket is full again after 20 s.
    const bucket = tokenBucket({ perMinute: 30, burst: 10, now: () => t });
    for (let i = 0; i < 5000; i++) expect(bucket.take(`10.0.${i >> 8}.${i & 255}`)).toBe(0);
    expect(bucket.size).toBe(5000);
    t += 20_001;
    expect(bucket.take('192.0.2.1')).toBe(0);
    expect(bucket.size).toBeLessThanOrEqual(1);
  });

  it('keeps a bucket that is not full, so a sweep never lifts a limit', () => {
    let t = 0;
    const bucket = tokenBucket({ perMinute: 30, burst: 10, now: () => t });
    for (let i = 0; i < 10; i++) expect(bucket.take('busy')).toBe(0);
    expect(bucket.take('busy')).toBeGreaterThan(0);
    for (let i = 0; i < 100; i++) {
      t += 1000;
      bucket.take(`other-${i}`);
      // One token back every 2 s, and taken at once: the bucket never fills.
      if (i % 2 === 1) expect(bucket.take('busy')).toBe(0);
      expect(bucket.take('busy')).toBeGreaterThan(0);
    }
  });

  it('holds at most 10,000 addresses even when none is full yet', () => {
    const bucket = tokenBucket({ perMinute: 30, burst: 10, now: () => 0 });
    for (let i = 0; i < 25_000; i++) bucket.take(`addr-${i}`);
    expect(bucket.size).toBeLessThanOrEqual(10_000);
  });
});
