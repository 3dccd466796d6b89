import { expect, test } from './fixtures.js';

test('a server killed mid-session is a short "reconnecting" to the viewer, and nothing is lost', async ({
  app,
  server,
}) => {
  await app.start.click();
  await app.waitForVersion(5);
  for (let crash = 0; crash < 2; crash++) {
    const seen = await app.version();
    await server.crashAndRestart();
    await expect(app.connection).toHaveAttribute('data-state', 'live');
    // The server restarted from its file: what the page saw is still there.
    expect((await server.data()).version).toBeGreaterThanOrEqual(seen);
    await app.waitForVersion(seen + 5);
  }
  await app.stop.click();
  await app.expectNoSession();
  await app.expectSameTableAs(server);
  // Started from the table the page held, resumed by Last-Event-ID each
  // time: no snapshot at all, and no gap.
  const log = await app.wholeLog();
  await expect(log.locator('li[data-kind="error"]')).toHaveCount(0);
  await expect(log.locator('li', { hasText: '已同步' })).toHaveCount(0);
  // Back after each crash. On a loaded machine a restart can outlast the
  // watchdog (2.5 heartbeats), which then reopens the stream once more:
  // another way back, with nothing lost either.
  const resumed = await log.locator('li', { hasText: '连接已恢复' }).count();
  const stalled = await log.locator('li', { hasText: '秒未收到任何消息' }).count();
  expect(resumed).toBe(2 + stalled);
});
