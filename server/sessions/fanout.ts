import { filter, Subscription, type Observable } from 'rxjs';
import { formatEvent, type Sink } from '../http/sse.js';
import {
  END_MESSAGES,
  type ChangeEvent,
  type EndReason,
  type HeartbeatEvent,
  type InitEvent,
  type StreamEvent,
} from '../../shared/protocol.js';
import type { TableStore } from '../store/tableStore.js';
import { NO_METER, type Meter } from './meter.js';
import { originOf } from './origin.js';

/** What the fan-out needs of a session: its heartbeats and its end. */
export interface FanoutSession {
  /** Groups the session's streams. */
  readonly id: string;
  /**
   * What `init` names as its session: the id, or null on the watch stream.
   * Only a session's own streams get its id; `init` gives them its origin too.
   */
  readonly initSessionId: string | null;
  /** Subscribing keeps the session's generator running. */
  readonly events$: Observable<unknown>;
  readonly end$: Observable<EndReason>;
}

export interface FanoutOptions {
  store: Pick<TableStore, 'rows' | 'version' | 'since' | 'changes$' | 'resets$'>;
  heartbeatInterval: number;
  /**
   * Streams get at most one write of changes per this many milliseconds
   * (`--flush-interval`): a change after a quiet spell goes out at once, the
   * ones that follow it within the interval wait for it to pass and go out
   * together. 0: every turn of the event loop writes what it committed.
   */
  flushInterval?: number;
  now: () => number;
  /** A session's events failed (a bug): its streams are cut, and this is told why. */
  onError: (error: unknown, sessionId: string) => void;
  meter?: Meter;
}

interface Member {
  sink: Sink;
  /** The newest seq this sink already has; it gets only later changes. */
  after: number;
}

interface Group {
  members: Set<Member>;
  subscription: Subscription;
}

/** A change in the current batch, serialized once for every delta and full sink. */
interface Pending {
  seq: number;
  /** Epoch ms of its commit. */
  committedAt: number;
  frame: string;
  full: string | undefined;
}

export type Fanout = ReturnType<typeof createFanout>;

/**
 * Delivers the table's changes to every open stream. It holds one
 * subscription to the store's feed for all streams: each change is
 * serialized once, the changes of one run of the event loop (one generator
 * tick) are joined once, and every stream gets that text in a single write,
 * each change still its own SSE message with its own id. A stream costs
 * nothing per change beyond its write. Per session it relays heartbeats and
 * the final `end`.
 */
export function createFanout({
  store,
  heartbeatInterval,
  flushInterval = 0,
  now,
  onError,
  meter = NO_METER,
}: FanoutOptions) {
  const deltaMembers = new Set<Member>();
  const fullMembers = new Set<Member>();
  const groups = new Map<string, Group>();
  let batch: Pending[] = [];
  /** Cancels the batch's pending write, while one is pending. */
  let cancelFlush: (() => void) | undefined;
  /** When the last batch was written (performance.now()). */
  let flushedAt = Number.NEGATIVE_INFINITY;
  // A reconnect burst asks for the same table many times; a big table's init
  // is megabytes of JSON, so the newest is kept until the table moves on: one
  // for the watch streams and one for a session's, so neither evicts the other.
  const lastInits = new Map<'watch' | 'session', { sessionId: string | null; version: number; frame: string }>();
  // History entries are the same objects a replay sends again, so each is
  // serialized once however many clients resume through it.
  const frames = new WeakMap<ChangeEvent, string>();

  const frameOf = (change: ChangeEvent): string => {
    let frame = frames.get(change);
    if (frame === undefined) frames.set(change, (frame = formatEvent(change)));
    return frame;
  };

  const feed = store.changes$.subscribe((change) => {
    if (deltaMembers.size === 0 && fullMembers.size === 0) return;
    batch.push({
      seq: change.seq,
      committedAt: Date.parse(change.timestamp),
      frame: frameOf(change),
      // The table as it is right after this change, as the original demo sent it.
      full: fullMembers.size === 0 ? undefined : formatEvent({ ...change, table_data: store.rows() }),
    });
    // After every promise of this turn has settled: a tick's changes are
    // committed one after another (each awaited), and still go out in one
    // write. So do the ticks that come within the flush interval of a write.
    if (cancelFlush !== undefined) return;
    const wait = flushedAt + flushInterval - performance.now();
    if (wait > 0) {
      const timer = setTimeout(flush, Math.ceil(wait));
      cancelFlush = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(flush);
      cancelFlush = () => clearImmediate(immediate);
    }
  });

  // A table loaded anew cannot be continued from: every stream is cut, and
  // its client reconnects to a fresh init (its cursor is older than the table).
  const resets = store.resets$.subscribe(() => {
    batch = [];
    lastInits.clear();
    const cut = [...deltaMembers, ...fullMembers];
    deltaMembers.clear();
    fullMembers.clear();
    for (const member of cut) member.sink.destroy();
  });

  const deliver = (members: Set<Member>, entries: Pending[], pick: (entry: Pending) => string | undefined) => {
    if (members.size === 0) return;
    const first = (entries[0] as Pending).seq;
    // Encoded once for every stream: a string would be encoded again by each write.
    let text: Buffer | undefined;
    let whole = 0;
    for (const member of members) {
      if (member.after < first) {
        text ??= Buffer.from(entries.map(pick).join(''));
        member.sink.send(text, entries.length);
        whole++;
      } else {
        // Joined while this batch was open: it already has the older changes.
        const newer = entries.filter((entry) => entry.seq > member.after && pick(entry) !== undefined);
        if (newer.length > 0) {
          const part = newer.map(pick).join('');
          member.sink.send(part, newer.length);
          meter.delivered(newer.length, 1, Buffer.byteLength(part));
        }
      }
      member.after = Number.NEGATIVE_INFINITY;
    }
    if (text !== undefined) meter.delivered(entries.length, whole, text.length * whole);
  };

  function flush(): void {
    // Called early by a session's end, the pending write has nothing left to do.
    cancelFlush?.();
    cancelFlush = undefined;
    if (batch.length === 0) return;
    const entries = batch;
    batch = [];
    flushedAt = performance.now();
    const at = Date.now();
    for (const entry of entries) meter.lag((at - entry.committedAt) / 1000);
    deliver(deltaMembers, entries, (entry) => entry.frame);
    deliver(fullMembers, entries, (entry) => entry.full);
  }

  const initFrame = (sessionId: string | null): string => {
    const version = store.version;
    const slot = sessionId === null ? 'watch' : 'session';
    let lastInit = lastInits.get(slot);
    if (lastInit?.sessionId !== sessionId || lastInit.version !== version) {
      const init: InitEvent = {
        type: 'init',
        session_id: sessionId,
        // So a page can tell its session's changes, which carry only the origin.
        origin: sessionId === null ? null : originOf(sessionId),
        data: store.rows(),
        version,
        timestamp: new Date(now()).toISOString(),
        heartbeat_interval: heartbeatInterval,
      };
      lastInit = { sessionId, version, frame: formatEvent(init) };
      lastInits.set(slot, lastInit);
    }
    return lastInit.frame;
  };

  /** The session's streams; the first one subscribes to its heartbeats and end. */
  const join = (session: FanoutSession, member: Member): void => {
    const existing = groups.get(session.id);
    if (existing) {
      existing.members.add(member);
      return;
    }
    const group: Group = { members: new Set([member]), subscription: new Subscription() };
    groups.set(session.id, group);
    group.subscription.add(
      session.events$
        .pipe(filter((event): event is HeartbeatEvent => (event as StreamEvent | undefined)?.type === 'heartbeat'))
        .subscribe({
          next: (heartbeat) => {
            const frame = Buffer.from(formatEvent(heartbeat));
            for (const { sink } of group.members) sink.send(frame, 1);
          },
          error: (error: unknown) => {
            onError(error, session.id);
            // The session cannot go on; its clients reconnect and learn its fate.
            groups.delete(session.id);
            for (const member of group.members) {
              deltaMembers.delete(member);
              fullMembers.delete(member);
              member.sink.destroy();
            }
            group.members.clear();
            group.subscription.unsubscribe();
          },
        }),
    );
    group.subscription.add(
      session.end$.subscribe((reason) => {
        // Changes committed before the end go out before it.
        flush();
        const frame = formatEvent({
          type: 'end',
          session_id: session.id,
          reason,
          message: END_MESSAGES[reason],
          timestamp: new Date(now()).toISOString(),
        });
        // The session's events complete by themselves now; unsubscribing
        // here would only start the generator's grace period for nothing.
        groups.delete(session.id);
        for (const member of group.members) {
          deltaMembers.delete(member);
          fullMembers.delete(member);
          member.sink.end(frame);
        }
        group.members.clear();
      }),
    );
  };

  const leave = (sessionId: string, member: Member) => {
    deltaMembers.delete(member);
    fullMembers.delete(member);
    const group = groups.get(sessionId);
    if (!group?.members.delete(member)) return;
    if (group.members.size === 0) {
      groups.delete(sessionId);
      // The session's generator runs on for one heartbeat interval, so a
      // client reconnecting within it finds it still running.
      group.subscription.unsubscribe();
    }
  };

  return {
    /**
     * Starts a stream of `session` on `sink`: the changes after `cursor` (or a
     * fresh `init` when history no longer reaches back, or without a cursor),
     * then every change as it is committed, with the session's heartbeats,
     * until the session's `end`. Returns the function that takes it out.
     * Full sinks never replay history: a change's table is the one at its time.
     */
    open(session: FanoutSession, sink: Sink, cursor: number | undefined): () => void {
      // The start and the registration are one synchronous step, so no change
      // falls between them, and `after` rules out duplicates.
      const backlog = cursor === undefined || sink.full ? undefined : store.since(cursor);
      let after: number;
      if (backlog === undefined) {
        sink.send(initFrame(session.initSessionId), 1);
        after = store.version;
      } else {
        if (backlog.length > 0) sink.send(backlog.map(frameOf).join(''), backlog.length);
        after = backlog.at(-1)?.seq ?? (cursor as number);
      }
      const member: Member = { sink, after };
      (sink.full ? fullMembers : deltaMembers).add(member);
      join(session, member);
      return () => leave(session.id, member);
    },

    /** Streams open on this node, every group's. */
    get size(): number {
      let open = 0;
      for (const group of groups.values()) open += group.members.size;
      return open;
    },

    /** Streams open in one group: a session's (by its id), or the watch streams'. */
    sizeOf(groupId: string): number {
      return groups.get(groupId)?.members.size ?? 0;
    },

    /** Messages written to open streams that their clients have not read yet. */
    get pending(): number {
      let pending = 0;
      for (const group of groups.values()) for (const { sink } of group.members) pending += sink.pending;
      return pending;
    },

    /** Cuts every open stream: to its client that means "reconnect" (a shutdown). */
    cutAll(): void {
      for (const group of groups.values()) for (const { sink } of [...group.members]) sink.destroy();
    },

    /** Sessions (and the watch group) with a stream open. */
    get groups(): number {
      return groups.size;
    },

    close(): void {
      cancelFlush?.();
      cancelFlush = undefined;
      feed.unsubscribe();
      resets.unsubscribe();
      for (const group of groups.values()) group.subscription.unsubscribe();
      groups.clear();
      deltaMembers.clear();
      fullMembers.clear();
    },
  };
}
