/**
 * `npm run bench:cluster`: Livetable as one node on SQLite (A), one node on
 * Redis (B) and three nodes on one Redis behind haproxy (C), under the same
 * load, alternated A B C three times in one run on this machine; then the
 * most commits a second the stores take. Prints medians with their spread
 * (min–max) and each target as a ratio from this run, PASS or FAIL. Needs
 * `npm run build` first (the script does it), redis-server and haproxy.
 * BENCH_QUICK=1: one short round, 200 clients. BENCH_DIRECT=1 adds D, the
 * cluster of C with its clients spread straight over the nodes (no proxy),
 * to tell the proxy's share of C's latency. BENCH_PIN=1: the servers
 * (nodes, Redis, haproxy) on CPU 0 and the load on CPU 1, with taskset.
 * BENCH_SETUPS=A,C runs only those setups, and no commit rates (to try a
 * change to one setup against A). BENCH_REDIS_FSYNC=always|everysec|no: the Redis of setups B, C and D
 * (default always, as docs/scale-out.md has it run; everysec is closer to
 * SQLite's WAL with synchronous=NORMAL, which fsyncs at checkpoints only).
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoadBalancer, type LoadBalancer } from '../test-support/loadBalancer.js';
import { startRedis, type RedisServer } from '../test-support/redisServer.js';
import { redisCommitRate, sqliteCommitRate, type CommitRate } from './commitRate.js';
import { childrenOf, sampleCpu, type Watched } from './procCpu.js';
import { spawnServer, type ServerProcess } from '../test-support/serverProcess.js';
import { StreamClients, type StreamTotals, type WindowResult } from './streamClients.js';

const QUICK = Boolean(process.env.BENCH_QUICK);
const PIN = Boolean(process.env.BENCH_PIN);
const HOST = '127.0.0.1';
const CLIENTS = QUICK ? 200 : 1000;
const ROUNDS = QUICK ? 1 : 3;
/** After every client connected, before the window: the streams' inits are written and read. */
const WARMUP_S = QUICK ? 1 : 3;
const WINDOW_S = QUICK ? 3 : 10;
/** How long the clients may take, after the window, to receive its last change. */
const DRAIN_MS = 3000;
const COMMIT_S = QUICK ? 1 : 3;
/** At most --max-sessions (100 by default) generators commit at once, each one commit at a time. */
const COMMITTERS = 100;
type Fsync = 'always' | 'everysec' | 'no';
const FSYNC = (process.env.BENCH_REDIS_FSYNC ?? 'always') as Fsync;
if (!['always', 'everysec', 'no'].includes(FSYNC)) throw new Error('BENCH_REDIS_FSYNC takes always, everysec or no');
/** The whole run is stopped past this, whatever it is doing (D takes a minute or two more). */
const BUDGET_MS = (process.env.BENCH_DIRECT ? 9 : 7) * 60_000;

/** Raised so that 1,000 streams of one session fit on one node; the defaults are 100 and 5. */
const LIMITS = {
  '--max-connections': '20000',
  '--max-connections-per-session': '20000',
};
/**
 * The clients come from this many loopback addresses (10 streams each), in
 * every setup: deploy/haproxy.cfg, like --max-connections-per-address on a
 * node, allows a client address 20 connections.
 */
const SOURCES = Math.ceil(CLIENTS / 10);
/** One session making 100 changes a second: one change every 10 ms. */
const NODE_ARGS = [
  ...['dist/server/main.js', '--host', HOST, '--port', '0', '--static-dir', 'no-such-dir', '--log-level', 'info'],
  ...['--update-interval', '10', '--changes-per-tick', '1', '--heartbeat-interval', '5000'],
  ...Object.entries(LIMITS).flat(),
];

type Setup = 'A' | 'B' | 'C' | 'D';
const SETUPS: Record<Setup, string> = {
  A: 'one node, SQLite',
  B: 'one node, Redis',
  C: 'three nodes, one Redis, haproxy',
  D: 'three nodes, one Redis, clients straight to the nodes (no proxy)',
};
const ORDER: Setup[] = process.env.BENCH_SETUPS
  ? (process.env.BENCH_SETUPS.split(',') as Setup[])
  : process.env.BENCH_DIRECT
    ? ['A', 'B', 'C', 'D']
    : ['A', 'B', 'C'];
if (ORDER.some((setup) => !(setup in SETUPS))) throw new Error('BENCH_SETUPS takes a list of A, B, C and D: A,C');
/** The store's commit rate is measured after every round, unless BENCH_SETUPS picks setups. */
const COMMIT_ROUNDS = !process.env.BENCH_SETUPS;

interface NodeStats {
  streams: number;
  committed: number;
  delivered: number;
  behindAtEnd: number;
  versionAtEnd: number;
  slowDisconnects: number;
  commitMeanMs: number;
  /** Commits that took longer than the 10 ms between ticks (the generator skips a tick for each). */
  commitsOver10ms: number;
  /** Commit to the write on this node's sockets (the node's own histogram). */
  serverLagMeanMs: number;
}

interface SetupRun {
  setup: Setup;
  round: number;
  window: WindowResult;
  totals: StreamTotals;
  drainMs: number;
  cpu: Record<string, number>;
  nodes: Record<string, NodeStats>;
  problems: string[];
}

// ---------------------------------------------------------------- processes

/** Every process this run started and has not stopped yet, killed if the run ends early. */
const live = new Set<() => void>();
function killEverything(): void {
  for (const kill of live) kill();
  live.clear();
}

function pin(pid: number, cpu: number): void {
  if (!PIN) return;
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

interface Node {
  name: string;
  server: ServerProcess;
  /** Its warnings and errors, and an exit nobody asked for. */
  problems: string[];
  stop(): Promise<void>;
}

async function startNode(name: string, more: string[]): Promise<Node> {
  const server = await spawnServer([...NODE_ARGS, ...more], { stderr: 'inherit' });
  const { child } = server;
  const kill = () => child.kill('SIGKILL');
  live.add(kill);
  pin(child.pid!, 0);
  const problems: string[] = [];
  let stopping = false;
  // Lines logged before `listening` were read by spawnServer; a start that failed rejected there.
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } | string };
        if ((entry.level ?? 0) < 40) continue;
        const err = typeof entry.err === 'string' ? entry.err : entry.err?.message;
        problems.push(`${name}: ${entry.msg}${err ? ` (${err})` : ''}`);
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) problems.push(`${name} exited by itself (${code ?? signal})`);
      live.delete(kill);
      resolve();
    }),
  );
  return {
    name,
    server,
    problems,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const late = setTimeout(() => {
        problems.push(`${name} did not stop within 6 s of SIGTERM; killed`);
        child.kill('SIGKILL');
      }, 6000);
      await exited;
      clearTimeout(late);
    },
  };
}

/** A Redis on a free port; `no` keeps no append-only file, the others fsync it as named. */
async function useRedis(fsync: Fsync): Promise<RedisServer> {
  const redis = await startRedis({ persist: fsync !== 'no' });
  const kill = () => void redis.kill().catch(() => {});
  live.add(kill);
  pin(redis.pid, 0);
  if (fsync === 'everysec') {
    const client = new Redis(redis.url);
    try {
      await client.config('SET', 'appendfsync', 'everysec');
    } finally {
      client.disconnect();
    }
  }
  const stop = redis.stop.bind(redis);
  redis.stop = async () => {
    live.delete(kill);
    await stop();
  };
  return redis;
}

async function useProxy(ports: number[]): Promise<LoadBalancer> {
  const proxy = await startLoadBalancer(ports);
  const kill = () => void proxy.stop().catch(() => {});
  live.add(kill);
  for (const pid of [proxy.pid, ...childrenOf(proxy.pid)]) pin(pid, 0);
  const stop = proxy.stop.bind(proxy);
  proxy.stop = async () => {
    live.delete(kill);
    await stop();
  };
  return proxy;
}

// ---------------------------------------------------------------- metrics

/** The samples of a Prometheus text answer, by name with labels. */
async function scrape(url: string): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line === '') continue;
      const space = line.lastIndexOf(' ');
      samples.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
  } catch {
    // reported as NaN below
  }
  return samples;
}

function nodeStats(before: Map<string, number>, after: Map<string, number>): NodeStats {
  const at = (name: string) => after.get(name) ?? NaN;
  const delta = (name: string) => at(name) - (before.get(name) ?? NaN);
  const commits = delta('livetable_commit_duration_seconds_count');
  const lags = delta('livetable_delivery_lag_seconds_count');
  const fast = delta('livetable_commit_duration_seconds_bucket{le="0.01"}');
  return {
    streams: at('livetable_streams_open'),
    committed: delta('livetable_changes_committed_total'),
    delivered: delta('livetable_changes_delivered_total'),
    behindAtEnd: at('livetable_changes_behind'),
    versionAtEnd: at('livetable_table_version'),
    slowDisconnects: delta('livetable_slow_disconnects_total'),
    commitMeanMs: commits > 0 ? round((delta('livetable_commit_duration_seconds_sum') / commits) * 1000) : NaN,
    commitsOver10ms: commits > 0 ? commits - fast : 0,
    serverLagMeanMs: lags > 0 ? round((delta('livetable_delivery_lag_seconds_sum') / lags) * 1000) : NaN,
  };
}

// ---------------------------------------------------------------- one setup

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runSetup(setup: Setup, round: number): Promise<SetupRun> {
  let dataDir: string | undefined;
  let redis: RedisServer | undefined;
  let proxy: LoadBalancer | undefined;
  let clients: StreamClients | undefined;
  let proxyStates: NodeJS.Timeout | undefined;
  const nodes: Node[] = [];
  const problems: string[] = [];
  try {
    let store: string[];
    if (setup === 'A') {
      dataDir = mkdtempSync(join(tmpdir(), 'livetable-bench-'));
      store = ['--store', 'sqlite', '--data-dir', dataDir];
    } else {
      redis = await useRedis(FSYNC);
      store = ['--store', 'redis', '--redis-url', redis.url, '--redis-prefix', `bench-${setup}${round}:`];
    }
    const count = setup === 'C' || setup === 'D' ? 3 : 1;
    for (let i = 1; i <= count; i++) {
      nodes.push(await startNode(`node${i}`, [...store, ...(setup === 'C' ? ['--trust-proxy', '1'] : [])]));
    }
    if (setup === 'C') {
      proxy = await useProxy(nodes.map((node) => node.server.port));
      // Its state changes, read as they come: the log of every stream that closes soon pushes them out of `output`.
      const seen = new Set<string>();
      const watching = proxy;
      proxyStates = setInterval(() => {
        for (const line of watching.output.split('\n')) {
          // Each is written twice, as a warning and as a log line.
          const state = line.replace(/^\[\w+\]\s+\(\d+\) : /, '').trim();
          if (/\b(is DOWN|is UP|no server available)\b/.test(state) && !seen.has(state)) {
            seen.add(state);
            problems.push(`haproxy: ${state}`);
          }
        }
      }, 250);
    }
    const ports = proxy ? [proxy.port] : nodes.map((node) => node.server.port);

    const started = await fetch(`http://${HOST}:${ports[0]}/api/start`, { method: 'POST' });
    if (started.status !== 200) throw new Error(`POST /api/start answered ${started.status}: ${await started.text()}`);
    const { session_id: id } = (await started.json()) as { session_id: string };
    clients = await StreamClients.open({
      host: HOST,
      ports,
      path: `/api/stream/${id}`,
      clients: CLIENTS,
      sources: SOURCES,
    });
    await sleep(WARMUP_S * 1000);

    const watched: Watched[] = nodes.map((node) => ({ name: node.name, pids: [node.server.child.pid!] }));
    if (redis) watched.push({ name: 'redis-server', pids: [redis.pid] });
    if (proxy) watched.push({ name: 'haproxy', pids: [proxy.pid, ...childrenOf(proxy.pid)] });
    const before = await Promise.all(nodes.map((node) => scrape(node.server.url)));
    const cpu = sampleCpu(watched);
    clients.startWindow();
    await sleep(WINDOW_S * 1000);
    const window = clients.endWindow();
    const used = cpu.stop();
    const after = await Promise.all(nodes.map((node) => scrape(node.server.url)));
    const drainMs = await clients.drain(DRAIN_MS);
    const totals = clients.totals();
    // Named by role: which node runs the session's generator changes from run to run.
    const stats = nodes.map((node, i) => ({ node, stats: nodeStats(before[i]!, after[i]!) }));
    stats.sort((a, b) => (b.stats.committed || 0) - (a.stats.committed || 0));
    const perNode: Record<string, NodeStats> = {};
    const cpuByRole: Record<string, number> = {};
    stats.forEach(({ node, stats }, i) => {
      const role = nodes.length === 1 ? 'node' : i === 0 ? 'node generating' : `node other ${i}`;
      perNode[role] = stats;
      cpuByRole[role] = used[node.name]!;
    });
    for (const [name, ms] of Object.entries(used)) if (!name.startsWith('node')) cpuByRole[name] = ms;
    return { setup, round, window, totals, drainMs, cpu: cpuByRole, nodes: perNode, problems };
  } finally {
    clients?.close();
    clearInterval(proxyStates);
    await proxy?.stop().catch((err: Error) => problems.push(`haproxy: ${err.message}`));
    for (const node of nodes) await node.stop();
    for (const node of nodes) problems.push(...node.problems);
    await redis?.stop().catch((err: Error) => problems.push(`redis-server: ${err.message}`));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- commits

interface CommitRound {
  sqlite: CommitRate;
  always: CommitRate;
  alwaysOne: CommitRate;
  everysec: CommitRate;
  none: CommitRate;
}

async function commitRound(round: number): Promise<CommitRound> {
  const sqlite = await sqliteCommitRate(COMMITTERS, COMMIT_S);
  const measureOn = async (fsync: Fsync, committers: number[]) => {
    const redis = await useRedis(fsync);
    try {
      const rates: CommitRate[] = [];
      for (const count of committers) {
        rates.push(await redisCommitRate(redis.url, redis.pid, `commits-${count}-${round}:`, count, COMMIT_S));
      }
      return rates;
    } finally {
      await redis.stop();
    }
  };
  const [always, alwaysOne] = await measureOn('always', [COMMITTERS, 1]);
  const [everysec] = await measureOn('everysec', [COMMITTERS]);
  const [none] = await measureOn('no', [COMMITTERS]);
  return { sqlite, always: always!, alwaysOne: alwaysOne!, everysec: everysec!, none: none! };
}

// ---------------------------------------------------------------- report

/** The 1-minute load average: how busy the machine was apart from this run. */
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const LOAD_AT_START = loadAverage();

const round = (n: number) => Math.round(n * 100) / 100;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const number = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 2 }) : 'n/a');
/** The median, then each round's value. */
function byRound(values: number[], unit = ''): string {
  if (values.length === 1) return `${number(values[0] as number)}${unit}`;
  return `${number(median(values))}${unit} (rounds: ${values.map((v) => `${number(v)}${unit}`).join(', ')})`;
}
/** `median (min–max)` of values from the rounds. */
function spread(values: number[], unit = ''): string {
  if (values.length === 1) return `${number(values[0] as number)}${unit}`;
  return `${number(median(values))}${unit} (${number(Math.min(...values))}–${number(Math.max(...values))})`;
}

function report(runs: SetupRun[], commits: CommitRound[]): void {
  const out: string[] = [];
  const say = (line = '') => out.push(line);
  const of = (setup: Setup) => runs.filter((run) => run.setup === setup);
  say(`Livetable cluster bench: ${CLIENTS} clients on one session's streams (GET /api/stream/<id>),`);
  say(`one session making 100 changes/s (--update-interval 10), ${ROUNDS} round(s) of ${ORDER.join(' ')} alternated,`);
  say(`${WARMUP_S} s warm-up, then a ${WINDOW_S} s window.`);
  say(
    `Redis of ${ORDER.filter((setup) => setup !== 'A').join(', ')}: ${FSYNC === 'no' ? 'no append-only file' : `appendonly yes, appendfsync ${FSYNC}`}; ` +
      'SQLite: WAL, synchronous=NORMAL.',
  );
  say(
    `Node limits raised: ${Object.entries(LIMITS)
      .map(([flag, value]) => `${flag} ${value}`)
      .join(', ')}; the clients come from ${SOURCES} loopback addresses ` +
      `(127.0.1.1 on, ${Math.ceil(CLIENTS / SOURCES)} streams each), under the per-address limits ` +
      '(20 on a node and in deploy/haproxy.cfg).',
  );
  say(
    `Machine: ${cpus().length} cores, Node ${process.version}; ` +
      (PIN ? 'servers pinned to CPU 0, the load to CPU 1.' : 'servers and load share every core (no pinning).') +
      ` Load average (1 min): ${LOAD_AT_START} before the run, ${loadAverage()} at its end (this run's own processes included).`,
  );
  say('Values: median (min–max) over the rounds.');
  for (const setup of ORDER) {
    const mine = of(setup);
    if (mine.length === 0) continue;
    say();
    say(`${setup}) ${SETUPS[setup]}`);
    say(`  deliveries/s            ${spread(mine.map((r) => r.window.eventsPerSecond))}`);
    if (mine.length > 1) {
      say(`    by round              ${mine.map((r) => number(r.window.eventsPerSecond)).join(', ')}`);
    }
    say(`  changes made/s          ${spread(mine.map((r) => r.window.changesPerSecond))}`);
    say(`  latency p50 ms          ${spread(mine.map((r) => r.window.latencyMs.p50))}`);
    say(`  latency p99 ms          ${spread(mine.map((r) => r.window.latencyMs.p99))}`);
    if (mine.length > 1) say(`    by round              ${mine.map((r) => number(r.window.latencyMs.p99)).join(', ')}`);
    say(`  latency max ms          ${spread(mine.map((r) => r.window.latencyMs.max))}`);
    const t = (pick: (totals: StreamTotals) => number) => mine.map((r) => pick(r.totals));
    say(`  connected / failed      ${spread(t((x) => x.connected))} / ${spread(t((x) => x.failed))}`);
    const failures = mine
      .filter((r) => r.totals.failed > 0)
      .map((r) => `round ${r.round} ${JSON.stringify(r.totals.failures)}`);
    if (failures.length > 0) say(`  failed, by status       ${failures.join('; ')}`);
    say(`  gaps / duplicates       ${spread(t((x) => x.gaps))} / ${spread(t((x) => x.duplicates))}`);
    say(`  closed by the server    ${spread(t((x) => x.closedEarly))}`);
    say(`  clients with every change of the window ${spread(t((x) => x.complete))} of ${CLIENTS}`);
    say(`  CPU ms per s:`);
    for (const name of Object.keys(mine[0]!.cpu)) say(`    ${name.padEnd(28)}${spread(mine.map((r) => r.cpu[name]!))}`);
    const total = (r: SetupRun) => Object.values(r.cpu).reduce((sum, ms) => sum + ms, 0);
    say(`    ${'all of them'.padEnd(28)}${spread(mine.map(total))} of ${cpus().length * 1000}`);
    for (const name of Object.keys(mine[0]!.nodes)) {
      const n = (pick: (stats: NodeStats) => number) => spread(mine.map((r) => pick(r.nodes[name]!)));
      const commits = mine.some((r) => r.nodes[name]!.committed > 0)
        ? `committed ${n((s) => s.committed)}, commit mean ${n((s) => s.commitMeanMs)} ms, ` +
          `commits over 10 ms ${n((s) => s.commitsOver10ms)}, `
        : '';
      say(
        `  ${name}: streams ${n((s) => s.streams)}, ${commits}commit→socket mean ${n((s) => s.serverLagMeanMs)} ms, ` +
          `behind at end ${n((s) => s.behindAtEnd)}, slow clients cut ${n((s) => s.slowDisconnects)}`,
      );
    }
    const problems = mine.flatMap((r) => r.problems.map((p) => `round ${r.round}: ${p}`));
    say(`  node warnings and errors, proxy state changes: ${problems.length === 0 ? 'none' : ''}`);
    for (const problem of problems.slice(0, 12)) say(`    ${problem}`);
    if (problems.length > 12) say(`    … and ${problems.length - 12} more`);
  }

  if (commits.length > 0) {
    say();
    say(
      `Most commits/s the store takes (table.commit, ${COMMIT_S} s each after 0.5 s of warm-up, no session, 10,000 rows, default mix):`,
    );
    const line = (label: string, pick: (c: CommitRound) => CommitRate) => {
      const rates = commits.map(pick);
      say(
        `  ${label.padEnd(44)}${spread(rates.map((r) => r.commitsPerSecond))} commits/s, ` +
          `p50 ${spread(rates.map((r) => r.latencyMs.p50))} ms, p99 ${spread(rates.map((r) => r.latencyMs.p99))} ms, ` +
          `refused ${spread(rates.map((r) => r.refused))}, failed ${spread(rates.map((r) => r.failed))}; CPU ms/s ` +
          Object.keys(rates[0]!.cpu)
            .map((name) => `${name} ${spread(rates.map((r) => r.cpu[name]!))}`)
            .join(', '),
      );
    };
    line(`SQLite, ${COMMITTERS} committers`, (c) => c.sqlite);
    line(`Redis, appendfsync always, ${COMMITTERS} committers`, (c) => c.always);
    line('Redis, appendfsync always, 1 committer', (c) => c.alwaysOne);
    line(`Redis, appendfsync everysec, ${COMMITTERS} committers`, (c) => c.everysec);
    line(`Redis, no append-only file, ${COMMITTERS} committers`, (c) => c.none);
  }

  say();
  say('Targets (ratios per round, A B C of one round against each other; median (min–max)):');
  const target = (label: string, measured: string, met: boolean) =>
    say(`  ${met ? 'PASS' : 'FAIL'}  ${label}: ${measured}`);
  const paired = (pick: (r: SetupRun) => number, over: Setup, under: Setup) => {
    const ratios: number[] = [];
    for (const a of of(under)) {
      const b = of(over).find((r) => r.round === a.round);
      if (b) ratios.push(round(pick(b) / pick(a)));
    }
    return ratios;
  };
  if (of('A').length > 0 && of('B').length > 0) {
    const deliveries = paired((r) => r.window.eventsPerSecond, 'B', 'A');
    target('B deliveries/s ≥ 0.9 × A', byRound(deliveries, '×'), median(deliveries) >= 0.9);
    const p99 = paired((r) => Math.max(1, r.window.latencyMs.p99), 'B', 'A');
    target('B p99 ≤ 1.5 × A p99', byRound(p99, '×'), median(p99) <= 1.5);
  }
  if (of('C').length > 0) {
    const everyEvent = of('C').every(
      (r) =>
        r.totals.complete === CLIENTS &&
        r.totals.gaps + r.totals.duplicates + r.totals.failed + r.totals.closedEarly === 0,
    );
    const complete = of('C').map((r) => r.totals.complete);
    target(
      'C delivers every change to every client',
      `clients with every change of the window: ${complete.join(', ')} of ${CLIENTS}`,
      everyEvent,
    );
    if (of('A').length > 0) {
      const p99 = paired((r) => Math.max(1, r.window.latencyMs.p99), 'C', 'A');
      target('C p99 ≤ 2 × A p99', byRound(p99, '×'), median(p99) <= 2);
    }
  }
  const clean = runs.every((r) => r.totals.gaps === 0 && r.totals.duplicates === 0);
  target(
    'no gaps and no duplicates, every setup',
    `${runs.reduce((s, r) => s + r.totals.gaps, 0)} gaps, ${runs.reduce((s, r) => s + r.totals.duplicates, 0)} duplicates`,
    clean,
  );
  if (commits.length > 0) {
    for (const [label, pick] of [
      ['appendfsync always', (c: CommitRound) => c.always],
      ['appendfsync everysec', (c: CommitRound) => c.everysec],
    ] as const) {
      const rates = commits.map((c) => pick(c).commitsPerSecond);
      target(`Redis commits/s ≥ 3,000 (${label})`, spread(rates), median(rates) >= 3000);
    }
  }
  console.log(out.join('\n'));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    console.error(`bench:cluster: still running after ${BUDGET_MS / 60_000} minutes; stopping everything`);
    killEverything();
    process.exit(1);
  }, BUDGET_MS);
  deadline.unref();
  process.once('SIGINT', () => {
    killEverything();
    process.exit(130);
  });
  pin(process.pid, 1);

  const runs: SetupRun[] = [];
  const commits: CommitRound[] = [];
  const began = Date.now();
  for (let r = 1; r <= ROUNDS; r++) {
    for (const setup of ORDER) {
      const run = await runSetup(setup, r);
      runs.push(run);
      console.error(JSON.stringify(run));
    }
    if (!COMMIT_ROUNDS) continue;
    const rates = await commitRound(r);
    commits.push(rates);
    console.error(JSON.stringify({ round: r, commits: rates }));
  }
  console.error(`bench:cluster: ${Math.round((Date.now() - began) / 1000)} s`);
  report(runs, commits);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    killEverything();
    process.exit(1);
  },
);
