import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { filter, firstValueFrom, map, merge, Subject, timer, type Observable } from 'rxjs';
import type { ChangeEvent, EndReason, Row } from '../../../shared/protocol.js';
import type { SessionEnd } from '../sessionStore.js';
import type { NewRow } from '../../table/rows.js';
import { newEpoch } from '../localStore.js';
import { createReplica, type Replica, type TableState } from '../replica.js';
import {
  CommitRefused,
  StoreUnavailable,
  type CommitRefusal,
  type TableLimits,
  type TableStore,
} from '../tableStore.js';
import { COMMIT, INIT_TABLE, SNAPSHOT } from './scripts.js';
import type { RedisKeys } from './keys.js';

/** How long one blocking read of the log waits before the follower looks at the table's epoch. */
const BLOCK_MS = 1000;
/** Log entries read at once. */
const READ_COUNT = 1000;
/** How long a commit waits for its change to come back through the log before it resolves anyway. */
const APPLY_WAIT_MS = 5000;
/** Pause after a failed read while Redis is away. */
const RETRY_MS = 250;

export interface RedisTable extends TableStore {
  /** Every session's end, in log order. */
  readonly sessionEnds$: Observable<SessionEnd>;
}

export interface RedisTableOptions {
  /** Commands; fails fast while Redis is away. */
  redis: Redis;
  /** Blocking reads of the log; a connection of its own. */
  follower: Redis;
  keys: RedisKeys;
  history: number;
  limits: TableLimits;
  /** Names this node in leases: a session's changes are committed only by the node holding its lease. */
  nodeId: string;
  /** Rows a new table starts with. */
  initialRows: () => readonly NewRow[];
  logger: Logger;
  /**
   * The version a new table starts at. By default the time in microseconds:
   * a table made anew after Redis lost its data starts above every seq the
   * old one could have reached (at under a million changes a second), so no
   * client's Last-Event-ID from before is taken for one of the new table's.
   */
  seqFloor?: () => number;
}

/** Microseconds since 1970: above the seq of any table made earlier. */
const timeFloor = () => Date.now() * 1000;

type Snapshot = [
  meta: [epoch: string, seq: string, nextId: string],
  rows: string[],
  versions: string[],
  log: [id: string, fields: string[]][],
];

interface Scripts {
  livetableInit(...args: (string | number)[]): Promise<number>;
  livetableSnapshot(...args: (string | number)[]): Promise<Snapshot | null>;
  livetableCommit(...args: (string | number)[]): Promise<[string, string | number, number?]>;
}

/** The row as the page and every node spell it: the same keys in the same order. */
const rowOf = ({ id, name, age, city, score, status }: Row): Row => ({ id, name, age, city, score, status });

/** The fields of a stream entry as a map. */
function fieldsOf(list: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) fields.set(list[i] as string, list[i + 1] as string);
  return fields;
}

/**
 * The change's JSON cut around its seq (and an added row's id), which the
 * commit script fills in. Spelled with the same keys in the same order as a
 * change made in memory, so every node sends the same bytes.
 */
function piecesOf(change: ChangeEvent): { head: string; middle: string; tail: string; row: string } {
  const { type, seq: _seq, data, ...marks } = change;
  const head = `{"type":"${type}","seq":`;
  const rest = JSON.stringify(marks).slice(1);
  if (type === 'add') {
    const { id: _id, ...fields } = data as Row;
    const row = `,${JSON.stringify(fields).slice(1)}`;
    return { head, middle: ',"data":{"id":', tail: `${row},${rest}`, row };
  }
  return { head, middle: `,"data":${JSON.stringify(data)},${rest}`, tail: '', row: '' };
}

/**
 * The table on Redis. Commits run one Lua script each (checks, then the
 * next seq, the rows and the log entry, atomically); every node, this one
 * included, applies changes only as it reads them from the log, strictly in
 * seq order, so all nodes hold the same table.
 */
export async function openRedisTable(options: RedisTableOptions): Promise<RedisTable> {
  const { redis, follower, keys, history, limits, nodeId, logger, seqFloor = timeFloor } = options;
  const script = (name: string, lua: string, numberOfKeys: number) => redis.defineCommand(name, { lua, numberOfKeys });
  script('livetableInit', INIT_TABLE, 4);
  script('livetableSnapshot', SNAPSHOT, 4);
  script('livetableCommit', COMMIT, 6);
  const scripts = redis as unknown as Scripts;
  const tableKeys = [keys.meta, keys.rows, keys.rowVersions, keys.log];

  const changes = new Subject<ChangeEvent>();
  const sessionEnds = new Subject<SessionEnd>();
  const resets = new Subject<void>();
  const progress = new Subject<void>();
  let closed = false;
  /** The newest seq this node knows Redis has, for `behind`. */
  let newest = 0;
  /** The id of the last log entry read. */
  let lastId = '0-0';

  /** Makes the table from `rows` unless Redis has one; its seqs start after `floor`. */
  const init = async (rows: readonly Row[], nextId: number, floor: number) => {
    const args: (string | number)[] = [newEpoch(), nextId, floor];
    for (const row of rows) args.push(row.id, JSON.stringify(rowOf(row)));
    return scripts.livetableInit(...tableKeys, ...args);
  };

  const load = async (): Promise<TableState> => {
    const snapshot = await scripts.livetableSnapshot(...tableKeys, history);
    if (snapshot === null) throw new Error('no table in Redis');
    const [[epoch, seq, nextId], rowList, versionList, log] = snapshot;
    const rows: Row[] = [];
    for (let i = 1; i < rowList.length; i += 2) rows.push(rowOf(JSON.parse(rowList[i] as string) as Row));
    rows.sort((a, b) => a.id - b.id);
    const rowVersions = new Map<number, number>();
    for (let i = 0; i + 1 < versionList.length; i += 2) {
      rowVersions.set(Number(versionList[i]), Number(versionList[i + 1]));
    }
    const version = Number(seq);
    const changesKept: ChangeEvent[] = [];
    for (const [, fields] of [...log].reverse()) {
      const entry = fieldsOf(fields);
      const text = entry.get('c');
      if (text !== undefined && entry.get('e') === epoch) changesKept.push(JSON.parse(text) as ChangeEvent);
    }
    // An empty log is read from its start: the first entry may be a session's
    // end at `<version>-0` (an end takes the version's next free id).
    lastId = log[0]?.[0] ?? '0-0';
    newest = version;
    return { epoch, rows, rowVersions, nextId: Number(nextId), version, history: changesKept };
  };

  let replica: Replica;
  let feed = { unsubscribe() {} };
  const adopt = (state: TableState) => {
    feed.unsubscribe();
    replica?.complete();
    replica = createReplica(history, state);
    feed = replica.changes$.subscribe(changes);
  };

  if ((await scripts.livetableSnapshot(...tableKeys, 1)) === null) {
    const rows = options.initialRows().map((row, i) => ({ id: i + 1, ...row }));
    await init(rows, rows.length + 1, seqFloor());
  }
  adopt(await load());

  /** Loads the table anew: Redis lost its data, or this node lost its place in the log. */
  let resyncing: Promise<void> | undefined;
  const resync = (why: string): Promise<void> =>
    (resyncing ??= (async () => {
      try {
        logger.warn({ why, version: replica.version, epoch: replica.epoch }, 'loading the table from Redis anew');
        // A Redis that lost everything gets the table as this node had it, under a new epoch.
        await init(replica.rows(), replica.nextId, Math.max(seqFloor(), replica.version + 1));
        adopt(await load());
        logger.info({ version: replica.version, epoch: replica.epoch }, 'table loaded from Redis');
        resets.next();
        progress.next();
      } finally {
        resyncing = undefined;
      }
    })());

  /** Applies one log entry; false when the table had to be loaded anew, so the rest of the read is stale. */
  const handle = async (id: string, list: string[]): Promise<boolean> => {
    const fields = fieldsOf(list);
    if (fields.get('e') !== replica.epoch) {
      await resync('the table in Redis has a new epoch');
      return false;
    }
    lastId = id;
    const text = fields.get('c');
    if (text === undefined) {
      const session = fields.get('end');
      if (session !== undefined) sessionEnds.next({ id: session, reason: fields.get('reason') as EndReason });
      return true;
    }
    const seq = Number(id.slice(0, id.indexOf('-')));
    newest = Math.max(newest, seq);
    if (seq <= replica.version) return true;
    if (seq > replica.version + 1) {
      await resync(`the log jumped from ${replica.version} to ${seq}`);
      return false;
    }
    replica.apply(JSON.parse(text) as ChangeEvent);
    return true;
  };

  /** Checks the table's epoch when the log is quiet: a flushed Redis writes no entry this node would read. */
  const checkEpoch = async () => {
    const [epoch, seq] = await follower.hmget(keys.meta, 'epoch', 'seq');
    if (epoch !== replica.epoch) await resync(epoch === null ? 'Redis has no table' : 'the table has a new epoch');
    else newest = Math.max(newest, Number(seq));
  };

  const follow = async () => {
    let failing = false;
    while (!closed) {
      try {
        const reply = await follower.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', keys.log, lastId);
        if (reply === null) await checkEpoch();
        else {
          read: for (const [, entries] of reply) {
            for (const [id, fields] of entries) if (!(await handle(id, fields))) break read;
          }
        }
        if (failing) logger.info('following the change log again');
        failing = false;
        progress.next();
      } catch (err) {
        if (closed) break;
        if (!failing) logger.warn({ err: (err as Error).message }, 'cannot read the change log; retrying');
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  };
  const following = follow();

  const reach = (seq: number, timeoutMs: number): Promise<boolean> => {
    if (replica.version >= seq) return Promise.resolve(true);
    return firstValueFrom(
      merge(
        progress.pipe(
          filter(() => replica.version >= seq),
          map(() => true),
        ),
        timer(timeoutMs).pipe(map(() => false)),
      ),
      { defaultValue: false },
    );
  };

  return {
    get epoch() {
      return replica.epoch;
    },
    get version() {
      return replica.version;
    },
    get size() {
      return replica.size;
    },
    rowAt: (index) => replica.rowAt(index),
    get: (id) => replica.get(id),
    rowVersion: (id) => replica.rowVersion(id),
    rows: () => replica.rows(),
    since: (seq) => replica.since(seq),
    reach,
    changes$: changes.asObservable(),
    sessionEnds$: sessionEnds.asObservable(),
    resets$: resets.asObservable(),
    get behind() {
      return Math.max(0, newest - replica.version);
    },
    get connected() {
      return redis.status === 'ready';
    },

    async commit(mutation, meta) {
      if (redis.status !== 'ready') throw new StoreUnavailable('Redis is not connected');
      const { change, reads, written } = replica.draft(mutation, meta, limits);
      const pieces = piecesOf(change);
      const args: (string | number)[] = [
        replica.epoch,
        // A write through the API has no session, so nothing of a session is checked.
        meta.session_id === null ? '' : nodeId,
        limits.minRecords,
        Number.isFinite(limits.maxRecords) ? limits.maxRecords : Number.MAX_SAFE_INTEGER,
        history,
        change.type,
        pieces.head,
        pieces.middle,
        pieces.tail,
        pieces.row,
        reads.length,
      ];
      for (const { id, version } of reads) args.push(id, version);
      if (change.type === 'update' || change.type === 'batch_update') {
        for (const row of written) args.push(row.id, JSON.stringify(rowOf(row)));
      }
      let reply;
      try {
        reply = await scripts.livetableCommit(
          ...tableKeys,
          keys.session(meta.session_id ?? ''),
          keys.lease(meta.session_id ?? ''),
          ...args,
        );
      } catch (err) {
        throw new StoreUnavailable(`the change was not committed: ${(err as Error).message}`);
      }
      if (reply[0] === 'no') {
        if (reply[1] === 'epoch') {
          void resync('a commit found a new epoch').catch(() => {});
          throw new CommitRefused('row_changed');
        }
        throw new CommitRefused(reply[1] as CommitRefusal);
      }
      const seq = Number(reply[1]);
      newest = Math.max(newest, seq);
      if (await reach(seq, APPLY_WAIT_MS)) {
        const applied = replica.since(seq - 1)?.[0];
        if (applied?.seq === seq) return applied;
      }
      // Committed, and on its way to every node: as this node will apply it.
      const id = Number(reply[2]);
      return change.type === 'add' ? { ...change, seq, data: { ...change.data, id } } : { ...change, seq };
    },

    async close() {
      if (closed) return;
      closed = true;
      follower.disconnect();
      await following;
      feed.unsubscribe();
      replica.complete();
      changes.complete();
      sessionEnds.complete();
      resets.complete();
      progress.complete();
    },
  };
}
