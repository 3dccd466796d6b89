import { expect, test } from './fixtures.js';

test.use({ viewport: { width: 375, height: 740 } });

test('on a phone the live table fits the screen, with the columns that change in view', async ({ app, page }) => {
  await app.start.click();
  await app.waitForVersion(3);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const row = app.rows.first();
  for (const cell of [row.locator('td').nth(1), row.locator('td').nth(4), row.locator('td').nth(5)]) {
    await expect(cell).toBeInViewport();
  }
  await expect(app.stop).toBeInViewport();
});
