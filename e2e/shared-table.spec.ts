import { LiveTablePage, expect, test } from './fixtures.js';

test.use({ serverArgs: ['--update-interval', '300', '--heartbeat-interval', '1000'] });

test('two pages show the same table', async ({ app, server, browser, baseURL }) => {
  const context = await browser.newContext({ baseURL });
  try {
    const other = new LiveTablePage(await context.newPage());
    await other.open();
    await other.start.click();
    await expect(other.connection).toHaveAttribute('data-state', 'live');
    // Headless Chromium may stop painting a page that is not in front; a user
    // looks at one window at a time as well.
    await app.page.bringToFront();
    await app.start.click();
    await expect(app.connection).toHaveAttribute('data-state', 'live');
    await app.waitForVersion(10);
    await app.stop.click();
    await expect(app.connection).toHaveAttribute('data-state', 'disconnected');
    await other.page.bringToFront();
    await other.stop.click();
    await expect(other.connection).toHaveAttribute('data-state', 'disconnected');
    await other.expectSameTableAs(server);
    await app.page.bringToFront();
    await app.expectSameTableAs(server);
  } finally {
    await context.close();
  }
});
