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
});
