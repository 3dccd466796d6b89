import { describe, expect, it } from 'vitest';
import { Highlights } from './highlights';

const add = (seq: number) => ({ kind: 'add' as const, seq });
const update = (seq: number) => ({ kind: 'update' as const, seq });

function highlighted(ids: number[], limit = 10): Highlights {
  const edit = Highlights.NONE.edit(limit);
  ids.forEach((id, i) => edit.set(id, add(i + 1)));
  return edit.done();
}

describe('Highlights', () => {
  it('gives each highlighted row its newest change, and nothing for other rows', () => {
    const edit = highlighted([1, 2]).edit(10);
    edit.set(1, update(7));
    const next = edit.done();
    expect(next.get(1)).toEqual(update(7));
    expect(next.get(2)).toEqual(add(2));
    expect(next.get(3)).toBeUndefined();
    // A row highlighted again is the newest, counted once.
    expect(next.ids()).toEqual([2, 1]);
    expect(next.size).toBe(2);
  });

  it('keeps the newest `limit` rows: the oldest go first, however many come in one run', () => {
    const some = highlighted([1, 2, 3], 4);
    const edit = some.edit(4);
    [4, 5, 2, 6].forEach((id, i) => edit.set(id, update(10 + i)));
    expect(edit.done().ids()).toEqual([4, 5, 2, 6]);
    expect(highlighted([9, 8, 7, 6, 5, 4, 3], 3).ids()).toEqual([5, 4, 3]);
  });

  it('trims as each row comes in: a row gone later in the run brings no trimmed one back', () => {
    const edit = highlighted([1, 2], 2).edit(2);
    edit.set(3, add(5));
    edit.delete(2);
    expect(edit.done().ids()).toEqual([3]);
  });

  it('forgets a row that is gone, even one highlighted earlier in the same run', () => {
    const edit = highlighted([1, 2]).edit(10);
    edit.set(3, add(5));
    edit.delete(3);
    edit.delete(1);
    const next = edit.done();
    expect(next.ids()).toEqual([2]);
    expect(next.get(1)).toBeUndefined();
  });

  it('is immutable: an edit leaves the highlights it started from as they were', () => {
    const before = highlighted([1, 2]);
    const edit = before.edit(2);
    edit.set(3, add(9));
    edit.delete(1);
    expect(edit.done().ids()).toEqual([2, 3]);
    expect(before.ids()).toEqual([1, 2]);
    expect(before.get(1)).toEqual(add(1));
  });

  it('an edit that touched nothing gives back the same highlights', () => {
    const before = highlighted([1]);
    expect(before.edit(10).done()).toBe(before);
    // Most rows a big table loses were never highlighted.
    const edit = before.edit(10);
    edit.delete(99);
    expect(edit.done()).toBe(before);
  });
});
