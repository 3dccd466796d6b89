import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SESSION_KEY, SessionMemory, UPDATES_KEY } from './sessionMemory';

const ID = 'AbCdEfGh12345678';

function memoryOver(storage: Map<string, string> | null, now = { sessionId: ID as string | null, updates: 0 }) {
  const memory = new SessionMemory(
    () =>
      storage && {
        getItem: (key) => storage.get(key) ?? null,
        setItem: (key, value) => void storage.set(key, value),
        removeItem: (key) => void storage.delete(key),
      },
    () => now,
  );
  return { memory, now };
}

describe('SessionMemory', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('remembers a session for a reload, and forgets it', () => {
    const storage = new Map<string, string>();
    const { memory } = memoryOver(storage);
    memory.remember(ID);
    expect(memory.recall()).toEqual({ id: ID, updates: 0 });
    memory.forget();
    expect(memory.recall()).toBeNull();
    expect(storage.size).toBe(0);
  });

  it('ignores a stored id that is not a session id', () => {
    const storage = new Map([[SESSION_KEY, '<script>']]);
    expect(memoryOver(storage).memory.recall()).toBeNull();
  });

  it('writes the update count at most once a second, and at once when asked', () => {
    const storage = new Map<string, string>();
    const { memory, now } = memoryOver(storage);
    now.updates = 1;
    memory.updatesChanged();
    expect(storage.get(UPDATES_KEY)).toBe('1');
    now.updates = 2;
    memory.updatesChanged();
    now.updates = 3;
    memory.updatesChanged();
    expect(storage.get(UPDATES_KEY)).toBe('1');
    vi.advanceTimersByTime(1000);
    expect(storage.get(UPDATES_KEY)).toBe('3');
    now.updates = 4;
    memory.updatesChanged();
    memory.saveNow();
    expect(storage.get(UPDATES_KEY)).toBe('4');
  });

  it('without storage, or with storage that throws, only the resume is lost', () => {
    expect(memoryOver(null).memory.recall()).toBeNull();
    const broken = new SessionMemory(
      () => ({
        getItem: () => {
          throw new Error('denied');
        },
        setItem: () => {
          throw new Error('full');
        },
        removeItem: () => undefined,
      }),
      () => ({ sessionId: ID, updates: 1 }),
    );
    expect(() => broken.remember(ID)).not.toThrow();
    expect(broken.recall()).toBeNull();
  });
});
