import { expect, test } from './fixtures.js';

test.use({ serverArgs: ['--update-interval', '250', '--heartbeat-interval', '1000', '--seed-rows', '12'] });

test('the live page, as pictured in the README', async ({ app, page }) => {
  await app.start.click();
  await app.waitForVersion(12);
  await expect(app.table.locator('tr[data-flash]').first()).toBeAttached();
  await page.screenshot({ path: 'docs/screenshot.png', fullPage: false });
});
