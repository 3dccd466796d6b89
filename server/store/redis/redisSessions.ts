import type { Redis } from 'ioredis';
import type { Observable } from 'rxjs';
import type { EndReason } from '../../../shared/protocol.js';
import { SessionLimitReached, type SessionEnd, type SessionRecord, type SessionStore } from '../sessionStore.js';
import { StoreUnavailable } from '../tableStore.js';
import type { RedisKeys } from './keys.js';
import { COUNT_SESSIONS, END_SESSION, LEASE, RELEASE, START_SESSION } from './scripts.js';

/** How long an ended session is remembered, so a late stop is "already ended" rather than 404. */
const REMEMBER_ENDED_MS = 24 * 60 * 60 * 1000;

export interface RedisSessionsOptions {
  redis: Redis;
  keys: RedisKeys;
  prefix: string;
  history: number;
  nodeId: string;
  /** Session ends, as the table's log gives them. */
  ends$: Observable<SessionEnd>;
  now: () => number;
}

interface Scripts {
  livetableStart(...args: (string | number)[]): Promise<[string, number?, string?]>;
  livetableEnd(...args: (string | number)[]): Promise<'stopped' | 'already_ended' | 'unknown'>;
  livetableCount(...args: (string | number)[]): Promise<number>;
  livetableLease(...args: (string | number)[]): Promise<number>;
  livetableRelease(...args: (string | number)[]): Promise<number>;
}

/** Runs `call`, turning a lost or refused connection into StoreUnavailable. */
async function reachable<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new StoreUnavailable((err as Error).message);
  }
}

/**
 * Sessions on Redis, shared by every node: starting one counts every node's
 * sessions, any node can stop it, and its end goes into the table's log
 * after its last change, so every node's streams get it in order.
 */
export function createRedisSessions({
  redis,
  keys,
  prefix,
  history,
  nodeId,
  ends$,
  now,
}: RedisSessionsOptions): SessionStore {
  redis.defineCommand('livetableStart', { lua: START_SESSION, numberOfKeys: 0 });
  redis.defineCommand('livetableEnd', { lua: END_SESSION, numberOfKeys: 0 });
  redis.defineCommand('livetableCount', { lua: COUNT_SESSIONS, numberOfKeys: 0 });
  redis.defineCommand('livetableLease', { lua: LEASE, numberOfKeys: 2 });
  redis.defineCommand('livetableRelease', { lua: RELEASE, numberOfKeys: 1 });
  const scripts = redis as unknown as Scripts;
  const common = () => [prefix, now(), REMEMBER_ENDED_MS, history];

  const recordOf = (id: string, fields: Record<string, string>): SessionRecord => ({
    id,
    startedAt: Number(fields.started_at),
    deadline: Number(fields.deadline),
    generated: Number(fields.generated),
    address: fields.address || null,
    owner: fields.owner || null,
  });

  return {
    shared: true,
    async start(session, { maxSessions, maxPerAddress }) {
      const reply = await reachable(() =>
        scripts.livetableStart(
          ...common(),
          session.id,
          session.deadline,
          session.startedAt,
          session.address ?? '',
          session.owner ?? '',
          maxSessions,
          maxPerAddress,
        ),
      );
      if (reply[0] !== 'ok') {
        throw new SessionLimitReached(reply[0] as 'all' | 'address', Number(reply[1]), Number(reply[2]));
      }
    },
    end: (id, reason: EndReason) => reachable(() => scripts.livetableEnd(...common(), id, reason)),
    async find(id) {
      const fields = await reachable(() => redis.hgetall(keys.session(id)));
      if (fields.deadline === undefined) return undefined;
      return fields.ended === undefined ? recordOf(id, fields) : 'ended';
    },
    async active() {
      const ids = await reachable(() => redis.zrange(keys.sessions, 0, -1));
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(keys.session(id));
      const replies = (await reachable(() => pipeline.exec())) ?? [];
      const sessions: SessionRecord[] = [];
      replies.forEach(([err, fields], i) => {
        const record = fields as Record<string, string>;
        if (!err && record.deadline !== undefined && record.ended === undefined) {
          sessions.push(recordOf(ids[i] as string, record));
        }
      });
      return sessions.sort((a, b) => a.startedAt - b.startedAt);
    },
    count: () => reachable(() => scripts.livetableCount(...common())),
    async lease(id, ttlMs) {
      return (await reachable(() => scripts.livetableLease(keys.lease(id), keys.session(id), nodeId, ttlMs))) === 1;
    },
    async release(id) {
      await reachable(() => scripts.livetableRelease(keys.lease(id), nodeId));
    },
    ends$,
  };
}
