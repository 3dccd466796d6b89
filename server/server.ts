import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { limitConnections } from './http/connectionLimits.js';
import type { Config } from './config.js';
import { createSessionManager } from './sessions/sessionManager.js';
import { createMemoryStore } from './store/memoryStore.js';
import type { TableStore } from './store/tableStore.js';
import { createMemorySessionStore, type SessionStore } from './store/sessionStore.js';
import { createSqliteStores } from './store/sqliteStore.js';
import { seededRandom, type Random } from './table/random.js';
import { randomRow } from './table/rows.js';

/** How long requests still in flight may finish after close() before they are cut. */
const FORCE_CLOSE_MS = 2000;
/** How often a closing server looks for connections that have finished their answer. */
const IDLE_SWEEP_MS = 50;
/** How often Node looks for requests past --headers-timeout or --request-timeout. */
const TIMEOUT_CHECK_MS = 1000;

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
  /** Stores to use instead of the ones --store names (tests). */
  stores?: { table: TableStore; sessions: SessionStore };
}

/**
 * The stores --store asks for, and whether the table was seeded now (a data
 * directory that already holds a table keeps it, whatever --seed-rows says).
 * Throws StorageError when the data directory is unusable.
 */
function openStores(config: Config, random: Random): { table: TableStore; sessions: SessionStore; seeded: boolean } {
  let seeded = false;
  const initialRows = () => {
    seeded = true;
    return Array.from({ length: config.seedRows }, () => randomRow(random));
  };
  if (config.store === 'memory') {
    return {
      table: createMemoryStore({ history: config.history, initialRows: initialRows() }),
      sessions: createMemorySessionStore(),
      seeded,
    };
  }
  const stores = createSqliteStores({ dataDir: config.dataDir, history: config.history, initialRows });
  return { ...stores, seeded };
}

/** Starts Livetable with the given configuration and resolves once it listens. */
export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const random = seededRandom(config.randomSeed);
  // Stores handed in (tests) are not ours to report on.
  const opened: ReturnType<typeof openStores> = options.stores
    ? { ...options.stores, seeded: true }
    : openStores(config, random);
  const { table: store, sessions: sessionStore, seeded } = opened;
  if (!seeded) {
    logger.info(
      { dataDir: config.dataDir, rows: store.size, version: store.version },
      'kept the table in the data directory (--seed-rows only seeds a new one)',
    );
  }
  const sessions = createSessionManager({ store, sessionStore, config, scheduler, random, logger });
  const { app, openStreams, mistakes } = createApp({ config, store, sessions, logger, now: () => scheduler.now() });

  // Node checks its request timeouts on this period; its default (30 s) would
  // let a slow client hold on well past --headers-timeout.
  // A request without Host reaches the app, which answers it in JSON.
  const server = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_MS, requireHostHeader: false });
  server.headersTimeout = config.headersTimeout;
  server.requestTimeout = config.requestTimeout;
  const limits = limitConnections(server, app.handler as RequestListener, {
    maxPerAddress: config.maxConnectionsPerAddress,
    maxInFlight: config.maxPipelined,
    cutOffMs: config.pipelineCutOff,
    maxQueued: config.maxBuffer,
    onRefused: (client, code, note) => mistakes.log(client, code, note),
  });
  server.on('request', limits.listener);
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      sessions.close();
      store.close();
      reject(error);
    };
    server.once('error', failed);
    server.listen(config.port, config.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, store: config.store, version: store.version, rows: store.size }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server,
    store,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), FORCE_CLOSE_MS).unref();
        // close() closes the connections idle now; a keep-alive connection
        // whose answer is still going out becomes idle later, so look again.
        const idle = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS).unref();
        server.close(() => {
          clearTimeout(force);
          clearInterval(idle);
          resolve();
        });
        // Cut streams rather than end them: to a client a cut stream means
        // "reconnect", which is what a restart or a fail-over needs.
        for (const stream of openStreams) stream.destroy();
        sessions.close();
        store.close();
      });
      return closing;
    },
  };
}
