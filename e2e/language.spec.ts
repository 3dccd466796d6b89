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
    await expect(app.log.locator('li[data-kind="info"] .text').last()).toHaveText('Data generation has ended');
    await app.wholeLog();
    await expect(lines.filter({ hasText: /^Data generation has started$/ })).toHaveCount(1);
    await expect(lines.filter({ hasText: /^Data generation stopped$/ })).toHaveCount(1);
    // Switching back tells the same lines in Chinese.
    await app.page.getByTestId('lang').click();
    await expect(app.log.locator('li[data-kind="info"] .text').last()).toHaveText('数据生成已结束');
    await expect(lines.filter({ hasText: /^数据生成已开始$/ })).toHaveCount(1);
  });
});
