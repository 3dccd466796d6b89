import type { Locator } from '@playwright/test';
import type { Row, WriteResponse } from '../shared/protocol.js';
import { LiveTablePage, expect, test, type LiveServer } from './fixtures.js';

/** The grid's row with this id, and one of its cells by column (0 = id … 5 = status, 6 = actions). */
const rowOf = (app: LiveTablePage, id: number): Locator => app.table.locator(`tbody tr[data-row-id="${id}"]`);
const cellOf = (app: LiveTablePage, id: number, column: number): Locator => rowOf(app, id).locator('td').nth(column);

async function firstRow(server: LiveServer): Promise<Row> {
  const { data } = await server.data();
  return data[0] as Row;
}

/** A write by someone else, straight to the API. */
async function patchAsOther(server: LiveServer, id: number, patch: Partial<Row>): Promise<WriteResponse> {
  const response = await fetch(`${server.url}/api/rows/${id}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(patch),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as WriteResponse;
}

test('a row added on one page appears on another, and each log says who added it', async ({ app, other, server }) => {
  const before = (await server.data()).data.length;
  const form = app.page.getByTestId('add-form');
  await form.locator('[name="name"]').fill('王五');
  await form.locator('[name="age"]').fill('28');
  await form.locator('[name="city"]').fill('杭州');
  await form.locator('[name="score"]').fill('91.5');
  await form.locator('[name="status"]').selectOption('忙碌');
  await form.getByTestId('add-submit').click();
  await expect(app.page.getByTestId('add-outcome')).toContainText('已添加 王五');
  // The form is empty again, ready for the next row.
  await expect(form.locator('[name="name"]')).toHaveValue('');

  const { data } = await server.data();
  expect(data).toHaveLength(before + 1);
  const added = data.at(-1) as Row;
  expect(added).toMatchObject({ name: '王五', age: 28, city: '杭州', score: 91.5, status: '忙碌' });

  // Lit up like any other change, on the page that wrote it and on the other.
  await expect(rowOf(app, added.id)).toHaveAttribute('data-flash', 'add');
  await expect(app.log.locator('li').last()).toContainText('你');
  await expect(app.log.locator('li').last()).toContainText('添加了新用户: 王五');
  await other.page.bringToFront();
  await expect(rowOf(other, added.id)).toContainText('王五');
  await expect(other.log.locator('li').last()).toContainText('接口');
  await expect(other.log.locator('li').last()).not.toContainText('你');
  await other.expectSameTableAs(server);
});

test('an invalid value shows its error next to its field, and nothing is sent', async ({ app, server }) => {
  const { version } = await server.data();
  const form = app.page.getByTestId('add-form');
  await form.locator('[name="age"]').fill('200');
  // Validated as it is typed, before any submit.
  await expect(app.page.getByTestId('add-error-age')).toHaveText('须为 0–150 的整数');
  await expect(form.locator('[name="age"]')).toHaveAttribute('aria-invalid', 'true');
  await form.getByTestId('add-submit').click();
  // Every missing field says so once a submit was tried; focus goes to the first.
  await expect(app.page.getByTestId('add-error-name')).toHaveText('须为 1–40 个字符，不含控制字符');
  await expect(form.locator('[name="name"]')).toBeFocused();
  expect((await server.data()).version).toBe(version);

  // In a cell, the same rules: the edit stays open and says why.
  const row = await firstRow(server);
  await cellOf(app, row.id, 2).dblclick();
  const editor = app.table.getByTestId('cell-editor');
  await editor.fill('abc');
  await expect(app.page.getByTestId('edit-problem')).toHaveText('年龄须为 0–150 的整数');
  await editor.press('Enter');
  await expect(editor).toBeVisible();
  await editor.press('Escape');
  await expect(editor).toHaveCount(0);
  await expect(cellOf(app, row.id, 2)).toHaveText(String(row.age));
  await expect(cellOf(app, row.id, 2)).toBeFocused();
  expect((await server.data()).version).toBe(version);
});

test('a cell is edited in place, by mouse or keyboard, and another page sees it live', async ({
  app,
  other,
  server,
}) => {
  const row = await firstRow(server);
  // A city the row does not have already (the table is random): a save of
  // the same value changes nothing and logs nothing.
  const city = row.city === '深圳' ? '杭州' : '深圳';
  // Mouse: double-click, type, Enter.
  await cellOf(app, row.id, 3).dblclick();
  const editor = app.table.getByTestId('cell-editor');
  await expect(editor).toBeFocused();
  await editor.fill(city);
  await editor.press('Enter');
  await expect(editor).toHaveCount(0);
  await expect(cellOf(app, row.id, 3)).toHaveText(city);
  await expect(cellOf(app, row.id, 3)).toBeFocused();
  await expect(app.log.locator('li').last()).toContainText(`更新了用户 ${row.name} 的城市: ${row.city} → ${city}`);
  await expect(app.log.locator('li').last().getByTestId('log-by')).toHaveText('你');

  // Keyboard: arrows to the score, Enter to edit, Enter to save.
  await app.page.keyboard.press('ArrowRight');
  await expect(cellOf(app, row.id, 4)).toBeFocused();
  await app.page.keyboard.press('Enter');
  await expect(editor).toBeFocused();
  await app.page.keyboard.press('Control+A');
  await app.page.keyboard.type('66.6');
  await app.page.keyboard.press('Enter');
  await expect(cellOf(app, row.id, 4)).toHaveText('66.6');
  // Escape leaves a value as it was.
  await app.page.keyboard.press('Enter');
  await app.page.keyboard.type('12');
  await app.page.keyboard.press('Escape');
  await expect(cellOf(app, row.id, 4)).toHaveText('66.6');

  // The status is picked from the three there are.
  await cellOf(app, row.id, 5).dblclick();
  const next = row.status === '离线' ? '活跃' : '离线';
  await editor.selectOption(next);
  await editor.press('Enter');
  await expect(cellOf(app, row.id, 5)).toHaveText(next);

  expect((await server.data()).data[0]).toMatchObject({ city, score: 66.6, status: next });
  await other.page.bringToFront();
  await expect(cellOf(other, row.id, 3)).toHaveText(city);
  await other.expectSameTableAs(server);
});

test('a save after someone else changed the cell shows their value; keep theirs, or save yours over it', async ({
  app,
  server,
}) => {
  const row = await firstRow(server);
  const editor = app.table.getByTestId('cell-editor');

  // Someone else writes while this page edits: their change arrives under
  // the editor. Their city and age differ from the row's (the table is
  // random), or there would be no change to conflict with.
  const theirs = row.city === '广州' ? '武汉' : '广州';
  const age = row.age === 44 ? 45 : 44;
  // Yours differs from the row's as well: the same value is nothing to save.
  const yours = row.city === '上海' ? '杭州' : '上海';
  await cellOf(app, row.id, 3).dblclick();
  await editor.fill(yours);
  await patchAsOther(server, row.id, { city: theirs, age });
  await expect(cellOf(app, row.id, 2)).toHaveText(String(age));
  await editor.press('Enter');
  await expect(app.page.getByTestId('edit-conflict')).toContainText(`“${theirs}”`);
  // Said under the grid, and brought into view.
  await expect(app.page.getByTestId('edit-conflict')).toBeInViewport();
  // Yours is still there to keep or drop.
  await expect(editor).toHaveValue(yours);
  await app.page.getByTestId('edit-keep').click();
  await expect(editor).toHaveCount(0);
  await expect(cellOf(app, row.id, 3)).toHaveText(theirs);
  expect((await server.data()).data[0]?.city).toBe(theirs);

  // Again, and this time save over theirs (Enter in the conflict saves yours).
  await cellOf(app, row.id, 3).dblclick();
  await editor.fill('上海');
  await patchAsOther(server, row.id, { city: '成都' });
  await editor.press('Enter');
  await expect(app.page.getByTestId('edit-conflict')).toContainText('“成都”');
  await editor.press('Enter');
  await expect(editor).toHaveCount(0);
  await expect(cellOf(app, row.id, 3)).toHaveText('上海');
  expect((await server.data()).data[0]?.city).toBe('上海');

  // A change to another cell of the row is no conflict: the save goes through.
  await cellOf(app, row.id, 3).dblclick();
  await editor.fill('南京');
  await patchAsOther(server, row.id, { score: 10 });
  await editor.press('Enter');
  await expect(editor).toHaveCount(0);
  expect((await server.data()).data[0]).toMatchObject({ city: '南京', score: 10 });
});

test('a long name stays in its cell', async ({ app, server }) => {
  const row = await firstRow(server);
  await patchAsOther(server, row.id, { name: 'W'.repeat(40) });
  const cell = cellOf(app, row.id, 1);
  await expect(cell).toHaveText('W'.repeat(40));
  const { clips, overflows } = await cell.evaluate((td) => ({
    clips: getComputedStyle(td).overflowX === 'hidden',
    overflows: td.scrollWidth > td.clientWidth,
  }));
  // Too long for the cell, and cut at its edge rather than drawn over the next ones.
  expect(overflows).toBe(true);
  expect(clips).toBe(true);
});

test('a row is deleted only once the dialog is confirmed, and goes from every page', async ({ app, other, server }) => {
  const { data } = await server.data();
  const row = data[1] as Row;
  const dialog = app.page.getByTestId('delete-dialog');

  await rowOf(app, row.id).getByTestId('delete-row').click();
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(row.name);
  // Cancel has the focus: Enter alone deletes nothing.
  await expect(dialog.getByTestId('delete-cancel')).toBeFocused();
  await app.page.keyboard.press('Enter');
  await expect(dialog).toHaveCount(0);
  expect((await server.data()).data).toHaveLength(data.length);

  // From the keyboard: Delete on a cell of the row, Escape cancels.
  await cellOf(app, row.id, 1).click();
  await app.page.keyboard.press('Delete');
  await expect(dialog).toBeVisible();
  await app.page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  expect((await server.data()).data).toHaveLength(data.length);

  await app.page.keyboard.press('Delete');
  await dialog.getByTestId('delete-confirm').click();
  await expect(dialog).toHaveCount(0);
  await expect(rowOf(app, row.id)).toHaveCount(0);
  // Focus stays in the grid, on the row now in the deleted one's place.
  await expect(cellOf(app, (data[2] as Row).id, 1)).toBeFocused();
  await expect(app.log.locator('li').last()).toContainText(`删除了用户: ${row.name}`);
  await expect(app.log.locator('li').last().getByTestId('log-by')).toHaveText('你');
  expect((await server.data()).data.map((r) => r.id)).not.toContain(row.id);
  await other.page.bringToFront();
  await expect(rowOf(other, row.id)).toHaveCount(0);
  await other.expectSameTableAs(server);
});

test('a focused row that someone else deletes hands focus to the row now in its place', async ({ app, server }) => {
  const { data } = await server.data();
  const row = data[1] as Row;
  await cellOf(app, row.id, 2).click();
  await expect(cellOf(app, row.id, 2)).toBeFocused();
  const response = await fetch(`${server.url}/api/rows/${row.id}`, { method: 'DELETE' });
  expect(response.status).toBe(200);
  await expect(rowOf(app, row.id)).toHaveCount(0);
  await expect(cellOf(app, (data[2] as Row).id, 2)).toBeFocused();
  // The grid's one tab stop went with it.
  await expect(app.table.locator('td[tabindex="0"]')).toHaveCount(1);
  await expect(cellOf(app, (data[2] as Row).id, 2)).toHaveAttribute('tabindex', '0');
});

test('a deleted row fades out before it goes, and is no row of the grid meanwhile', async ({ app, server }) => {
  const { data } = await server.data();
  const row = data[1] as Row;
  const leaving = app.table.locator('tbody tr.leaving');
  const response = await fetch(`${server.url}/api/rows/${row.id}`, { method: 'DELETE' });
  expect(response.status).toBe(200);
  await expect(leaving).toHaveCount(1);
  await expect(leaving).toContainText(row.name);
  await expect(leaving).toHaveAttribute('aria-hidden', 'true');
  await expect(rowOf(app, row.id)).toHaveCount(0);
  await expect(leaving).toHaveCount(0);
  await app.expectSameTableAs(server);
});

test('deleting the top row leaves the grid laid out as before', async ({ app, server }) => {
  const { data } = await server.data();
  const scroller = app.page.getByTestId('grid-scroller');
  const heightBefore = await scroller.evaluate((el) => el.clientHeight);
  const rowBefore = await app.rows.first().evaluate((el) => el.getBoundingClientRect().height);
  const response = await fetch(`${server.url}/api/rows/${(data[0] as Row).id}`, { method: 'DELETE' });
  expect(response.status).toBe(200);
  await expect(app.table.locator('tbody tr.leaving')).toHaveCount(0);
  await app.expectSameTableAs(server);
  // One row fewer, each as tall as before: the folding row was no measure of a row.
  await expect.poll(() => scroller.evaluate((el) => el.clientHeight)).toBeCloseTo(heightBefore - rowBefore, 0);
  expect(await app.rows.first().evaluate((el) => el.getBoundingClientRect().height)).toBeCloseTo(rowBefore, 1);
});

test.describe('at the limits', () => {
  test.use({
    serverArgs: ['--seed-rows', '3', '--min-records', '3', '--max-records', '3', '--heartbeat-interval', '1000'],
  });

  test('a refused add says why under the form and adds nothing', async ({ app, server }) => {
    const { version } = await server.data();
    const form = app.page.getByTestId('add-form');
    await form.locator('[name="name"]').fill('王五');
    await form.locator('[name="age"]').fill('28');
    await form.locator('[name="city"]').fill('杭州');
    await form.locator('[name="score"]').fill('91.5');
    await form.getByTestId('add-submit').click();
    await expect(app.page.getByTestId('add-outcome')).toContainText('未添加');
    // What was typed stays, to try again later.
    await expect(form.locator('[name="name"]')).toHaveValue('王五');
    expect((await server.data()).version).toBe(version);
  });

  test('a refused delete says why in the dialog and deletes nothing', async ({ app, server }) => {
    const { data, version } = await server.data();
    const row = data[0] as Row;
    await rowOf(app, row.id).getByTestId('delete-row').click();
    const dialog = app.page.getByTestId('delete-dialog');
    await dialog.getByTestId('delete-confirm').click();
    await expect(dialog.getByRole('alert')).toContainText('未删除');
    await dialog.getByTestId('delete-cancel').click();
    await expect(rowOf(app, row.id)).toBeVisible();
    expect((await server.data()).version).toBe(version);
  });
});
