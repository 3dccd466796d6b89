import { expect, test } from './fixtures.js';

test.use({ serverArgs: ['--update-interval', '150', '--heartbeat-interval', '400'] });

test('a stalled connection shows "reconnecting", then resumes without losing a change', async ({ app, server }) => {
  await app.start.click();
  await app.waitForVersion(5);
  // Freeze the server: no message, no error. After 2.5 silent heartbeats the
  // page must notice by itself and try again.
  server.process.kill('SIGSTOP');
  try {
    await expect(app.connection).toHaveAttribute('data-state', 'reconnecting', { timeout: 10_000 });
  } finally {
    server.process.kill('SIGCONT');
  }
  await expect(app.connection).toHaveAttribute('data-state', 'live');
  const resumedAt = await app.version();
  await app.waitForVersion(resumedAt + 5);
  await app.stop.click();
  await app.expectNoSession();
  await app.expectSameTableAs(server);
  const log = await app.wholeLog();
  await expect(log.locator('li[data-kind="error"]', { hasText: /gap|缺失|丢失/i })).toHaveCount(0);
});
