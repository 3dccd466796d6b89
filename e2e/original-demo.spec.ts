import { fileURLToPath } from 'node:url';
import type { Row } from '../shared/protocol.js';
import { startLoadBalancer } from '../test-support/loadBalancer.js';
import { expect, test } from './fixtures.js';

/**
 * The original RAT Engine demo's client (e2e/original-demo/index.html: its
 * class SSETableDemo as the design guide gives it, plus ?full=1 on the
 * stream URL), served at / by a same-origin proxy (haproxy) that passes
 * /api to Livetable. docs/protocol.md says what such a client notices.
 */
const ORIGINAL_PAGE = fileURLToPath(new URL('original-demo/index.html', import.meta.url));

test('the original demo page works against Livetable with ?full=1', async ({ page, server }) => {
  const proxy = await startLoadBalancer([Number(new URL(server.url).port)], { '/': ORIGINAL_PAGE });
  try {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${proxy.url}/`);
    const { data } = await server.data();
    const rows = page.locator('#tableBody tr');
    await expect(rows).toHaveCount(data.length);

    await page.locator('#startBtn').click();
    await expect(page.locator('#log')).toContainText('数据生成已开始');
    // Changes come, each with the whole table: the page redraws it from table_data.
    await expect(page.locator('#log .log-success').nth(3)).toBeVisible();
    await expect.poll(async () => Number(await page.locator('#updateCount').textContent())).toBeGreaterThan(2);
    await expect(page.locator('#log')).toContainText(/添加了新用户: |更新了用户 |删除了用户: /);

    await page.locator('#stopBtn').click();
    await expect(page.locator('#log .log-info')).toHaveText('数据生成已结束');
    await expect(page.locator('#startBtn')).toBeEnabled();
    // What it shows is the table as it is, and it never saw a stream error.
    const shown = await rows.evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const table = (await server.data()).data;
    expect(shown).toEqual(
      table.map((row: Row) => [row.id, row.name, row.age, row.city, row.score, row.status].map(String)),
    );
    await expect(page.locator('#log .log-error')).toHaveCount(0);
    expect(errors).toEqual([]);
  } finally {
    await proxy.stop();
  }
});
