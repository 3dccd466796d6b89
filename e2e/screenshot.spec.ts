import { expect, test } from './fixtures.js';

test.use({ serverArgs: ['--update-interval', '250', '--heartbeat-interval', '1000', '--seed-rows', '12'] });

test('the live page, as pictured in the README', async ({ app, page }) => {
  await app.start.click();
  await app.waitForVersion(12);
  await expect(app.table.locator('tr[data-flash]').first()).toBeAttached();
  // Refresh the README's picture with UPDATE_SCREENSHOT=1; otherwise keep the
  // shot with the test's results so a test run leaves the tree clean.
  const path = process.env.UPDATE_SCREENSHOT ? 'docs/screenshot.png' : test.info().outputPath('screenshot.png');
  await page.screenshot({ path });
});
