import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { createMetrics } from './http/metrics.js';
import type { Meter } from './sessions/meter.js';
import { limitConnections } from './http/connectionLimits.js';
import type { Config } from './config.js';
import { createSessionManager } from './sessions/sessionManager.js';
import { createMemoryStore } from './store/memoryStore.js';
import type { TableStore } from './store/tableStore.js';
import { createMemorySessionStore, type SessionStore } from './store/sessionStore.js';
import { openRedisStores, redactedUrl } from './store/redis/redisStores.js';
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
 * directory or a Redis that already holds a table keeps it, whatever
 * --seed-rows says). Rejects with StorageError when the data directory is
 * unusable or taken, or Redis is out of reach.
 */
async function openStores(
  config: Config,
  random: Random,
  logger: Logger,
  now: () => number,
): Promise<{ table: TableStore; sessions: SessionStore; seeded: boolean }> {
  let seeded = false;
  const initialRows = () => {
    seeded = true;
    return Array.from({ length: config.seedRows }, () => randomRow(random));
  };
  const limits = { minRecords: config.minRecords, maxRecords: config.maxRecords };
  if (config.store === 'memory') {
    return {
      table: createMemoryStore({ history: config.history, initialRows: initialRows(), limits }),
      sessions: createMemorySessionStore(),
      seeded,
    };
  }
  if (config.store === 'redis') {
    const stores = await openRedisStores({
      url: config.redisUrl as string,
      prefix: config.redisPrefix,
      history: config.history,
      limits,
      initialRows,
      logger,
      now,
    });
    return { ...stores, seeded };
  }
  const stores = createSqliteStores({ dataDir: config.dataDir, history: config.history, initialRows, limits });
  return { ...stores, seeded };
}

/** Starts Livetable with the given configuration and resolves once it listens. */
export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const random = seededRandom(config.randomSeed);
  // Stores handed in (tests) are not ours to report on.
  const opened = options.stores
    ? { ...options.stores, seeded: true }
    : await openStores(config, random, logger, () => scheduler.now());
  const { table: store, sessions: sessionStore, seeded } = opened;
  // Read at each scrape; the cluster's session count is kept fresh here, not fetched by it.
  let sessionsAll = 0;
  const metrics = createMetrics({
    openStreams: () => sessions.streams.open,
    sessionsHere: () => sessions.activeSessions,
    sessionsAll: () => sessionsAll,
    version: () => store.version,
    behind: () => store.behind,
    storeConnected: () => store.connected,
    store: config.store,
  });
  const meter: Meter = {
    committed(seconds) {
      metrics.changesCommitted.inc();
      metrics.commitDuration.observe(seconds);
    },
    delivered(changes, streams, bytes) {
      metrics.changesDelivered.inc(changes * streams);
      metrics.bytesSent.inc(bytes);
    },
    lag: (seconds) => metrics.deliveryLag.observe(seconds),
  };
  const sessions = createSessionManager({ store, sessionStore, config, scheduler, random, logger, meter });
  const counting = setInterval(() => {
    sessions.allSessions().then(
      (count) => (sessionsAll = count),
      () => {},
    );
  }, config.heartbeatInterval).unref();
  try {
    await sessions.ready;
  } catch (err) {
    // The store went away between opening and now: the sessions are looked up as streams ask for them.
    logger.warn({ err: (err as Error).message }, 'running sessions not restored yet');
  }
  const { app, mistakes } = createApp({
    config,
    store,
    sessions,
    logger,
    now: () => scheduler.now(),
    metrics,
  });

  // Node checks its request timeouts on this period; its default (30 s) would
  // let a slow client hold on well past --headers-timeout.
  // A request without Host reaches the app, which answers it in JSON.
  const server = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_MS, requireHostHeader: false });
  server.headersTimeout = config.headersTimeout;
  server.requestTimeout = config.requestTimeout;
  const limits = limitConnections(server, app.handler as RequestListener, {
    // Behind proxies every connection comes from a proxy: counting or cutting
    // off by socket address would shut out every client at once.
    maxPerAddress: config.trustProxy > 0 ? Number.MAX_SAFE_INTEGER : config.maxConnectionsPerAddress,
    maxInFlight: config.maxPipelined,
    cutOffMs: config.trustProxy > 0 ? 0 : config.pipelineCutOff,
    maxQueued: config.maxBuffer,
    onRefused: (client, code, note) => mistakes.log(client, code, note),
  });
  server.on('request', limits.listener);
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      clearInterval(counting);
      void sessions.close().then(() => store.close());
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
  // Said once the server is up: a start that fails says only why.
  if (!seeded) {
    logger.info(
      {
        store: config.store,
        ...(config.store === 'sqlite' ? { dataDir: config.dataDir } : {}),
        rows: store.size,
        version: store.version,
      },
      'kept the table the store holds (--seed-rows only seeds a new one)',
    );
  }
  // Where the table lives, as a person would look for it (a Redis URL with its password redacted).
  const where =
    config.store === 'sqlite'
      ? config.dataDir
      : config.store === 'redis' && config.redisUrl !== undefined
        ? redactedUrl(config.redisUrl)
        : undefined;
  logger.info({ url, store: config.store, where, version: store.version, rows: store.size }, 'listening');

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
        const stopped = new Promise<void>((done) => server.close(() => done()));
        clearInterval(counting);
        // Cuts the streams rather than end them: to a client a cut stream
        // means "reconnect", which is what a restart or a fail-over needs.
        const released = sessions.close();
        void Promise.all([stopped, released.then(() => store.close())]).then(() => {
          clearTimeout(force);
          clearInterval(idle);
          resolve();
        });
      });
      return closing;
    },
  };
}
