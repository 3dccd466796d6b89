import { describe, expect, it } from 'vitest';
import { nextCell, type GridShape } from './gridKeys';

const grid: GridShape = { rows: 100, columns: [0, 1, 2, 3, 4, 5, 6], page: 10 };

describe('nextCell', () => {
  it('moves one cell with the arrows', () => {
    const at = { row: 5, column: 3 };
    expect(nextCell(at, 'ArrowUp', false, grid)).toEqual({ row: 4, column: 3 });
    expect(nextCell(at, 'ArrowDown', false, grid)).toEqual({ row: 6, column: 3 });
    expect(nextCell(at, 'ArrowLeft', false, grid)).toEqual({ row: 5, column: 2 });
    expect(nextCell(at, 'ArrowRight', false, grid)).toEqual({ row: 5, column: 4 });
  });

  it('stops at every edge', () => {
    expect(nextCell({ row: 0, column: 0 }, 'ArrowUp', false, grid)).toEqual({ row: 0, column: 0 });
    expect(nextCell({ row: 0, column: 0 }, 'ArrowLeft', false, grid)).toEqual({ row: 0, column: 0 });
    expect(nextCell({ row: 99, column: 6 }, 'ArrowDown', false, grid)).toEqual({ row: 99, column: 6 });
    expect(nextCell({ row: 99, column: 6 }, 'ArrowRight', false, grid)).toEqual({ row: 99, column: 6 });
    expect(nextCell({ row: 3, column: 1 }, 'PageUp', false, grid)).toEqual({ row: 0, column: 1 });
    expect(nextCell({ row: 95, column: 1 }, 'PageDown', false, grid)).toEqual({ row: 99, column: 1 });
  });

  it('moves a page with Page Up and Page Down, in the same column', () => {
    expect(nextCell({ row: 50, column: 2 }, 'PageDown', false, grid)).toEqual({ row: 60, column: 2 });
    expect(nextCell({ row: 50, column: 2 }, 'PageUp', false, grid)).toEqual({ row: 40, column: 2 });
  });

  it("goes to the row's ends with Home and End, and to the first and last row with Ctrl", () => {
    const at = { row: 40, column: 3 };
    expect(nextCell(at, 'Home', false, grid)).toEqual({ row: 40, column: 0 });
    expect(nextCell(at, 'End', false, grid)).toEqual({ row: 40, column: 6 });
    expect(nextCell(at, 'Home', true, grid)).toEqual({ row: 0, column: 3 });
    expect(nextCell(at, 'End', true, grid)).toEqual({ row: 99, column: 3 });
  });

  it('steps over the columns a narrow screen hides', () => {
    const narrow = { ...grid, columns: [0, 1, 4, 6] };
    expect(nextCell({ row: 1, column: 1 }, 'ArrowRight', false, narrow)).toEqual({ row: 1, column: 4 });
    expect(nextCell({ row: 1, column: 4 }, 'ArrowLeft', false, narrow)).toEqual({ row: 1, column: 1 });
    expect(nextCell({ row: 1, column: 4 }, 'End', false, narrow)).toEqual({ row: 1, column: 6 });
  });

  it('does not move for other keys, or in an empty grid', () => {
    expect(nextCell({ row: 1, column: 1 }, 'a', false, grid)).toBeNull();
    expect(nextCell({ row: 1, column: 1 }, 'Tab', false, grid)).toBeNull();
    expect(nextCell({ row: 0, column: 0 }, 'ArrowDown', false, { ...grid, rows: 0 })).toBeNull();
  });
});
