import { describe, expect, it } from 'vitest';
import type { Row } from '../../../shared/protocol';
import { RowList } from './rowList';
import { ScrollAnchor, keepSame } from './scrollAnchor';

const row = (id: number): Row => ({ id, name: `用户${id}`, age: 30, city: '北京', score: 80, status: '活跃' });
const rows = (ids: number[]) => ids.map(row);
const H = 40;

describe('ScrollAnchor', () => {
  it('holds the row the reader scrolled to while rows are added and removed above it', () => {
    const anchor = new ScrollAnchor();
    const view = rows([1, 2, 3, 4, 5, 6]);
    anchor.scrolled(view, 2 * H + 15, H); // row 3, 15 px into it
    expect(anchor.topIn(view, H, 2 * H + 15)).toBe(2 * H + 15);
    expect(anchor.topIn(rows([0, 1, 2, 3, 4, 5, 6]), H, 2 * H + 15)).toBe(3 * H + 15);
    expect(anchor.topIn(rows([2, 3, 4]), H, 2 * H + 15)).toBe(H + 15);
  });

  it('at the very top anchors nothing: rows added above show', () => {
    const anchor = new ScrollAnchor();
    anchor.scrolled(rows([1, 2, 3]), 0, H);
    expect(anchor.topIn(rows([0, 1, 2, 3]), H, 0)).toBe(0);
  });

  it('when the anchor row leaves, the row now in its place holds the viewport from then on', () => {
    const anchor = new ScrollAnchor();
    anchor.scrolled(rows([1, 2, 3, 4, 5]), 2 * H, H); // row 3
    expect(anchor.topIn(rows([1, 2, 4, 5]), H, 2 * H)).toBe(2 * H); // row 4 in its place
    expect(anchor.topIn(rows([0, 1, 2, 4, 5]), H, 2 * H)).toBe(3 * H); // row 4 held
  });

  it('finds its row in a RowList by id, and after a clear follows nothing', () => {
    const anchor = new ScrollAnchor();
    anchor.scrolled(RowList.of(rows([1, 2, 3, 4])), H, H); // row 2
    expect(anchor.topIn(RowList.of(rows([1, 2, 3, 4]).slice(1)), H, H)).toBe(0);
    anchor.clear();
    expect(anchor.topIn(rows([0, 1, 2, 3]), H, 77)).toBe(77);
  });
});

describe('keepSame', () => {
  it('hands back the last array while the items are the very same', () => {
    const same = keepSame<Row>();
    const [a, b] = rows([1, 2]);
    const first = same([a!, b!]);
    expect(same([a!, b!])).toBe(first);
    expect(same([a!, row(2)])).not.toBe(first);
    expect(same([a!])).toHaveLength(1);
  });
});
