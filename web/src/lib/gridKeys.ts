/** A cell of the grid: its row's index in the shown rows, and its column. */
export interface CellPosition {
  row: number;
  column: number;
}

/** What a move depends on besides the key. */
export interface GridShape {
  /** Rows shown (after the filter). */
  rows: number;
  /** The columns on screen, in order (a narrow screen hides some). */
  columns: readonly number[];
  /** Rows a Page Up or Page Down moves by. */
  page: number;
}

/**
 * Where a key moves the active cell of the grid (the WAI-ARIA grid
 * pattern): the arrows by one cell, Page Up/Down by a screenful, Home/End
 * to the row's first and last shown cell, Ctrl+Home/End to the first and
 * last row, never past an edge; hidden columns are stepped over. Null when
 * the key does not move (or there is no row).
 */
export function nextCell(at: CellPosition, key: string, ctrl: boolean, grid: GridShape): CellPosition | null {
  if (grid.rows === 0) return null;
  const { columns } = grid;
  const here = Math.max(0, columns.indexOf(at.column));
  const column = (offset: number) => columns[Math.max(0, Math.min(columns.length - 1, here + offset))] ?? 0;
  let move: [number, number];
  switch (key) {
    case 'ArrowUp':
      move = [at.row - 1, at.column];
      break;
    case 'ArrowDown':
      move = [at.row + 1, at.column];
      break;
    case 'ArrowLeft':
      move = [at.row, column(-1)];
      break;
    case 'ArrowRight':
      move = [at.row, column(1)];
      break;
    case 'PageUp':
      move = [at.row - grid.page, at.column];
      break;
    case 'PageDown':
      move = [at.row + grid.page, at.column];
      break;
    case 'Home':
      move = ctrl ? [0, at.column] : [at.row, column(-columns.length)];
      break;
    case 'End':
      move = ctrl ? [grid.rows - 1, at.column] : [at.row, column(columns.length)];
      break;
    default:
      return null;
  }
  return { row: Math.max(0, Math.min(grid.rows - 1, move[0])), column: move[1] };
}
