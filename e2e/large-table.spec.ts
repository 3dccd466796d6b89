import { readFile } from 'node:fs/promises';
import type { Row } from '../shared/protocol.js';
import type { Locator } from '@playwright/test';
import { expect, test, type LiveTablePage } from './fixtures.js';

test.use({
  serverArgs: [
    '--seed-rows',
    '20000',
    '--max-records',
    '40000',
    '--update-interval',
    '20',
    '--heartbeat-interval',
    '1000',
  ],
});

/** The id of the row a user sees at the top of the grid, just under the header. */
function topRowId(app: LiveTablePage): Promise<number> {
  return app.page.evaluate(() => {
    const scroller = document.querySelector('[data-testid="grid-scroller"]') as HTMLElement;
    const head = scroller.querySelector('thead') as HTMLElement;
    const box = scroller.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + 40, box.top + head.offsetHeight + 4);
    return Number(hit?.closest('tr')?.getAttribute('data-row-id'));
  });
}

/** Waits for a wheel's smooth scroll of `grid` to come to rest past `beyond` px (polls are spaced). */
async function comeToRest(grid: Locator, beyond: number): Promise<void> {
  let last = -1;
  await expect
    .poll(async () => {
      const now = await grid.evaluate((el) => el.scrollTop);
      const still = now === last && now > beyond;
      last = now;
      return still;
    })
    .toBe(true);
}

const shows = (row: Row, text: string) =>
  [String(row.id), row.name, String(row.age), row.city, row.score.toFixed(1), row.status].some((cell) =>
    cell.toLowerCase().includes(text.toLowerCase()),
  );
const byScoreDescending = (a: Row, b: Row) => b.score - a.score || b.id - a.id;

async function stopAndSettle(app: LiveTablePage): Promise<void> {
  await app.stop.click();
  await app.expectNoSession();
}

test('20,000 rows are one grid with every row counted and only a window of them in the page', async ({ app }) => {
  await expect(app.table).toHaveAttribute('role', 'grid');
  await expect(app.table).toHaveAttribute('aria-rowcount', '20001');
  expect(await app.rows.count()).toBeLessThanOrEqual(200);
  await app.page.getByTestId('grid-scroller').evaluate((grid) => (grid.scrollTop = grid.scrollHeight));
  const last = app.table.locator('tr[aria-rowindex="20001"]');
  await expect(last).toBeVisible();
  await expect(last.locator('td').first()).toHaveText('20000');
  expect(await app.rows.count()).toBeLessThanOrEqual(200);
});

test('dragged to the very end, the grid shows its last row at its bottom edge in the next frame', async ({ app }) => {
  // While the window is short of the last row, the scroll range of 20,000
  // rows reaches past it (scrollRange.ts): a jump to the end lands there.
  await expect(app.table).toHaveAttribute('aria-rowcount', '20001');
  const gap = await app.page.getByTestId('grid-scroller').evaluate(async (grid) => {
    grid.scrollTop = grid.scrollHeight;
    // The scroll event comes before this frame's callbacks, and the grid renders in it.
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const row = grid.querySelector('tr[aria-rowindex="20001"]');
    if (row === null) return null;
    return Math.round(
      grid.getBoundingClientRect().top + grid.clientTop + grid.clientHeight - row.getBoundingClientRect().bottom,
    );
  });
  expect(gap).toBe(0);
  expect(await app.rows.count()).toBeLessThanOrEqual(200);
});

test('sorting by a column holds while the data streams', async ({ app, server }) => {
  await app.start.click();
  await app.waitForVersion(30);
  const score = app.table.getByRole('columnheader', { name: /分数/ });
  // Anywhere in the header cell sorts, not only its label: here, the middle
  // of the cell, then its left edge (the label is right-aligned).
  await score.click();
  await expect(score).toHaveAttribute('aria-sort', 'ascending');
  await score.click({ position: { x: 4, y: 4 } });
  await expect(score).toHaveAttribute('aria-sort', 'descending');
  const before = await app.version();
  await app.waitForVersion(before + 30);
  const live = await app.renderedRows();
  expect(live).toEqual([...live].sort(byScoreDescending));
  await stopAndSettle(app);
  const { data, version } = await server.data();
  await expect.poll(() => app.version()).toBe(version);
  const shown = await app.renderedRows();
  expect(shown.length).toBeGreaterThan(10);
  expect(shown).toEqual([...data].sort(byScoreDescending).slice(0, shown.length));
});

test('a text filter narrows the grid while the data streams', async ({ app, server }) => {
  const city = (await server.data()).data[0]?.city ?? '北京';
  await app.start.click();
  await app.waitForVersion(20);
  await app.page.getByTestId('filter').fill(city);
  await expect.poll(() => app.rowCount()).toBeLessThan(20000);
  const before = await app.version();
  await app.waitForVersion(before + 30);
  for (const row of await app.renderedRows()) expect(shows(row, city), JSON.stringify(row)).toBe(true);
  await stopAndSettle(app);
  const { data, version } = await server.data();
  await expect.poll(() => app.version()).toBe(version);
  await expect.poll(() => app.rowCount()).toBe(data.filter((row) => shows(row, city)).length);
});

test('pause holds changes back with a count on the button, and resume applies them all', async ({ app, server }) => {
  await app.start.click();
  await app.waitForVersion(10);
  await app.pause.click();
  await expect(app.pause).toHaveAttribute('aria-pressed', 'true');
  // Changes that arrived before the click are still applied, in the next frame.
  await app.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const frozenAt = await app.version();
  await expect.poll(() => app.held()).toBeGreaterThanOrEqual(50);
  expect(await app.version()).toBe(frozenAt);
  await app.pause.click();
  await expect(app.pause).toHaveAttribute('aria-pressed', 'false');
  await expect.poll(() => app.version()).toBeGreaterThanOrEqual(frozenAt + 50);
  await stopAndSettle(app);
  const { data, version } = await server.data();
  await expect.poll(() => app.version()).toBe(version);
  expect(await app.rowCount()).toBe(data.length);
  expect(await app.renderedRows()).toEqual(data.slice(0, (await app.renderedRows()).length));
});

test('the row in view stays in view while rows are added above it', async ({ app, page }) => {
  const id = app.table.getByRole('columnheader', { name: /ID/ });
  await id.getByRole('button').click();
  await expect(id).toHaveAttribute('aria-sort', 'descending');
  const grid = page.getByTestId('grid-scroller');
  await grid.hover();
  await page.mouse.wheel(0, 4000);
  await comeToRest(grid, 1000);
  const top = await topRowId(app);
  const before = await app.rowCount();
  await app.start.click();
  await expect.poll(() => app.rowCount(), { timeout: 15_000 }).toBeGreaterThanOrEqual(before + 10);
  await app.stop.click();
  await app.expectNoSession();
  expect(await topRowId(app)).toBe(top);
});

test('export downloads the current view, sorted and filtered, as CSV', async ({ app, page, server }) => {
  const city = (await server.data()).data[0]?.city ?? '北京';
  await app.table.getByRole('columnheader', { name: /分数/ }).getByRole('button').click();
  await app.table.getByRole('columnheader', { name: /分数/ }).getByRole('button').click();
  await page.getByTestId('filter').fill(city);
  const { data } = await server.data();
  const expected = data.filter((row) => shows(row, city)).sort(byScoreDescending);
  await expect.poll(() => app.rowCount()).toBe(expected.length);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export').click()]);
  expect(download.suggestedFilename()).toMatch(/\.csv$/);
  const text = (await readFile(await download.path(), 'utf8')).replace(/^\ufeff/, '');
  const [header, ...lines] = text.trimEnd().split('\r\n');
  expect(header).toBe('id,name,age,city,score,status');
  const rows = lines.map((line) => {
    const [rowId, name, age, rowCity, score, status] = line.split(',');
    return { id: Number(rowId), name, age: Number(age), city: rowCity, score: Number(score), status };
  });
  expect(rows).toEqual(expected);
});

test("scrolled by the wheel, the grid's one tab stop is its top row in view", async ({ app, page }) => {
  const grid = page.getByTestId('grid-scroller');
  const stops = app.table.locator('tbody td[tabindex="0"]');
  const expectStopOnTopRow = async () => {
    await expect(stops).toHaveCount(1);
    const stopRow = async () => Number(await stops.locator('xpath=..').getAttribute('data-row-id'));
    await expect
      .poll(async () => (await stopRow()) === (await topRowId(app)), { message: 'the tab stop is on the top row' })
      .toBe(true);
  };
  await grid.hover();
  // Far: the row that had the stop leaves the page.
  await page.mouse.wheel(0, 40 * 500);
  await comeToRest(grid, 40 * 400);
  await expectStopOnTopRow();
  // Near, within the rows already in the page: the stop moves off a row that stays.
  const far = await topRowId(app);
  await page.mouse.wheel(0, 40 * 3);
  await expect.poll(() => topRowId(app)).toBeGreaterThan(far);
  await comeToRest(grid, 0);
  await expectStopOnTopRow();
  await expect(app.table.locator(`tr[data-row-id="${far}"]`)).toBeAttached();
  // Tabbing past the header's sort buttons lands there.
  await page.getByTestId('export').focus();
  for (let i = 0; i < 7; i++) await page.keyboard.press('Tab');
  await expect(stops).toBeFocused();
});

test('the grid is one tab stop, and the keys move between its cells, scrolling as they go', async ({ app, page }) => {
  const export_ = page.getByTestId('export');
  await export_.focus();
  // Past the sort buttons of the header: the body is a single tab stop.
  for (let i = 0; i < 7; i++) await page.keyboard.press('Tab');
  const focused = () =>
    page.evaluate(() => {
      const cell = document.activeElement as HTMLTableCellElement | null;
      const row = cell?.closest('tr');
      return { row: Number(row?.getAttribute('aria-rowindex')), column: cell?.cellIndex, text: cell?.textContent };
    });
  await expect.poll(focused).toEqual({ row: 2, column: 0, text: '1' });
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  await expect.poll(focused).toMatchObject({ row: 4, column: 1 });
  // The last column holds the row's delete button.
  await page.keyboard.press('End');
  await expect.poll(focused).toMatchObject({ row: 4, column: 6 });
  await page.keyboard.press('Control+End');
  await expect.poll(focused).toMatchObject({ row: 20001, column: 6 });
  await page.keyboard.press('PageUp');
  const afterPageUp = await focused();
  expect(afterPageUp.row).toBeLessThan(20001);
  expect(afterPageUp.row).toBeGreaterThan(20001 - 30);
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('Home');
  await expect.poll(focused).toEqual({ row: 2, column: 0, text: '1' });
  // Only one body cell is in the tab order at a time.
  expect(await app.table.locator('tbody td[tabindex="0"]').count()).toBe(1);
  // A phone hides age and city: the arrows step over them.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect.poll(focused).toMatchObject({ row: 2, column: 4 });
  await page.keyboard.press('ArrowLeft');
  await expect.poll(focused).toMatchObject({ row: 2, column: 1 });
});
