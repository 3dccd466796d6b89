import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openRedisStores } from '../server/store/redis/redisStores.js';
import { createSqliteStores } from '../server/store/sqliteStore.js';
import { CommitRefused, type TableStore } from '../server/store/tableStore.js';
import { nextMutation, type MutationMix } from '../server/table/mutations.js';
import { seededRandom } from '../server/table/random.js';
import { randomRow } from '../server/table/rows.js';
import { sampleCpu, type Watched } from './procCpu.js';

/**
 * The most commits a second a store takes: `committers` loops, each
 * committing the next change as soon as its last one resolved, through the
 * store API the server's sessions use (`table.commit`, no session). On Redis
 * a commit resolves once this process has read it back from the shared log,
 * as a node's generator waits for it.
 */

export interface CommitRate {
  committers: number;
  seconds: number;
  commits: number;
  commitsPerSecond: number;
  /** Refused by the table's state (another committer changed the row first); not counted as commits. */
  refused: number;
  /** Anything else: the store failed. */
  failed: number;
  /** From commit() to its resolution. */
  latencyMs: { p50: number; p99: number };
  /** ms of CPU per second, of this process and of `watched`. */
  cpu: Record<string, number>;
}

const ROWS = 10_000;
/** Commits before the counting starts: connections, scripts loaded, code compiled. */
const WARMUP_MS = 500;
/** The server's default mix (--weights 40,50,10), with room to add for the whole run. */
const MIX: MutationMix = {
  weights: { add: 40, update: 50, delete: 10, batch_update: 0 },
  minRecords: 3,
  maxRecords: 10_000_000,
  batchSize: 5,
};
const limits = { minRecords: MIX.minRecords, maxRecords: MIX.maxRecords };
const initialRows = () => {
  const random = seededRandom(1);
  return Array.from({ length: ROWS }, () => randomRow(random));
};
const logger = pino({ level: 'warn' });

async function drive(table: TableStore, committers: number, seconds: number, watched: Watched[]): Promise<CommitRate> {
  const random = seededRandom(2);
  const latencies: number[] = [];
  let refused = 0;
  let failed = 0;
  let firstFailure: unknown;
  let counting = false;
  let cpu = sampleCpu(watched);
  let began = performance.now();
  const until = began + WARMUP_MS + seconds * 1000;
  const loop = async () => {
    while (performance.now() < until) {
      if (!counting && performance.now() >= began + WARMUP_MS) {
        // The first to pass the warm-up opens the window for all.
        counting = true;
        latencies.length = 0;
        refused = 0;
        failed = 0;
        cpu = sampleCpu(watched);
        began = performance.now();
      }
      const mutation = nextMutation(table, MIX, random);
      if (mutation === undefined) return;
      const t0 = performance.now();
      try {
        await table.commit(mutation, { session_id: null, generation_count: 0, timestamp: new Date().toISOString() });
        latencies.push(performance.now() - t0);
      } catch (err) {
        if (err instanceof CommitRefused) refused++;
        else {
          failed++;
          firstFailure ??= err;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: committers }, loop));
  const elapsed = (performance.now() - began) / 1000;
  const used = cpu.stop();
  if (firstFailure !== undefined) console.error('commit failed:', (firstFailure as Error).message);
  latencies.sort((a, b) => a - b);
  const at = (p: number) => Math.round((latencies[Math.floor((p / 100) * (latencies.length - 1))] ?? NaN) * 100) / 100;
  return {
    committers,
    seconds: Math.round(elapsed * 10) / 10,
    commits: latencies.length,
    commitsPerSecond: Math.round(latencies.length / elapsed),
    refused,
    failed,
    latencyMs: { p50: at(50), p99: at(99) },
    cpu: used,
  };
}

/** Commits on the Redis at `url` under a prefix of its own; `redisPid` is sampled for CPU. */
export async function redisCommitRate(
  url: string,
  redisPid: number,
  prefix: string,
  committers: number,
  seconds: number,
): Promise<CommitRate> {
  const { table } = await openRedisStores({
    url,
    prefix,
    history: 1000,
    limits,
    initialRows,
    logger,
    now: Date.now,
  });
  try {
    return await drive(table, committers, seconds, [{ name: 'redis-server', pids: [redisPid] }]);
  } finally {
    await table.close();
  }
}

/** Commits on a new SQLite file in a temporary directory. */
export async function sqliteCommitRate(committers: number, seconds: number): Promise<CommitRate> {
  const dataDir = mkdtempSync(join(tmpdir(), 'livetable-bench-sqlite-'));
  const { table } = createSqliteStores({ dataDir, history: 1000, initialRows, limits });
  try {
    return await drive(table, committers, seconds, []);
  } finally {
    await table.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
