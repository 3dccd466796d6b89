import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { trackConnections } from './http/connectionTracker.js';
import type { Config } from './config.js';
import { createSessionManager } from './sessions/sessionManager.js';
import { createMemoryStore } from './store/memoryStore.js';
import type { TableStore } from './store/tableStore.js';
import { seededRandom } from './table/random.js';
import { randomRow } from './table/rows.js';

/** How long requests still in flight may finish after close() before they are cut. */
const FORCE_CLOSE_MS = 2000;

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
  const connections = trackConnections(server);
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
        // Cut streams rather than end them: to a client a cut stream means
        // "reconnect", which is what a restart or a fail-over needs.
        for (const res of openStreams) res.destroy();
        connections.drain();
        setTimeout(() => server.closeAllConnections(), FORCE_CLOSE_MS).unref();
        sessions.close();
        store.close();
      });
      return closing;
    },
  };
}
