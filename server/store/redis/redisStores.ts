import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { NewRow } from '../../table/rows.js';
import type { SessionStore } from '../sessionStore.js';
import { StorageError } from '../storageError.js';
import type { TableLimits } from '../tableStore.js';
import { redisKeys } from './keys.js';
import { createRedisSessions } from './redisSessions.js';
import { openRedisTable, type RedisTable } from './redisTable.js';

/** How long a starting node waits for Redis before it gives up. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface RedisStoreOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…` */
  url: string;
  /** Prefix of every key, so several tables can share one Redis. */
  prefix: string;
  history: number;
  limits: TableLimits;
  initialRows: () => readonly NewRow[];
  logger: Logger;
  now: () => number;
  /** The version a new table starts at (see RedisTableOptions). */
  seqFloor?: () => number;
}

/** The URL as it may be logged: any password replaced. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = 'redacted';
    // ioredis also takes the password as ?password=.
    for (const name of [...parsed.searchParams.keys()]) {
      if (name.toLowerCase() === 'password') parsed.searchParams.set(name, 'redacted');
    }
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * Connects to Redis and opens the shared table and sessions on it. Two
 * connections: one for commands, which fail at once while Redis is away
 * (a node answers 503 rather than queueing), and one that blocks reading
 * the change log. Both reconnect by themselves.
 */
export async function openRedisStores(
  options: RedisStoreOptions,
): Promise<{ table: RedisTable; sessions: SessionStore; nodeId: string }> {
  const { url, prefix, history, limits, initialRows, logger, now, seqFloor } = options;
  const nodeId = randomBytes(8).toString('hex');
  const where = redactedUrl(url);
  const connection = (name: string, commands: RedisOptions) => {
    const redis = new Redis(url, {
      lazyConnect: true,
      connectionName: `livetable-${name}-${nodeId}`,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      ...commands,
    });
    let up = false;
    redis.on('ready', () => {
      if (!up) logger.info({ redis: where, connection: name }, 'Redis connected');
      up = true;
    });
    redis.on('error', (err: Error) => {
      if (up) logger.warn({ redis: where, connection: name, err: err.message }, 'Redis connection lost; reconnecting');
      up = false;
    });
    return redis;
  };
  const redis = connection('commands', { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const follower = connection('log', { maxRetriesPerRequest: null });
  // ioredis rejects connect() with "Connection is closed"; the socket's own error says why.
  let why: string | undefined;
  const noteWhy = (err: Error) => (why ??= err.message);
  redis.once('error', noteWhy);
  try {
    await Promise.race([
      Promise.all([redis.connect(), follower.connect()]),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), CONNECT_TIMEOUT_MS).unref()),
    ]);
  } catch (err) {
    redis.disconnect();
    follower.disconnect();
    throw new StorageError(`cannot reach Redis at ${where}: ${why ?? (err as Error).message}`);
  }
  redis.off('error', noteWhy);
  // A database number the server does not have is refused by SELECT, which
  // ioredis only reports as an event, and the connection stays on database 0.
  const wanted = Number(new URL(url).pathname.slice(1) || '0');
  const info = String(await redis.call('CLIENT', 'INFO'));
  const db = Number(/(?:^| )db=(\d+)/.exec(info)?.[1] ?? '0');
  if (db !== wanted) {
    redis.disconnect();
    follower.disconnect();
    throw new StorageError(`cannot use database ${wanted} of Redis at ${where}: the server has no such database`);
  }
  const keys = redisKeys(prefix);
  const table = await openRedisTable({
    redis,
    follower,
    keys,
    history,
    limits,
    nodeId,
    initialRows,
    logger,
    seqFloor,
  });
  const sessions = createRedisSessions({ redis, keys, prefix, history, nodeId, ends$: table.sessionEnds$, now });
  const close = table.close.bind(table);
  table.close = async () => {
    await close();
    redis.disconnect();
  };
  return { table, sessions, nodeId };
}
