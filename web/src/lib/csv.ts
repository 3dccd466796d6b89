import type { Row } from '../../../shared/protocol';

export const CSV_COLUMNS = ['id', 'name', 'age', 'city', 'score', 'status'] as const satisfies readonly (keyof Row)[];

/** Spreadsheets run a cell starting with one of these as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV field (RFC 4180). Text that a spreadsheet would take for a formula
 * gets a leading apostrophe, so an exported row cannot run anything on open.
 */
export function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The rows as CSV, header first, CRLF line ends. */
export function toCsv(rows: Iterable<Row>): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of rows) lines.push(CSV_COLUMNS.map((column) => csvField(row[column])).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** Offers the rows as a CSV download; a byte-order mark lets spreadsheets read it as UTF-8. */
export function downloadCsv(rows: Iterable<Row>, filename: string): void {
  const url = URL.createObjectURL(new Blob(['\ufeff', toCsv(rows)], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  // The download has taken the blob by the time a task later; free it then.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
