import type { Browser } from '@playwright/test';
import { LiveTablePage, expect, test, type LiveServer } from './fixtures.js';

test.use({ serverArgs: ['--update-interval', '300', '--heartbeat-interval', '1000'] });

/**
 * Runs `journey` with a second page on the same server, in a browser
 * context of its own (another user), and closes it afterwards.
 */
async function withOtherPage(
  browser: Browser,
  baseURL: string | undefined,
  journey: (other: LiveTablePage) => Promise<void>,
): Promise<void> {
  const context = await browser.newContext({ baseURL });
  try {
    const other = new LiveTablePage(await context.newPage());
    await other.open();
    await journey(other);
  } finally {
    await context.close();
  }
}

/** Stops the other page's session, then checks that `app` shows the server's final table. */
async function stopOtherAndCompare(app: LiveTablePage, other: LiveTablePage, server: LiveServer): Promise<void> {
  await other.page.bringToFront();
  await other.stop.click();
  await other.expectNoSession();
  await app.page.bringToFront();
  await app.expectSameTableAs(server);
}

test('two pages show the same table', async ({ app, server, browser, baseURL }) => {
  await withOtherPage(browser, baseURL, async (other) => {
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
});

test('a page with no session shows the changes another page makes, as they come', async ({
  app,
  server,
  browser,
  baseURL,
}) => {
  await app.expectNoSession();
  const before = await app.version();
  await withOtherPage(browser, baseURL, async (other) => {
    await other.startSession();
    await app.page.bringToFront();
    // No reload, no poll: the watch stream brings them.
    await app.waitForVersion(before + 5);
    await expect(app.table.locator('tr[data-flash]').first()).toBeAttached();
    await expect(app.stop).toBeDisabled();
    await stopOtherAndCompare(app, other, server);
  });
});

test('a page with no session can pause the changes it follows, and catch up on resume', async ({
  app,
  server,
  browser,
  baseURL,
}) => {
  await app.expectNoSession();
  await app.pause.click();
  await expect(app.pause).toHaveAttribute('aria-pressed', 'true');
  const frozenAt = await app.version();
  await withOtherPage(browser, baseURL, async (other) => {
    await other.startSession();
    await app.page.bringToFront();
    await expect.poll(() => app.held()).toBeGreaterThanOrEqual(5);
    expect(await app.version()).toBe(frozenAt);
    await app.pause.click();
    await expect(app.pause).toHaveAttribute('aria-pressed', 'false');
    await app.waitForVersion(frozenAt + 5);
    await stopOtherAndCompare(app, other, server);
  });
});
