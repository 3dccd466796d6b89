import type { Browser, CDPSession } from '@playwright/test';

/** What the browser benchmarks do with a page. */
export interface BenchPage {
  /** Runs `fn(arg)` in the page and resolves to what it returns (or resolves to), as JSON. */
  evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T>;
  /** Resolves once `fn(arg)` is (or resolves to) truthy in the page, polled every 50 ms; rejects after `timeoutMs`. */
  waitFor<A = undefined>(fn: (arg: A) => unknown, arg?: A, timeoutMs?: number): Promise<void>;
  /** Sends a DevTools protocol command to the page. */
  send<T = unknown>(method: string, params?: object): Promise<T>;
  /** Runs `source` in every document the page loads from now on, before its own scripts. */
  addInitScript(source: string): Promise<void>;
  /** Navigates; resolves once the navigation has started, rejects if it could not. */
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

interface Message {
  id?: number;
  method?: string;
  result?: unknown;
  error?: { message: string };
}

/** How long a command may go unanswered before the benchmark gives up on the page. */
const ANSWER_TIMEOUT_MS = 120_000;

/**
 * Opens a page that Playwright does not instrument. A page of Playwright's
 * own has the DevTools Network domain enabled, so Chromium reports every
 * chunk and every SSE message the page receives to the driver, work no
 * reader's browser does (docs/performance.md). This page lives in a browser
 * context made over the browser's own DevTools session, which Playwright
 * leaves alone; its commands go through that session
 * (`Target.sendMessageToTarget`), and no domain that reports traffic is on.
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
  // Once the page or the browser is gone, every command fails at once
  // instead of waiting for an answer that will not come.
  let gone: Error | null = null;
  const fail = (error: Error) => {
    gone ??= error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  browser.on('disconnected', () => fail(new Error('the browser closed')));
  cdp.on('Target.detachedFromTarget', (event) => {
    if (event.sessionId === sessionId) fail(new Error('the page closed'));
  });
  cdp.on('Target.receivedMessageFromTarget', (event) => {
    if (event.sessionId !== sessionId) return;
    const message = JSON.parse(event.message) as Message;
    if (message.method === 'Inspector.targetCrashed') fail(new Error('the page crashed'));
    if (message.id === undefined) return; // any other event: none is wanted
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });

  const send = <T>(method: string, params: object = {}): Promise<T> => {
    if (gone !== null) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method} had no answer in ${ANSWER_TIMEOUT_MS / 1000} s`));
      }, ANSWER_TIMEOUT_MS);
      pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      cdp
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
        .catch((error: Error) => {
          pending.get(id)?.reject(error);
          pending.delete(id);
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
  // few events (navigations, lifecycle) are dropped above. Inspector says
  // when the page crashes.
  await send('Page.enable');
  await send('Inspector.enable');
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
      const { errorText } = await send<{ errorText?: string }>('Page.navigate', { url });
      if (errorText) throw new Error(`could not open ${url}: ${errorText}`);
    },
    async waitFor<A>(fn: (arg: A) => unknown, arg?: A, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await run<boolean>(`(async () => Boolean(await ${call(fn, arg)}))()`))) {
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
      await page.waitForFunction(fn as never, arg as A, { timeout: timeoutMs, polling: 50 });
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
