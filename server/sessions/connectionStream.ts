import { concat, defer, filter, from, map, merge, of, takeUntil, type Observable } from 'rxjs';
import { END_MESSAGES, type ChangeEvent, type InitEvent, type StreamEvent } from '../protocol.js';
import type { TableStore } from '../store/tableStore.js';
import type { SessionPipeline } from './sessionPipeline.js';

export interface ConnectionStreamOptions {
  store: Pick<TableStore, 'rows' | 'version' | 'since' | 'changes$'>;
  sessionId: string;
  session: SessionPipeline<unknown>;
  /** The last `seq` the client holds (Last-Event-ID or `?since=`), if any. */
  cursor: number | undefined;
  heartbeatInterval: number;
  now: () => number;
}

/**
 * What one SSE connection sends: the changes the client missed (or a fresh
 * `init` when history no longer reaches back), then every change as it is
 * committed, with the session's heartbeats, until the session ends with `end`.
 */
export function connectionStream(options: ConnectionStreamOptions): Observable<StreamEvent> {
  const { store, sessionId, session, cursor, heartbeatInterval, now } = options;

  // Backlog and live changes are taken in one synchronous step, so no change
  // can fall between them: no gap, and the seq filter rules out duplicates.
  const changes$ = defer((): Observable<StreamEvent> => {
    const backlog = cursor === undefined ? undefined : store.since(cursor);
    if (backlog !== undefined) {
      const last = backlog.at(-1)?.seq ?? (cursor as number);
      return concat(from(backlog), after(store.changes$, last));
    }
    const init: InitEvent = {
      type: 'init',
      session_id: sessionId,
      data: store.rows(),
      version: store.version,
      timestamp: new Date(now()).toISOString(),
      heartbeat_interval: heartbeatInterval,
    };
    return concat(of(init), after(store.changes$, init.version));
  });

  const heartbeats$ = session.events$.pipe(filter((event) => isHeartbeat(event)));
  const end$ = session.end$.pipe(
    map((reason): StreamEvent => ({ type: 'end', session_id: sessionId, reason, message: END_MESSAGES[reason] })),
  );
  return merge(merge(changes$, heartbeats$).pipe(takeUntil(session.end$)), end$);
}

function after(changes$: Observable<ChangeEvent>, seq: number): Observable<ChangeEvent> {
  return changes$.pipe(filter((change) => change.seq > seq));
}

function isHeartbeat(event: unknown): event is StreamEvent {
  return typeof event === 'object' && event !== null && (event as { type?: unknown }).type === 'heartbeat';
}
