import type { DataResponse } from '../shared/protocol.js';
import { LiveTablePage, expect, test } from './fixtures.js';

test('a row holding markup shows as plain text and runs nothing, under a strict CSP', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  const evil = '<img src=x onerror="window.__pwned=1">';
  const body: DataResponse = {
    status: 'success',
    data: [{ id: 1, name: evil, age: 30, city: '<b>北京</b>', score: 88.8, status: '活跃' }],
    version: 0,
    timestamp: new Date().toISOString(),
    heartbeat_interval: 10_000,
  };
  await page.route('**/api/data', (route) => route.fulfill({ json: body }));
  const response = await page.goto('/');
  expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
  expect(response?.headers()['content-security-policy']).not.toContain('unsafe-inline');

  const row = page.getByTestId('table').locator('tr[data-row-id="1"]');
  await expect(row).toContainText(evil);
  await expect(row).toContainText('<b>北京</b>');
  await expect(row.locator('img, b')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

  // The live page (stream, highlights, fades) works under the same policy.
  await page.unroute('**/api/data');
  await new LiveTablePage(page).startSession();
  await expect(page.locator('tr[data-flash]').first()).toBeAttached();
  expect(violations).toEqual([]);
});
