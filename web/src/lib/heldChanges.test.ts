import { describe, expect, it } from 'vitest';
import { HeldChanges } from './heldChanges';

describe('HeldChanges', () => {
  it('hands over what it held, oldest first, and starts afresh', () => {
    const held = new HeldChanges<number>(3);
    held.hold(1);
    held.hold(2);
    expect(held.count).toBe(2);
    expect(held.take()).toEqual({ messages: [1, 2], dropped: 0 });
    expect(held.count).toBe(0);
  });

  it('past its bound lets everything go but keeps counting', () => {
    const held = new HeldChanges<number>(3);
    for (let i = 1; i <= 5; i++) held.hold(i);
    expect(held.count).toBe(5);
    expect(held.take()).toEqual({ messages: [], dropped: 5 });
    held.hold(6);
    expect(held.take()).toEqual({ messages: [6], dropped: 0 });
  });
});
