import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.js';

/** How far each header cell's edges are from the cells below it (px), column by column. */
function headerOffsets(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const heads = [...document.querySelectorAll('[data-testid="table"] thead th')];
    const cells = [...document.querySelectorAll('[data-testid="table"] tbody tr[data-row-id]:first-child td')];
    return heads.map((th, i) => {
      const head = th.getBoundingClientRect();
      const cell = cells[i]!.getBoundingClientRect();
      return Math.abs(head.left - cell.left) + Math.abs(head.right - cell.right);
    });
  });
}

for (const [device, viewport] of [
  ['a desktop', { width: 1280, height: 900 }],
  ['a phone', { width: 375, height: 740 }],
] as const) {
  test.describe(`on ${device}`, () => {
    test.use({ viewport });

    test('column headers line up with their cells', async ({ app }) => {
      await expect(app.rows.first()).toBeVisible();
      const offsets = await headerOffsets(app.page);
      expect(offsets.length).toBe(7);
      for (const offset of offsets) expect(offset).toBeLessThan(1);
    });
  });
}
