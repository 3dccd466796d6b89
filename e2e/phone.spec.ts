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

/** How many lines each of the session's buttons takes. */
function buttonLines(page: import('@playwright/test').Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const lines: Record<string, number> = {};
    for (const button of document.querySelectorAll<HTMLElement>('.actions button')) {
      const range = document.createRange();
      range.selectNodeContents(button);
      lines[button.textContent?.trim() ?? ''] = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    }
    return lines;
  });
}

for (const width of [320, 375]) {
  for (const locale of ['zh-CN', 'en-US']) {
    test.describe(`${width} px wide, ${locale}`, () => {
      test.use({ viewport: { width, height: 740 }, locale });

      test('button labels never break, and the buttons fit the screen', async ({ app, page }) => {
        await expect(app.start).toBeVisible();
        const lines = await buttonLines(page);
        expect(Object.keys(lines).length).toBeGreaterThanOrEqual(3);
        for (const [label, count] of Object.entries(lines)) expect(count, label).toBe(1);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(0);
      });
    });
  }
}
