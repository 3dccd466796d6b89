import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { createSessionManager } from './sessions/sessionManager.js';
import { createMemoryStore } from './store/memoryStore.js';
import type { TableStore } from './store/tableStore.js';
import { seededRandom } from './table/random.js';
import { randomRow } from './table/rows.js';

export interface RunningServer {
  /** The base URL the server answers on, with the real port. */
  url: string;
  port: number;
  server: Server;
  store: TableStore;
  /** Stops accepting, closes every stream (clients will reconnect) and resolves when done. */
  close(): Promise<void>;
}

export interface StartOptions {
  scheduler?: SchedulerLike;
  store?: TableStore;
}

/** Starts Livetable with the given configuration and resolves once it listens. */
export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const random = seededRandom(config.randomSeed);
  const store =
    options.store ??
    createMemoryStore({
      history: config.history,
      initialRows: Array.from({ length: config.seedRows }, () => randomRow(random)),
    });
  const sessions = createSessionManager({ store, config, scheduler, random, logger });
  const { app, openStreams } = createApp({ config, store, sessions, logger, now: () => scheduler.now() });

  const server = createServer(app.handler as Parameters<typeof createServer>[1]);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server,
    store,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const res of openStreams) res.end();
        server.closeIdleConnections();
        sessions.close();
        store.close();
      });
      return closing;
    },
  };
}
