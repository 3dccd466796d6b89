import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SESSION_ID_PATTERN } from '../../shared/protocol.js';
import { originOf } from './origin.js';

describe('originOf', () => {
  it('is s- and the first 12 hex digits of the SHA-256 of the id, the same every time', () => {
    const id = 'aZ3kP0qLm8Xw2YtB';
    const origin = originOf(id);
    expect(origin).toBe(`s-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`);
    expect(origin).toMatch(/^s-[0-9a-f]{12}$/);
    expect(originOf(id)).toBe(origin);
  });

  it('never passes for a session id, and tells sessions apart', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `Session${String(i).padStart(9, '0')}`);
    const origins = new Set(ids.map(originOf));
    expect(origins.size).toBe(ids.length);
    for (const origin of origins) expect(origin).not.toMatch(SESSION_ID_PATTERN);
    // Past the remembered ones it works them out again, the same.
    expect(originOf(ids[0]!)).toBe(`s-${createHash('sha256').update(ids[0]!).digest('hex').slice(0, 12)}`);
  });
});
