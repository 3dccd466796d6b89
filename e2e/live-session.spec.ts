import { expect, test } from './fixtures.js';

test.describe('a live session', () => {
  test('start: rows appear and change live, with highlights, stats and log', async ({ app, server }) => {
    const { data } = await server.data();
    await app.expectNoSession();
    await expect(app.rows).toHaveCount(data.length);
    await expect(app.stop).toBeDisabled();

    await app.startSession();
    await expect(app.start).toBeDisabled();
    await expect(app.stop).toBeEnabled();

    await app.waitForVersion(8);
    // A changed row lights up while its highlight runs.
    await expect(app.table.locator('tr[data-flash]').first()).toBeAttached();
    await expect(app.log.locator('li[data-kind="success"]').first()).toBeVisible();
    await expect.poll(async () => Number(await app.updates.textContent())).toBeGreaterThanOrEqual(8);

    // The stat cards agree with the rows on screen. They may trail the rows
    // by up to 100 ms when changes come faster than that, so it is polled.
    await expect
      .poll(
        async () => {
          const { rows, records, average } = await app.snapshot();
          const mean = rows.reduce((sum, r) => sum + r.score, 0) / rows.length;
          return records === String(rows.length) && Math.abs(Number(average) - mean) <= 0.05 + 1e-9;
        },
        { message: 'the stat cards agree with the rows' },
      )
      .toBe(true);
  });

  test('stop: the page shows the end and holds the final table', async ({ app, server }) => {
    await app.start.click();
    await app.waitForVersion(5);
    await app.stop.click();
    await app.expectNoSession();
    await expect(app.log.locator('li[data-kind="info"]').last()).toContainText('数据生成已结束');
    await expect(app.start).toBeEnabled();
    await expect(app.stop).toBeDisabled();
    await app.expectSameTableAs(server);
  });
});

test('the log follows the newest lines, and holds still while a reader scrolls back', async ({ app }) => {
  const lines = app.log.locator('li');
  const texts = () => lines.allTextContents();
  /** The text of the line at the middle of the log's box, after scrolling up by `up` px. */
  const lineInView = (up = 0) =>
    app.log.evaluate((list, by) => {
      list.scrollIntoView({ block: 'center' });
      list.scrollTop -= by;
      const box = list.getBoundingClientRect();
      const middle = box.top + box.height / 2;
      // The line across the middle, or the nearest one when the middle falls between two.
      const distance = (li: Element) => {
        const { top, bottom } = li.getBoundingClientRect();
        return top > middle ? top - middle : Math.max(0, middle - bottom);
      };
      return [...list.querySelectorAll('li')].sort((a, b) => distance(a) - distance(b))[0]?.textContent;
    }, up);

  await app.startSession();
  await app.waitForVersion(40);
  // Following: only the newest lines are in the page, and new ones keep coming.
  expect(await lines.count()).toBeLessThanOrEqual(24);
  const newest = await lines.last().textContent();
  await expect(lines.last()).not.toHaveText(newest ?? '');

  // One jump to the top (Home, the thumb dragged up) brings in every line,
  // and stays at the top, on the oldest.
  await app.log.evaluate((list) => (list.scrollTop = 0));
  await expect.poll(() => lines.count()).toBeGreaterThan(24);
  expect(await app.log.evaluate((list) => list.scrollTop)).toBe(0);

  // Scrolled back to the top, it has every line from the start and holds still.
  await app.wholeLog();
  await expect(lines.filter({ hasText: '数据生成已开始' })).toHaveCount(1);
  const held = await texts();
  expect(held.length).toBeGreaterThan(24);
  const seen = await app.version();
  await app.waitForVersion(seen + 5);
  expect(await texts()).toEqual(held);

  // Back at the bottom it follows again.
  await app.log.evaluate((list) => (list.scrollTop = list.scrollHeight));
  await expect(lines.last()).not.toHaveText(held.at(-1) ?? '');
  await expect.poll(() => lines.count()).toBeLessThanOrEqual(24);

  // A small scroll up from the newest brings the older lines in above
  // without moving the line being read. (Stopped, so no refresh can move it.)
  await app.stop.click();
  await app.expectNoSession();
  await app.log.evaluate((list) => (list.scrollTop = list.scrollHeight));
  await expect
    .poll(() => app.log.evaluate((list) => list.scrollHeight - list.clientHeight - list.scrollTop))
    .toBeLessThan(1);
  const reading = await lineInView(40);
  expect(reading).toMatch(/^\d\d:\d\d:\d\d /);
  await expect.poll(() => lines.count()).toBeGreaterThan(24);
  expect(await lineInView()).toBe(reading);
});

test.describe('a session with a short timeout', () => {
  test.use({ serverArgs: ['--update-interval', '150', '--heartbeat-interval', '1000', '--session-timeout', '4000'] });

  test('ends on the page by itself when it times out', async ({ app }) => {
    await app.start.click();
    await app.waitForVersion(3);
    await app.expectNoSession({ timeout: 15_000 });
    await expect(app.start).toBeEnabled();
    await expect(app.log.locator('li[data-kind="info"]').last()).toContainText('超时');
  });
});

test('the chart tells the average the card shows from the first moment, and changes a second to one decimal', async ({
  app,
}) => {
  const { page } = app;
  const card = page.getByTestId('stat-average');
  await expect(card).toHaveText(/^\d+\.\d$/);
  const average = (await card.textContent()) ?? '';
  // No session changes the table here: the card's value holds, and the chart says it at once.
  // Read once, not waited for: the chart's first sample is a second away.
  expect(await page.getByTestId('chart-average').textContent()).toBe(`平均分数 ${average}`);
  await expect(page.getByTestId('chart-rate')).toHaveText(/^每秒变化 \d+\.\d$/);
});
