import { describe, expect, it } from 'vitest';
import { heldInOrder, hold, nothingHeld } from './heldChanges';

describe('held changes', () => {
  it('hands over what it holds, oldest first, and leaves the value it was given as it was', () => {
    const empty = nothingHeld<number>(5);
    const once = hold(empty, [1, 2]);
    const twice = hold(once, [3]);
    expect(twice.count).toBe(3);
    expect(heldInOrder(twice)).toEqual([1, 2, 3]);
    expect(heldInOrder(once)).toEqual([1, 2]);
    expect(heldInOrder(empty)).toEqual([]);
    expect(hold(twice, [])).toBe(twice);
  });

  it('past its limit lets everything go but keeps counting', () => {
    let held = hold(nothingHeld<number>(3), [1, 2]);
    held = hold(held, [3, 4]);
    expect(held).toMatchObject({ count: 4, dropped: 4 });
    expect(heldInOrder(held)).toEqual([]);
    held = hold(held, [5]);
    expect(held).toMatchObject({ count: 5, dropped: 5 });
  });

  it('holds exactly its limit', () => {
    const held = hold(nothingHeld<number>(3), [1, 2, 3]);
    expect(held).toMatchObject({ count: 3, dropped: 0 });
    expect(heldInOrder(held)).toEqual([1, 2, 3]);
  });
});
