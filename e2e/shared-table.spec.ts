import { LiveTablePage, expect, test, type LiveServer } from './fixtures.js';

test.use({ serverArgs: ['--update-interval', '300', '--heartbeat-interval', '1000'] });

/** Stops the other page's session, then checks that `app` shows the server's final table. */
async function stopOtherAndCompare(app: LiveTablePage, other: LiveTablePage, server: LiveServer): Promise<void> {
  await other.page.bringToFront();
  await other.stop.click();
  await other.expectNoSession();
  await app.page.bringToFront();
  await app.expectSameTableAs(server);
}

test('two pages show the same table', async ({ app, other, server }) => {
  await other.startSession();
  // Headless Chromium may stop painting a page that is not in front; a user
  // looks at one window at a time as well.
  await app.page.bringToFront();
  await app.startSession();
  await app.waitForVersion(10);
  await app.stop.click();
  await app.expectNoSession();
  await stopOtherAndCompare(app, other, server);
  await other.page.bringToFront();
  await other.expectSameTableAs(server);
});

test('a page with no session shows the changes another page makes, as they come', async ({ app, other, server }) => {
  await app.page.bringToFront();
  await app.expectNoSession();
  const before = await app.version();
  await other.startSession();
  await app.page.bringToFront();
  // No reload, no poll: the watch stream brings them.
  await app.waitForVersion(before + 5);
  await expect(app.table.locator('tr[data-flash]').first()).toBeAttached();
  await expect(app.stop).toBeDisabled();
  await stopOtherAndCompare(app, other, server);
});

test('a page with no session can pause the changes it follows, and catch up on resume', async ({
  app,
  other,
  server,
}) => {
  await app.page.bringToFront();
  await app.expectNoSession();
  await app.pause.click();
  await expect(app.pause).toHaveAttribute('aria-pressed', 'true');
  const frozenAt = await app.version();
  await other.startSession();
  await app.page.bringToFront();
  await expect.poll(() => app.held()).toBeGreaterThanOrEqual(5);
  expect(await app.version()).toBe(frozenAt);
  await app.pause.click();
  await expect(app.pause).toHaveAttribute('aria-pressed', 'false');
  await app.waitForVersion(frozenAt + 5);
  await stopOtherAndCompare(app, other, server);
});
