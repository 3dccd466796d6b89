import { expect, test } from './fixtures.js';

test.describe('a live session', () => {
  test('start: rows appear and change live, with highlights, stats and log', async ({ app, server }) => {
    const { data } = await server.data();
    await app.expectNoSession();
    await expect(app.rows).toHaveCount(data.length);
    await expect(app.stop).toBeDisabled();

    await app.startSession();
    await expect(app.start).toBeDisabled();
    await expect(app.stop).toBeEnabled();

    await app.waitForVersion(8);
    // A changed row lights up while its highlight runs.
    await expect(app.table.locator('tr[data-flash]').first()).toBeAttached();
    await expect(app.log.locator('li[data-kind="success"]').first()).toBeVisible();
    await expect.poll(async () => Number(await app.updates.textContent())).toBeGreaterThanOrEqual(8);

    // The stat cards agree with the rows on screen. They may trail the rows
    // by up to 100 ms when changes come faster than that, so it is polled.
    await expect
      .poll(
        async () => {
          const { rows, records, average } = await app.snapshot();
          const mean = rows.reduce((sum, r) => sum + r.score, 0) / rows.length;
          return records === String(rows.length) && Math.abs(Number(average) - mean) <= 0.05 + 1e-9;
        },
        { message: 'the stat cards agree with the rows' },
      )
      .toBe(true);
  });

  test('stop: the page shows the end and holds the final table', async ({ app, server }) => {
    await app.start.click();
    await app.waitForVersion(5);
    await app.stop.click();
    await app.expectNoSession();
    await expect(app.log.locator('li[data-kind="info"]').last()).toContainText('数据生成已结束');
    await expect(app.start).toBeEnabled();
    await expect(app.stop).toBeDisabled();
    await app.expectSameTableAs(server);
  });
});

test.describe('a session with a short timeout', () => {
  test.use({ serverArgs: ['--update-interval', '150', '--heartbeat-interval', '1000', '--session-timeout', '4000'] });

  test('ends on the page by itself when it times out', async ({ app }) => {
    await app.start.click();
    await app.waitForVersion(3);
    await app.expectNoSession({ timeout: 15_000 });
    await expect(app.start).toBeEnabled();
    await expect(app.log.locator('li[data-kind="info"]').last()).toContainText('超时');
  });
});
