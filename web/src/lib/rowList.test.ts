import { describe, expect, it } from 'vitest';
import type { Row } from '../../../shared/protocol';
import { RowList } from './rowList';

const row = (id: number, score = 80): Row => ({ id, name: `用户${id}`, age: 30, city: '北京', score, status: '活跃' });

/** A small deterministic PRNG, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function expectSame(list: RowList, model: Row[]): void {
  expect(list.length).toBe(model.length);
  expect([...list]).toEqual(model);
  expect(list.slice()).toEqual(model);
  for (const at of [0, 1, model.length >> 1, model.length - 1]) {
    expect(list.at(at)).toBe(model[at]);
    const r = model[at];
    if (r) {
      expect(list.indexOfId(r.id)).toBe(at);
      expect(list.get(r.id)).toBe(r);
    }
  }
  expect(list.slice(3, 700)).toEqual(model.slice(3, 700));
  expect(list.at(-1)).toBe(model.at(-1));
}

describe('RowList', () => {
  it('holds rows in id order and reads like an array', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => row(i * 2 + 1));
    const list = RowList.of(rows);
    expectSame(list, rows);
    expect(list.indexOfId(2)).toBe(-1);
    expect(list.get(4001)).toBeUndefined();
    expect(list.at(2000)).toBeUndefined();
    expect(RowList.EMPTY.length).toBe(0);
    expect(RowList.EMPTY.slice()).toEqual([]);
  });

  it('matches a plain array over thousands of random edits, and never changes an older list', () => {
    for (const seed of [1, 2, 3]) {
      const rnd = random(seed);
      let model = Array.from({ length: 3000 }, (_, i) => row(i + 1));
      let list = RowList.of(model);
      let nextId = 3001;
      for (let step = 0; step < 60; step++) {
        const before = list;
        const snapshot = [...before];
        const edit = list.edit();
        const next = model.slice();
        for (let k = 0; k < 40; k++) {
          const r = rnd();
          if (r < 0.3 || next.length === 0) {
            // Adds mostly at the end (fresh ids), now and then below existing ids.
            const id = rnd() < 0.9 ? nextId++ : Math.floor(rnd() * nextId) + 0.5;
            if (next.some((x) => x.id === id)) continue;
            const added = row(id);
            edit.put(added);
            const at = next.findIndex((x) => x.id > id);
            next.splice(at === -1 ? next.length : at, 0, added);
          } else if (r < 0.5) {
            const victim = next[Math.floor(rnd() * next.length)] as Row;
            expect(edit.remove(victim.id)).toBe(victim);
            next.splice(next.indexOf(victim), 1);
          } else {
            const at = Math.floor(rnd() * next.length);
            const updated = row((next[at] as Row).id, rnd() * 100);
            expect(edit.get(updated.id)).toBe(next[at]);
            edit.put(updated);
            next[at] = updated;
          }
        }
        list = edit.done();
        model = next;
        expectSame(list, model);
        expect([...before]).toEqual(snapshot);
      }
    }
  });

  it('survives an edit that empties whole chunks and grows others past their size', () => {
    const model = Array.from({ length: 3000 }, (_, i) => row(i + 1));
    const edit = RowList.of(model).edit();
    for (let id = 1; id <= 1500; id++) edit.remove(id);
    const between = Array.from({ length: 1500 }, (_, i) => row(2000.5 + i / 10000));
    for (const r of between) edit.put(r);
    const expected = [...model.slice(1500, 2000), ...between, ...model.slice(2000)];
    expectSame(edit.done(), expected);
  });

  it('remembers what one edit took out and put in, for the list it was edited from only', () => {
    const start = RowList.of([row(1), row(2), row(3)]);
    const edit = start.edit();
    const updated = row(2, 99);
    edit.put(updated);
    edit.remove(3);
    const added = row(4);
    edit.put(added);
    edit.put(row(5));
    edit.remove(5); // in and out again within the edit: seen by nobody
    const next = edit.done();
    const changes = next.changesSince(start);
    expect(changes?.fresh).toEqual([updated, added]);
    expect([...(changes?.gone ?? [])]).toEqual([start.at(1), start.at(2)]);
    expect(next.changesSince(RowList.of([row(1)]))).toBeUndefined();
    // Only one step back is remembered.
    const later = next.edit();
    later.remove(1);
    const third = later.done();
    expect(third.changesSince(next)).toBeDefined();
    expect(next.changesSince(start)).toBeUndefined();
  });

  it('returns the same list for an edit that changed nothing', () => {
    const start = RowList.of([row(1)]);
    const edit = start.edit();
    expect(edit.remove(9)).toBeUndefined();
    expect(edit.done()).toBe(start);
  });

  it('builds from nothing', () => {
    const rows = Array.from({ length: 1200 }, (_, i) => row(i + 1));
    const edit = RowList.EMPTY.edit();
    for (const r of rows) edit.put(r);
    expectSame(edit.done(), rows);
  });
});
