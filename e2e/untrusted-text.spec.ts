import type { DataResponse } from '../server/protocol.js';
import { expect, test } from './fixtures.js';

test('a row holding markup shows as plain text and runs nothing', async ({ page }) => {
  const evil = '<img src=x onerror="window.__pwned=1">';
  const body: DataResponse = {
    status: 'success',
    data: [{ id: 1, name: evil, age: 30, city: '<b>北京</b>', score: 88.8, status: '活跃' }],
    version: 0,
    timestamp: new Date().toISOString(),
  };
  await page.route('**/api/data', (route) => route.fulfill({ json: body }));
  await page.goto('/');
  const row = page.getByTestId('table').locator('tr[data-row-id="1"]');
  await expect(row).toContainText(evil);
  await expect(row).toContainText('<b>北京</b>');
  await expect(row.locator('img, b')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});
