import type { StreamEvent } from '../shared/protocol.js';
import {
  badgeRecords,
  eventsOf,
  expect,
  streamRecords,
  test,
  type BadgeRecord,
  type Cluster,
  type ClusterNode,
} from './clusterFixture.js';

/** The one node whose `total_connections` counts the page's stream, once the page has just that stream open. */
async function streamHolder(cluster: Cluster): Promise<ClusterNode> {
  const alive = cluster.nodes.filter((node) => node.alive);
  let counts: number[] = [];
  await expect
    .poll(
      async () => {
        counts = await Promise.all(alive.map(async (node) => (await node.metrics()).total_connections));
        return counts.reduce((a, b) => a + b, 0);
      },
      { message: 'one stream open in the cluster' },
    )
    .toBe(1);
  return alive[counts.indexOf(1)]!;
}

/**
 * What a client must see on a stream: after its init (or the version it
 * opened the stream from, `since`), consecutive seqs, with no gap and no
 * duplicate, across every reconnect.
 */
function seqProblems(events: readonly StreamEvent[], since?: number): string[] {
  const problems: string[] = [];
  let last = since;
  for (const event of events) {
    if (event.type === 'init') {
      if (last !== undefined && event.version < last) problems.push(`init at ${event.version} after #${last}`);
      last = event.version;
    } else if ('seq' in event) {
      if (last === undefined) problems.push(`#${event.seq} before any init`);
      else if (event.seq <= last) problems.push(`#${event.seq} again after #${last}`);
      else if (event.seq > last + 1) problems.push(`#${event.seq} after #${last}: a gap`);
      last = event.seq;
    }
  }
  return problems;
}

/** The states the badge took from `since` on. */
const statesSince = (badge: readonly BadgeRecord[], since: number) =>
  badge.filter((b) => b.at >= since).map((b) => b.state);

test('a node killed under the page\'s stream: "reconnecting", then live through another node, and nothing lost', async ({
  app,
  cluster,
  page,
}, testInfo) => {
  await app.expectNoSession();
  await app.startSession();
  await app.waitForVersion(5);

  // The page holds one stream now, its session's: find the node that serves it.
  const holder = await streamHolder(cluster);
  const survivors = cluster.nodes.filter((node) => node !== holder);
  const before = await app.version();
  const killedAt = Date.now();
  await holder.kill('SIGKILL');

  // The badge says so, then it is live again, on a stream another node serves.
  await expect
    .poll(async () => statesSince(await badgeRecords(page), killedAt), { timeout: 15_000 })
    .toContain('reconnecting');
  await expect
    .poll(
      async () => {
        const states = statesSince(await badgeRecords(page), killedAt);
        return states.slice(states.indexOf('reconnecting')).includes('live');
      },
      { timeout: 20_000, message: 'live again after reconnecting' },
    )
    .toBe(true);
  const badge = (await badgeRecords(page)).filter((b) => b.at >= killedAt);
  const reconnectingAt = badge.find((b) => b.state === 'reconnecting')!.at;
  const liveAt = badge.find((b) => b.state === 'live' && b.at >= reconnectingAt)!.at;
  await expect(app.connection).toHaveAttribute('data-state', 'live');
  await expect(app.stop).toBeEnabled();

  // It keeps receiving changes, and one of the other nodes holds its stream.
  await app.waitForVersion(before + 5);
  const changedAt = Date.now();
  const newHolder = await streamHolder(cluster);
  expect(survivors).toContain(newHolder);

  // Stopped from the page, it shows exactly the server's table: through the
  // proxy, and on every node still up.
  await app.stop.click();
  await app.expectNoSession();
  const { data, version } = await cluster.data();
  await expect.poll(() => app.version()).toBe(version);
  await expect(app.table).toHaveAttribute('aria-rowcount', String(data.length + 1));
  expect(await app.shownRows()).toEqual(data);
  for (const node of survivors) expect(await node.data()).toMatchObject({ version, data });

  // Started from the table the page held, resumed by Last-Event-ID: no
  // snapshot at all, no gap, no duplicate, no error.
  const records = await streamRecords(page);
  const session = (url: string) => url.includes('/api/stream/');
  const events = eventsOf(records, session);
  const firstOpen = records.find((r) => r.kind === 'open' && session(r.url));
  const since = new URL(firstOpen!.url, 'http://page').searchParams.get('since');
  expect(since).not.toBeNull();
  expect(seqProblems(events, Number(since))).toEqual([]);
  expect(events.filter((e) => e.type === 'init')).toHaveLength(0);
  expect(events.at(-1)?.type).toBe('end');
  const opens = records.filter((r) => r.kind === 'open' && session(r.url)).length;
  expect(opens).toBeGreaterThanOrEqual(2);
  const log = await app.wholeLog();
  await expect(log.locator('li[data-kind="error"]')).toHaveCount(0);
  await expect(log.locator('li', { hasText: '已同步' })).toHaveCount(0);
  await expect(log.locator('li', { hasText: '连接中断' })).toHaveCount(1);
  await expect(log.locator('li', { hasText: '连接已恢复' })).toHaveCount(1);

  // Where the session's changes were made: each node logs when it starts running it.
  const ranOn = (node: ClusterNode) =>
    node.logs
      .filter((l) => l.msg === 'running the session here')
      .map((l) => `${node.name}@${Number(l.time) - killedAt}ms`);
  // The first change that came on the resumed stream.
  const reopenedAt = records.filter((r) => r.kind === 'open' && session(r.url))[1]!.at;
  const firstChange = records.find(
    (r) => r.kind === 'message' && r.at >= reopenedAt && session(r.url) && JSON.parse(r.data!).seq !== undefined,
  );
  const timings = {
    killed: holder.name,
    resumedOn: newHolder.name,
    sessionRanOn: cluster.nodes.flatMap(ranOn).join(' '),
    firstChangeAfterMs: firstChange ? firstChange.at - killedAt : null,
    reconnectingAfterMs: reconnectingAt - killedAt,
    liveAgainAfterMs: liveAt - killedAt,
    fiveChangesAfterMs: changedAt - killedAt,
    sessionStreamOpens: opens,
    badge: badge.map((b) => `${b.state}+${b.at - killedAt}ms`).join(' '),
  };
  testInfo.annotations.push({ type: 'failover', description: JSON.stringify(timings) });
  console.log(`failover: ${JSON.stringify(timings)}`);
  expect(timings.liveAgainAfterMs).toBeLessThan(15_000);
});
