import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base, expect, type Locator, type Page } from '@playwright/test';
import type { DataResponse, Row } from '../shared/protocol.js';
import { startBuiltServer } from '../test-support/serverProcess.js';

/** A Livetable server started for one test, from the built app, on a free port. */
export interface LiveServer {
  url: string;
  process: ChildProcess;
  data(): Promise<DataResponse>;
  /** Kills the server with SIGKILL and starts it again on the same port and data. */
  crashAndRestart(): Promise<void>;
}

/** Fast timings so journeys take seconds; each test can override them. */
const FAST_ARGS = ['--update-interval', '150', '--heartbeat-interval', '1000'];

async function launchServer(args: string[]): Promise<LiveServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'livetable-e2e-'));
  const first = await startBuiltServer(['--port', '0', '--data-dir', dataDir, ...args], { stderr: 'inherit' });
  const port = new URL(first.url).port;
  const server: LiveServer = {
    url: first.url,
    process: first.child,
    async data() {
      return (await (await fetch(`${server.url}/api/data`)).json()) as DataResponse;
    },
    async crashAndRestart() {
      const exited = new Promise((resolve) => server.process.once('exit', resolve));
      server.process.kill('SIGKILL');
      await exited;
      server.process = (
        await startBuiltServer(['--port', port, '--data-dir', dataDir, ...args], { stderr: 'inherit' })
      ).child;
    },
  };
  return server;
}

type GridReader = () => [rowIndex: number, row: Row][];

/**
 * Installed in the page before it loads: `__gridRows()` reads the rows the
 * grid has rendered, as their cells show them, with their aria-rowindex.
 * (Code run in the page cannot call the test's own functions.)
 */
function defineGridReader(): void {
  const reader: GridReader = () =>
    [...document.querySelectorAll('[data-testid="table"] tbody tr[data-row-id]')].map((tr) => {
      const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '');
      const row: Row = {
        id: Number(cells[0]),
        name: cells[1] ?? '',
        age: Number(cells[2]),
        city: cells[3] ?? '',
        score: Number(cells[4]),
        status: cells[5] as Row['status'],
      };
      return [Number(tr.getAttribute('aria-rowindex')), row];
    });
  (window as unknown as { __gridRows: GridReader }).__gridRows = reader;
}

/** The page as a user sees it, with the locators the journeys need. */
export class LiveTablePage {
  readonly start: Locator;
  readonly stop: Locator;
  readonly pause: Locator;
  readonly connection: Locator;
  readonly table: Locator;
  readonly rows: Locator;
  readonly log: Locator;
  readonly records: Locator;
  readonly updates: Locator;
  readonly average: Locator;

  constructor(readonly page: Page) {
    this.start = page.getByTestId('start');
    this.stop = page.getByTestId('stop');
    this.pause = page.getByTestId('pause');
    this.connection = page.getByTestId('connection');
    this.table = page.getByTestId('table');
    this.rows = this.table.locator('tbody tr[data-row-id]');
    this.log = page.getByTestId('log');
    this.records = page.getByTestId('stat-records');
    this.updates = page.getByTestId('stat-updates');
    this.average = page.getByTestId('stat-average');
  }

  async open(): Promise<void> {
    await this.page.addInitScript(defineGridReader);
    await this.page.goto('/');
    await expect(this.table).toBeVisible();
  }

  /** The version of the table the page holds: the seq of the last change applied. */
  async version(): Promise<number> {
    return Number(await this.table.getAttribute('data-version'));
  }

  /** How many changes the paused page holds back, as its Resume button counts them. */
  async held(): Promise<number> {
    return Number(/(\d+)/.exec((await this.pause.textContent()) ?? '')?.[1] ?? 0);
  }

  async waitForVersion(atLeast: number): Promise<void> {
    await expect.poll(() => this.version(), { timeout: 15_000 }).toBeGreaterThanOrEqual(atLeast);
  }

  /** The rows the grid has rendered right now, read at one instant, in grid order. */
  async renderedRows(): Promise<Row[]> {
    return this.page.evaluate(() =>
      (window as unknown as { __gridRows: GridReader }).__gridRows().map(([, row]) => row),
    );
  }

  /** Every row of the grid as its cells read, in order: scrolls the grid through as a user would. */
  async shownRows(): Promise<Row[]> {
    return (await this.snapshot()).rows;
  }

  /**
   * The rows of the grid and the stat cards. The grid shows only the rows in
   * view, so this reads the rows there, scrolls down a screen, and so on to
   * the end, then back to the top. A grid whose rows are all rendered is read
   * at one instant, stats included, so a change cannot land between them
   * (though the stat cards may trail the rows by up to 100 ms while changes
   * come faster than that: COUNTER_REFRESH_MS).
   */
  async snapshot(): Promise<{ rows: Row[]; records: string; updates: string; average: string }> {
    return this.page.evaluate(async () => {
      const text = (testId: string) => document.querySelector(`[data-testid="${testId}"]`)?.textContent?.trim() ?? '';
      const table = document.querySelector('[data-testid="table"]') as HTMLElement;
      const scroller = document.querySelector('[data-testid="grid-scroller"]') as HTMLElement;
      const painted = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const seen = new Map<number, Row>();
      const read = () => {
        for (const [rowIndex, row] of (window as unknown as { __gridRows: GridReader }).__gridRows()) {
          seen.set(rowIndex, row);
        }
      };
      const stats = { records: text('stat-records'), updates: text('stat-updates'), average: text('stat-average') };
      if (scroller.scrollTop !== 0) {
        scroller.scrollTop = 0;
        await painted();
      }
      read();
      const total = Number(table.getAttribute('aria-rowcount')) - 1;
      while (seen.size < total && scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - 1) {
        scroller.scrollTop += scroller.clientHeight;
        await painted();
        read();
      }
      if (scroller.scrollTop !== 0) {
        scroller.scrollTop = 0;
        await painted();
      }
      const rows = [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
      return { rows, ...stats };
    });
  }

  /** How many rows the grid holds, as it tells assistive technology (the header row not counted). */
  async rowCount(): Promise<number> {
    return Number(await this.table.getAttribute('aria-rowcount')) - 1;
  }

  /**
   * Starts a session and waits for its own stream to be live (a page with
   * no session is already live on the watch stream, so Stop comes first).
   */
  async startSession(): Promise<void> {
    await this.start.click();
    await expect(this.stop).toBeEnabled();
    await expect(this.connection).toHaveAttribute('data-state', 'live');
  }

  /**
   * Waits until the page has no session running: it can start one, and it
   * follows the table on the watch stream (its connection is live).
   */
  async expectNoSession(options: { timeout?: number } = {}): Promise<void> {
    await expect(this.start).toBeEnabled(options);
    await expect(this.stop).toBeDisabled();
    await expect(this.connection).toHaveAttribute('data-state', 'live');
  }

  /**
   * The log with every line it keeps. While it follows the newest, it has only
   * its last lines in the page; scrolled to its top, as a reader would, it
   * holds still with all of them, the oldest in view.
   */
  async wholeLog(): Promise<Locator> {
    await this.log.evaluate(async (list) => {
      const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
      // The first scroll up brings the older lines in above: wait until the
      // top stays the top.
      let still = 0;
      for (let frames = 0; still < 2 && frames < 60; frames++) {
        list.scrollTop = 0;
        await frame();
        still = list.scrollTop === 0 ? still + 1 : 0;
      }
      if (still < 2) throw new Error('the log did not stay scrolled to its top');
    });
    return this.log;
  }

  /** Waits until the page shows exactly the server's table. */
  async expectSameTableAs(server: LiveServer): Promise<void> {
    const { data, version } = await server.data();
    await expect.poll(() => this.version()).toBe(version);
    await expect(this.table).toHaveAttribute('aria-rowcount', String(data.length + 1));
    expect(await this.shownRows()).toEqual(data);
  }
}

export const test = base.extend<{ serverArgs: string[]; server: LiveServer; app: LiveTablePage; other: LiveTablePage }>(
  {
    serverArgs: [FAST_ARGS, { option: true }],
    server: async ({ serverArgs }, use) => {
      const server = await launchServer(serverArgs);
      await use(server);
      server.process.kill('SIGCONT');
      server.process.kill('SIGTERM');
    },
    baseURL: async ({ server }, use) => use(server.url),
    app: async ({ page }, use) => {
      const app = new LiveTablePage(page);
      await app.open();
      await use(app);
    },
    /** A second user's page on the same server, in a browser context of its own. */
    other: async ({ browser, baseURL }, use) => {
      const context = await browser.newContext({ baseURL });
      try {
        const other = new LiveTablePage(await context.newPage());
        await other.open();
        await use(other);
      } finally {
        await context.close();
      }
    },
  },
);

export { expect };
