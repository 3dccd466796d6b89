import { LiveTablePage, expect, test } from './fixtures.js';

test.use({ serverArgs: ['--update-interval', '300', '--heartbeat-interval', '1000'] });

test('two pages show the same table', async ({ app, server, browser, baseURL }) => {
  const context = await browser.newContext({ baseURL });
  try {
    const other = new LiveTablePage(await context.newPage());
    await other.open();
    await other.startSession();
    // Headless Chromium may stop painting a page that is not in front; a user
    // looks at one window at a time as well.
    await app.page.bringToFront();
    await app.startSession();
    await app.waitForVersion(10);
    await app.stop.click();
    await app.expectNoSession();
    await other.page.bringToFront();
    await other.stop.click();
    await other.expectNoSession();
    await other.expectSameTableAs(server);
    await app.page.bringToFront();
    await app.expectSameTableAs(server);
  } finally {
    await context.close();
  }
});

test('a page with no session shows the changes another page makes, as they come', async ({
  app,
  server,
  browser,
  baseURL,
}) => {
  const context = await browser.newContext({ baseURL });
  try {
    await app.expectNoSession();
    const before = await app.version();
    const other = new LiveTablePage(await context.newPage());
    await other.open();
    await other.startSession();
    await app.page.bringToFront();
    // No reload, no poll: the watch stream brings them.
    await app.waitForVersion(before + 5);
    await expect(app.table.locator('tr[data-flash]').first()).toBeAttached();
    await expect(app.stop).toBeDisabled();
    await other.page.bringToFront();
    await other.stop.click();
    await other.expectNoSession();
    await app.page.bringToFront();
    await app.expectSameTableAs(server);
  } finally {
    await context.close();
  }
});

test('a page with no session can pause the changes it follows, and catch up on resume', async ({
  app,
  server,
  browser,
  baseURL,
}) => {
  const context = await browser.newContext({ baseURL });
  try {
    await app.expectNoSession();
    const pause = app.page.getByTestId('pause');
    await pause.click();
    await expect(pause).toHaveAttribute('aria-pressed', 'true');
    const frozenAt = await app.version();
    const other = new LiveTablePage(await context.newPage());
    await other.open();
    await other.startSession();
    await app.page.bringToFront();
    const held = async () => Number(/(\d+)/.exec((await pause.textContent()) ?? '')?.[1] ?? 0);
    await expect.poll(held).toBeGreaterThanOrEqual(5);
    expect(await app.version()).toBe(frozenAt);
    await pause.click();
    await expect(pause).toHaveAttribute('aria-pressed', 'false');
    await app.waitForVersion(frozenAt + 5);
    await other.page.bringToFront();
    await other.stop.click();
    await other.expectNoSession();
    await app.page.bringToFront();
    await app.expectSameTableAs(server);
  } finally {
    await context.close();
  }
});
