/**
 * How many rows the grid's scroll range spans while its window is short of
 * the last row: the view's length rounded up to a step that grows with it,
 * at most 1/64 of the view (none under 128 rows). Rows are added hundreds of
 * times a second while a session runs; a range that followed each of them
 * would restyle, lay out and repaint the grid's scrollbar every frame. A
 * padded range changes only when the view crosses a step, and the few rows
 * of padding move the scrollbar's thumb by under 2% when the window reaches
 * the end and the range becomes exact.
 */
export function paddedRowCount(length: number): number {
  const step = 2 ** Math.max(0, Math.floor(Math.log2(length / 64)));
  return Math.ceil(length / step) * step;
}
