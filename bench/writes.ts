/**
 * `npm run bench:writes`: writes through the API (`PATCH /api/rows/:id`,
 * no If-Match) from concurrent writers for a few seconds against one node on
 * SQLite and one node on Redis (appendfsync always), alternated, three
 * rounds. Prints accepted writes/s and, for each write, the time from its
 * answer reaching the writer to its `update` reaching a client on the watch
 * stream (one machine, one clock; negative when the stream had it first). Needs `npm run build` first (the script
 * does it) and redis-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { startRedis } from '../test-support/redisServer.js';
import { spawnServer, type ServerProcess } from '../test-support/serverProcess.js';

const WRITERS = 20;
const SECONDS = 5;
const ROUNDS = 3;
const ROWS = 1000;

type Setup = 'sqlite' | 'redis';

interface Round {
  setup: Setup;
  writesPerSecond: number;
  refused: number;
  answerToEventMs: { p50: number; p99: number };
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const median = (values: number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

async function measure(server: ServerProcess, setup: Setup): Promise<Round> {
  // The watch stream: when each seq arrives.
  const arrived = new Map<number, number>();
  const abort = new AbortController();
  const stream = await fetch(`${server.url}/api/stream`, { signal: abort.signal });
  const parser = createParser({
    onEvent(message) {
      if (message.id !== undefined) arrived.set(Number(message.id), performance.now());
    },
  });
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
      }
    } catch {
      // aborted at the end
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 500));

  const answered = new Map<number, number>();
  let refused = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      for (let i = 0; performance.now() < until; i++) {
        const id = 1 + ((writer * 97 + i * 13) % ROWS);
        const res = await fetch(`${server.url}/api/rows/${id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ score: Math.round(Math.random() * 1000) / 10 }),
        });
        const body = (await res.json()) as { seq?: number };
        if (res.status === 200 && body.seq !== undefined) answered.set(body.seq, performance.now());
        else refused++;
      }
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  abort.abort();
  await reading;
  const lags: number[] = [];
  for (const [seq, at] of answered) {
    const seen = arrived.get(seq);
    // Negative when the stream had the change before the writer had its answer.
    if (seen !== undefined) lags.push(seen - at);
  }
  lags.sort((a, b) => a - b);
  return {
    setup,
    writesPerSecond: Math.round(answered.size / SECONDS),
    refused,
    answerToEventMs: { p50: +quantile(lags, 0.5).toFixed(2), p99: +quantile(lags, 0.99).toFixed(2) },
  };
}

async function main() {
  const common = ['dist/server/main.js', '--host', '127.0.0.1', '--port', '0', '--static-dir', 'no-such-dir'];
  const limits = ['--seed-rows', String(ROWS), '--write-rate', '1000000', '--write-burst', '1000000'];
  const limitsMore = ['--max-connections-per-address', '1000'];
  const rounds: Round[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'livetable-writes-'));
    const sqlite = await spawnServer([...common, ...limits, ...limitsMore, '--data-dir', dir], { stderr: 'inherit' });
    rounds.push(await measure(sqlite, 'sqlite'));
    sqlite.child.kill();
    rmSync(dir, { recursive: true, force: true });

    const redis = await startRedis({ persist: true });
    const node = await spawnServer(
      [...common, ...limits, ...limitsMore, '--store', 'redis', '--redis-url', redis.url],
      {
        stderr: 'inherit',
      },
    );
    rounds.push(await measure(node, 'redis'));
    node.child.kill();
    await redis.stop();
    console.error(JSON.stringify(rounds.slice(-2)));
  }
  for (const setup of ['sqlite', 'redis'] as Setup[]) {
    const mine = rounds.filter((r) => r.setup === setup);
    const spread = (pick: (r: Round) => number) => {
      const values = mine.map(pick);
      return `${median(values)} (${Math.min(...values)}–${Math.max(...values)})`;
    };
    console.log(
      `${setup.padEnd(7)} writes/s ${spread((r) => r.writesPerSecond)}, refused ${spread((r) => r.refused)}, ` +
        `answer→event p50 ${spread((r) => r.answerToEventMs.p50)} ms, p99 ${spread((r) => r.answerToEventMs.p99)} ms` +
        ` (${WRITERS} writers, ${SECONDS} s, ${ROUNDS} rounds alternated)`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
