import { describe, expect, it } from 'vitest';
import type { Row } from '../../../shared/protocol';
import { RowList } from './rowList';
import { translate } from './i18n';
import { DEFAULT_VIEW, createRowView, indexOfId, matches, needleOf, viewRows, type ViewSpec } from './rowView';

const CITIES = ['北京', '上海', 'Shenzhen', '广州'];
const row = (id: number, score: number, city = CITIES[id % 4] as string): Row => ({
  id,
  name: `用户${id}`,
  age: 20 + (id % 30),
  city,
  score,
  status: id % 2 ? '活跃' : '离线',
});

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('viewRows', () => {
  const rows = [row(1, 50), row(2, 90), row(3, 50), row(4, 10)];

  it('sorts by a column, ties by id, and reverses the whole order for descending', () => {
    expect(viewRows(rows, { key: 'score', direction: 'asc', filter: '' }).map((r) => r.id)).toEqual([4, 1, 3, 2]);
    expect(viewRows(rows, { key: 'score', direction: 'desc', filter: '' }).map((r) => r.id)).toEqual([2, 3, 1, 4]);
    expect(viewRows(rows, { key: 'id', direction: 'desc', filter: '' }).map((r) => r.id)).toEqual([4, 3, 2, 1]);
  });

  it('filters on any cell as shown, ignoring case and surrounding space', () => {
    expect(viewRows(rows, { ...DEFAULT_VIEW, filter: ' shenZHEN ' }).map((r) => r.id)).toEqual([2]);
    expect(viewRows(rows, { ...DEFAULT_VIEW, filter: '90.0' }).map((r) => r.id)).toEqual([2]);
    expect(matches(row(7, 12.24), '12.3')).toBe(false);
    expect(matches(row(7, 12.3), '12.3')).toBe(true);
    expect(matches(row(7, 1), '离线')).toBe(false);
  });

  it('finds a status by the word either language shows on its badge', () => {
    const active = row(7, 1);
    expect(active.status).toBe('活跃');
    expect(matches(active, 'active')).toBe(true);
    expect(matches(active, 'ACTIV')).toBe(false); // needles come lower-cased from needleOf
    expect(matches(active, 'activ')).toBe(true);
    expect(matches(active, 'busy')).toBe(false);
    expect(matches({ ...active, status: '忙碌' }, 'busy')).toBe(true);
    // The very words the English badges show.
    for (const [status, key] of [
      ['活跃', 'status.active'],
      ['离线', 'status.offline'],
      ['忙碌', 'status.busy'],
    ] as const) {
      expect(matches({ ...active, status }, needleOf(translate('en', key)))).toBe(true);
    }
  });

  it('does not touch the rows it was given', () => {
    const copy = [...rows];
    viewRows(rows, { key: 'score', direction: 'desc', filter: '' });
    expect(rows).toEqual(copy);
  });
});

describe('createRowView', () => {
  it('returns the rows themselves for the default view', () => {
    const view = createRowView();
    const rows = RowList.of([row(1, 1)]);
    expect(view(rows, DEFAULT_VIEW)).toBe(rows);
  });

  it('finds a row by id in the table and in a sorted view', () => {
    const rows = RowList.of([row(1, 5), row(2, 9), row(3, 1)]);
    expect(indexOfId(rows, 3)).toBe(2);
    const sorted = createRowView()(rows, { key: 'score', direction: 'asc', filter: '' });
    expect(indexOfId(sorted, 3)).toBe(0);
    expect(indexOfId(sorted, 7)).toBe(-1);
  });

  it('follows a live table exactly as a fresh sort and filter would', () => {
    const specs: ViewSpec[] = [
      { key: 'score', direction: 'desc', filter: '' },
      { key: 'city', direction: 'asc', filter: '' },
      { key: 'name', direction: 'desc', filter: '上海' },
      { key: 'id', direction: 'desc', filter: '2' },
    ];
    for (const spec of specs) {
      const rnd = random(spec.key.length + spec.filter.length);
      const view = createRowView();
      let rows = RowList.of(Array.from({ length: 300 }, (_, i) => row(i + 1, Math.round(rnd() * 1000) / 10)));
      let nextId = 301;
      for (let frame = 0; frame < 200; frame++) {
        // Now and then a frame's list is not the next edit of the last one
        // (a fresh snapshot): the view starts over.
        const edit = (frame % 50 === 49 ? RowList.of(rows.slice()) : rows).edit();
        for (let k = 0; k < 5; k++) {
          const r = rnd();
          const existing = rows.at(Math.floor(rnd() * rows.length)) as Row;
          if (r < 0.2) edit.put(row(nextId++, Math.round(rnd() * 1000) / 10));
          else if (r < 0.3 && rows.length > 1) edit.remove(existing.id);
          else if (edit.get(existing.id)) edit.put({ ...existing, score: Math.round(rnd() * 1000) / 10 });
        }
        rows = edit.done();
        expect(view(rows, spec), `${spec.key} frame ${frame}`).toEqual(viewRows(rows, spec));
      }
    }
  });

  it('starts over when the order or the filter changes', () => {
    const view = createRowView();
    const rows = RowList.of([row(1, 5), row(2, 9)]);
    const ids = (spec: ViewSpec) =>
      view(rows, spec)
        .slice()
        .map((r) => r.id);
    expect(ids({ key: 'score', direction: 'asc', filter: '' })).toEqual([1, 2]);
    expect(ids({ key: 'score', direction: 'desc', filter: '' })).toEqual([2, 1]);
    expect(ids({ key: 'score', direction: 'desc', filter: '用户1' })).toEqual([1]);
  });
});
