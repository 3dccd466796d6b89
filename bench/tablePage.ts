import type { Browser, Page } from '@playwright/test';

/**
 * Opens the page at `url` in `browser` (1280 × 900) and waits until the grid
 * counts all `rows`. BENCH_CSS='…' adds a style sheet once it has loaded, to
 * measure a style change without a rebuild (the page's CSP is bypassed then).
 * `initScripts` run in the page before the app does. Returns the page and
 * how long it took from navigation to the full table, in ms.
 */
export async function openTablePage(
  browser: Browser,
  url: string,
  rows: number,
  initScripts: (() => void)[] = [],
): Promise<{ page: Page; loadMs: number }> {
  const css = process.env.BENCH_CSS;
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: css !== undefined });
  // tsx compiles with esbuild's keepNames, which wraps functions passed to
  // the page in a `__name` helper the page does not have.
  await page.addInitScript('globalThis.__name = (fn) => fn;');
  for (const script of initScripts) await page.addInitScript(script);
  const start = Date.now();
  await page.goto(url);
  await page.waitForFunction(
    (count) => document.querySelector('[data-testid="table"]')?.getAttribute('aria-rowcount') === String(count + 1),
    rows,
    { timeout: 60_000 },
  );
  const loadMs = Date.now() - start;
  if (css !== undefined) await page.addStyleTag({ content: css });
  return { page, loadMs };
}
