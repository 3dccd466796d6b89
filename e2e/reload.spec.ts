import { expect, test } from './fixtures.js';

test('a reload in the middle of a session picks up where it was', async ({ app, server, page }) => {
  await app.start.click();
  await app.waitForVersion(5);
  const before = await app.version();
  await page.reload();
  await expect(app.connection).toHaveAttribute('data-state', 'live');
  await expect(app.stop).toBeEnabled();
  await app.waitForVersion(before + 3);
  await app.stop.click();
  await app.expectNoSession();
  await app.expectSameTableAs(server);
});
