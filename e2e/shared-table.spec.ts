import { LiveTablePage, expect, test } from './fixtures.js';

test('two pages show the same table', async ({ app, server, browser, baseURL }) => {
  const context = await browser.newContext({ baseURL });
  try {
    const other = new LiveTablePage(await context.newPage());
    await other.open();
    await app.start.click();
    await other.start.click();
    await expect(app.connection).toHaveAttribute('data-state', 'live');
    await expect(other.connection).toHaveAttribute('data-state', 'live');
    await app.waitForVersion(10);
    await app.stop.click();
    await other.stop.click();
    await expect(other.connection).toHaveAttribute('data-state', 'disconnected');
    await app.expectSameTableAs(server);
    await other.expectSameTableAs(server);
  } finally {
    await context.close();
  }
});
