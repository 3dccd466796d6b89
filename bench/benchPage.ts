import type { Browser, CDPSession } from '@playwright/test';

/** What the browser benchmarks do with a page. */
export interface BenchPage {
  /** Runs `fn(arg)` in the page and resolves to what it returns (or resolves to), as JSON. */
  evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T>;
  /** Resolves once `fn(arg)` is truthy in the page, polled every 50 ms; rejects after `timeoutMs`. */
  waitFor<A = undefined>(fn: (arg: A) => unknown, arg?: A, timeoutMs?: number): Promise<void>;
  /** Sends a DevTools protocol command to the page. */
  send<T = unknown>(method: string, params?: object): Promise<T>;
  /** Runs `source` in every document the page loads from now on, before its own scripts. */
  addInitScript(source: string): Promise<void>;
  /** Navigates; resolves once the navigation has started. */
  goto(url: string): Promise<void>;
  close(): Promise<void>;
}

export interface PageOptions {
  viewport: { width: number; height: number };
  /** Lets the benchmark add a style sheet despite the page's Content-Security-Policy. */
  bypassCSP?: boolean;
}

// tsx compiles with esbuild's keepNames, which wraps functions passed to the
// page in a `__name` helper the page does not have.
const NAME_HELPER = 'globalThis.__name = (fn) => fn;';

interface Answer {
  id?: number;
  result?: unknown;
  error?: { message: string };
}

/**
 * Opens a page that Playwright does not instrument. A page of Playwright's
 * own has the DevTools Network domain enabled, so Chromium reports every
 * chunk and every SSE message the page receives to the driver: at 1,000
 * changes a second that cost the browser 120–140 ms of CPU a second and
 * the driver 50 more, on the two cores the page has (docs/performance.md).
 * This page lives in a browser context made over the browser's own
 * DevTools session, which Playwright leaves alone; its commands go through
 * that session (`Target.sendMessageToTarget`), and only their answers come back.
 */
export async function openBarePage(browser: Browser, options: PageOptions): Promise<BenchPage> {
  const cdp: CDPSession = await browser.newBrowserCDPSession();
  const { browserContextId } = await cdp.send('Target.createBrowserContext');
  const { width, height } = options.viewport;
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId });
  // The window itself, not only the page's viewport: a headless window is
  // 800 × 600, and the browser would composite that smaller surface.
  const { windowId } = await cdp.send('Browser.getWindowForTarget', { targetId });
  await cdp.send('Browser.setWindowBounds', { windowId, bounds: { width, height } });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: false });

  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  cdp.on('Target.receivedMessageFromTarget', (event) => {
    if (event.sessionId !== sessionId) return;
    const answer = JSON.parse(event.message) as Answer;
    if (answer.id === undefined) return; // an event: none is wanted
    const waiter = pending.get(answer.id);
    pending.delete(answer.id);
    if (answer.error) waiter?.reject(new Error(answer.error.message));
    else waiter?.resolve(answer.result);
  });
  cdp.on('Target.detachedFromTarget', (event) => {
    if (event.sessionId !== sessionId) return;
    for (const waiter of pending.values()) waiter.reject(new Error('the page closed'));
    pending.clear();
  });

  const send = <T>(method: string, params: object = {}): Promise<T> => {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      cdp
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
        .catch((error: Error) => {
          pending.delete(id);
          reject(error);
        });
    });
  };

  /** The value of a JavaScript expression in the page (awaited, as JSON). */
  const run = async <T>(expression: string): Promise<T> => {
    const { result, exceptionDetails } = await send<{
      result: { value?: T };
      exceptionDetails?: { exception?: { description?: string }; text: string };
    }>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
    return result.value as T;
  };
  const call = (fn: (arg: never) => unknown, arg: unknown) =>
    `(${fn.toString()})(${arg === undefined ? '' : JSON.stringify(arg)})`;

  // Scripts for new documents take effect once the Page domain is on; its
  // few events (navigations, lifecycle) are dropped above.
  await send('Page.enable');
  // What Playwright's own pages do for a viewport.
  await send('Emulation.setDeviceMetricsOverride', {
    width,
    height,
    screenWidth: width,
    screenHeight: height,
    deviceScaleFactor: 1,
    mobile: false,
  });
  if (options.bypassCSP) await send('Page.setBypassCSP', { enabled: true });
  const addInitScript = async (source: string) => {
    await send('Page.addScriptToEvaluateOnNewDocument', { source });
  };
  await addInitScript(NAME_HELPER);

  return {
    evaluate: <T, A>(fn: (arg: A) => T | Promise<T>, arg?: A) => run<T>(call(fn, arg)),
    send,
    addInitScript,
    async goto(url: string): Promise<void> {
      await send('Page.navigate', { url });
    },
    async waitFor<A>(fn: (arg: A) => unknown, arg?: A, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await run<boolean>(`Boolean(${call(fn, arg)})`))) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${fn.toString()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async close(): Promise<void> {
      await cdp.send('Target.closeTarget', { targetId }).catch(() => undefined);
      await cdp.send('Target.disposeBrowserContext', { browserContextId }).catch(() => undefined);
      await cdp.detach().catch(() => undefined);
    },
  };
}

/**
 * Opens a page of Playwright's own, instrumented as Playwright instruments
 * every page: to compare with `openBarePage`.
 */
export async function openPlaywrightPage(browser: Browser, options: PageOptions): Promise<BenchPage> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  await page.addInitScript(NAME_HELPER);
  const cdp = await context.newCDPSession(page);
  return {
    evaluate: <T, A>(fn: (arg: A) => T | Promise<T>, arg?: A) => page.evaluate<T, A>(fn as never, arg as A),
    async waitFor<A>(fn: (arg: A) => unknown, arg?: A, timeoutMs = 30_000): Promise<void> {
      await page.waitForFunction(fn as never, arg as A, { timeout: timeoutMs });
    },
    send: <T>(method: string, params: object = {}) =>
      cdp.send(method as 'Runtime.evaluate', params as never) as Promise<T>,
    async addInitScript(source: string): Promise<void> {
      await page.addInitScript(source);
    },
    async goto(url: string): Promise<void> {
      await page.goto(url, { waitUntil: 'commit' });
    },
    close: () => context.close(),
  };
}
