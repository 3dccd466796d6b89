import type { Browser } from '@playwright/test';
import { openBarePage, openPlaywrightPage, type BenchPage } from './benchPage.js';

/** BENCH_INSTRUMENTED=1: measure a page of Playwright's own (see benchPage.ts). */
export const INSTRUMENTED = process.env.BENCH_INSTRUMENTED === '1';

/**
 * Opens the page at `url` (1280 × 900) and waits until the grid counts all
 * `rows`. The page is one Playwright does not instrument, unless
 * BENCH_INSTRUMENTED=1 (see benchPage.ts). BENCH_CSS='…' adds a style sheet
 * once it has loaded, to measure a style change without a rebuild (the
 * page's CSP is bypassed then). `initScripts` run in the page before the app
 * does. Returns the page and how long it took from navigation to the full
 * table, in ms.
 */
export async function openTablePage(
  browser: Browser,
  url: string,
  rows: number,
  initScripts: (() => void)[] = [],
): Promise<{ page: BenchPage; loadMs: number }> {
  const css = process.env.BENCH_CSS;
  const open = INSTRUMENTED ? openPlaywrightPage : openBarePage;
  const page = await open(browser, { viewport: { width: 1280, height: 900 }, bypassCSP: css !== undefined });
  for (const script of initScripts) await page.addInitScript(`(${script.toString()})()`);
  const start = Date.now();
  await page.goto(url);
  await page.waitFor(
    (count) => document.querySelector('[data-testid="table"]')?.getAttribute('aria-rowcount') === String(count + 1),
    rows,
    60_000,
  );
  const loadMs = Date.now() - start;
  if (css !== undefined)
    await page.evaluate((text) => {
      const style = document.createElement('style');
      style.textContent = text;
      document.head.append(style);
    }, css);
  return { page, loadMs };
}
