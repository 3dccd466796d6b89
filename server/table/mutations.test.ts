import { describe, expect, it } from 'vitest';
import { ROW_STATUSES } from '../../shared/protocol.js';
import { createMemoryStore } from '../store/memoryStore.js';
import { nextMutation, type MutationMix } from './mutations.js';
import { seededRandom } from './random.js';
import { randomRow } from './rows.js';

const mix = (overrides: Partial<MutationMix> = {}): MutationMix => ({
  weights: { add: 40, update: 50, delete: 10, batch_update: 0 },
  minRecords: 3,
  maxRecords: 1000,
  batchSize: 5,
  ...overrides,
});

function storeWith(rows: number, seed = 1) {
  const random = seededRandom(seed);
  return createMemoryStore({ history: 100, initialRows: Array.from({ length: rows }, () => randomRow(random)) });
}

const meta = { session_id: 'AAAAAAAAAAAAAAAA', generation_count: 1, timestamp: '2026-01-01T00:00:00.000Z' };

describe('randomRow', () => {
  it('makes realistic people', () => {
    const random = seededRandom(9);
    for (let i = 0; i < 1000; i++) {
      const row = randomRow(random);
      expect(row.name).toMatch(/^\p{Script=Han}{2,3}$/u);
      expect(row.age).toBeGreaterThanOrEqual(18);
      expect(row.age).toBeLessThanOrEqual(65);
      expect(row.score).toBeGreaterThanOrEqual(60);
      expect(row.score).toBeLessThanOrEqual(100);
      expect(Math.round(row.score * 10) / 10).toBe(row.score);
      expect(ROW_STATUSES).toContain(row.status);
    }
  });
});

describe('nextMutation', () => {
  it('never deletes at the floor', () => {
    const store = storeWith(3);
    const random = seededRandom(2);
    for (let i = 0; i < 500; i++) {
      const mutation = nextMutation(
        store,
        mix({ weights: { add: 0, update: 1, delete: 1000, batch_update: 0 } }),
        random,
      );
      expect(mutation?.type).toBe('update');
    }
  });

  it('never adds at the cap', () => {
    const store = storeWith(10);
    const random = seededRandom(3);
    for (let i = 0; i < 500; i++) {
      const mutation = nextMutation(
        store,
        mix({ maxRecords: 10, weights: { add: 1000, update: 1, delete: 0, batch_update: 0 } }),
        random,
      );
      expect(mutation?.type).toBe('update');
    }
  });

  it('returns undefined when no operation is possible', () => {
    expect(nextMutation(storeWith(0), mix({ maxRecords: 0, minRecords: 0 }), seededRandom(1))).toBeUndefined();
  });

  it('makes updates that really change the row', async () => {
    const store = storeWith(20);
    const random = seededRandom(4);
    for (let i = 0; i < 500; i++) {
      const mutation = nextMutation(store, mix({ weights: { add: 0, update: 1, delete: 0, batch_update: 0 } }), random);
      if (mutation?.type !== 'update') throw new Error('expected an update');
      const before = store.get(mutation.id)!;
      expect(Object.keys(mutation.patch).length).toBeGreaterThan(0);
      for (const [field, value] of Object.entries(mutation.patch)) {
        expect(value).not.toEqual(before[field as keyof typeof before]);
      }
      await store.commit(mutation, meta);
    }
  });

  it('batch-updates distinct rows, at most batchSize of them', () => {
    const store = storeWith(7);
    const random = seededRandom(5);
    for (let i = 0; i < 200; i++) {
      const mutation = nextMutation(
        store,
        mix({ batchSize: 5, weights: { add: 0, update: 0, delete: 0, batch_update: 1 } }),
        random,
      );
      if (mutation?.type !== 'batch_update') throw new Error('expected a batch update');
      const ids = mutation.updates.map((u) => u.id);
      expect(ids).toHaveLength(5);
      expect(new Set(ids).size).toBe(5);
    }
    const small = storeWith(2);
    const mutation = nextMutation(
      small,
      mix({ batchSize: 5, weights: { add: 0, update: 0, delete: 0, batch_update: 1 } }),
      random,
    );
    expect(mutation?.type === 'batch_update' && mutation.updates.length).toBe(2);
  });

  it('keeps the table within its bounds over a long run', async () => {
    const store = storeWith(5);
    const random = seededRandom(6);
    const bounds = mix({
      minRecords: 3,
      maxRecords: 12,
      weights: { add: 40, update: 50, delete: 10, batch_update: 5 },
    });
    for (let i = 0; i < 5000; i++) {
      await store.commit(nextMutation(store, bounds, random)!, meta);
      expect(store.size).toBeGreaterThanOrEqual(3);
      expect(store.size).toBeLessThanOrEqual(12);
    }
  });
});
