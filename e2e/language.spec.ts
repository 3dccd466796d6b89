import { expect, test } from './fixtures.js';

test('the page speaks Chinese, switches to English, and remembers the choice', async ({ app, page }) => {
  await expect(page.locator('html')).toHaveAttribute('lang', /^zh/);
  await expect(app.start).toContainText('开始生成数据');
  await page.getByTestId('lang').click();
  await expect(app.start).toContainText(/start/i);
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.reload();
  await expect(app.start).toContainText(/start/i);
});

test.describe('in an English browser', () => {
  test.use({ locale: 'en-US' });

  test('the page starts in English', async ({ app, page }) => {
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    await expect(app.start).toContainText(/start/i);
  });

  test('the log tells a session, its changes and its end in English', async ({ app }) => {
    const lines = app.log.locator('li .text');
    await app.startSession();
    await expect(
      lines.filter({ hasText: /^(Added user: |Updated user |Deleted user: |Batch-updated \d+ records)/ }).first(),
    ).toBeVisible();
    await app.stop.click();
    await app.expectNoSession();
    // In the order it happened: the click, the server's answer, the stream's
    // end, each at its own time. Changes the session made before the server
    // took the stop may come between the click and the answer.
    await expect(lines.last()).toHaveText('Data generation has ended');
    const texts = await lines.allTextContents();
    const times = await app.log.locator('li time').allTextContents();
    const clicked = texts.lastIndexOf('Stopping data generation…');
    const answered = texts.lastIndexOf('Data generation stopped');
    expect(clicked).toBeGreaterThanOrEqual(0);
    expect(answered).toBe(texts.length - 2);
    expect(texts.slice(clicked + 1, answered).every((text) => /^(Added|Updated|Deleted) user|^Batch-/.test(text))).toBe(
      true,
    );
    const stopTimes = [times[clicked], times[answered], times.at(-1)];
    expect(stopTimes).toEqual([...stopTimes].sort());
    await app.wholeLog();
    await expect(lines.filter({ hasText: /^Data generation has started$/ })).toHaveCount(1);
    await expect(lines.filter({ hasText: /^Data generation stopped$/ })).toHaveCount(1);
    // Switching back tells the same lines in Chinese.
    await app.page.getByTestId('lang').click();
    await expect(app.log.locator('li[data-kind="info"] .text').last()).toHaveText('数据生成已结束');
    await expect(lines.filter({ hasText: /^数据生成已开始$/ })).toHaveCount(1);
  });
});

test.describe('in English, everything the page owns', () => {
  test.use({ locale: 'en-US' });

  test('status badges and stat cards are in English; the row data stays as it is', async ({ app, page, server }) => {
    const { data } = await server.data();
    const badges = app.table.locator('tbody .badge');
    await expect(badges.first()).toBeVisible();
    const labels = new Set(await badges.allTextContents());
    expect([...labels].every((label) => ['Active', 'Offline', 'Busy'].includes(label))).toBe(true);
    await expect(page.getByTestId('stat-updates').locator('..')).toContainText('Changes');
    // The names are the table's own.
    await expect(app.table.locator('tbody tr').first()).toContainText(data[0]!.name);
  });

  test('a filter that matches nothing says so', async ({ app }) => {
    await app.page.getByTestId('filter').fill('no such row anywhere');
    await expect(app.table.page().getByText('No rows match “no such row anywhere”')).toBeVisible();
    await expect(app.page.getByText('No data yet')).toHaveCount(0);
  });
});

test('a filter that matches nothing says so in Chinese too', async ({ app }) => {
  await app.page.getByTestId('filter').fill('zzz');
  await expect(app.page.getByText('没有与 “zzz” 匹配的行')).toBeVisible();
});
