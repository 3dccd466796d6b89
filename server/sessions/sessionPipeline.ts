import {
  filter,
  interval,
  map,
  merge,
  race,
  share,
  shareReplay,
  take,
  takeUntil,
  timer,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import type { EndReason, HeartbeatEvent } from '../protocol.js';

export interface SessionPipelineOptions<T> {
  /** One generator step; undefined when there was nothing to change. */
  mutate: () => T | undefined;
  /** Milliseconds between generator steps. */
  updateInterval: number;
  /** Milliseconds between heartbeats. */
  heartbeatInterval: number;
  /** Emits when the session is stopped. */
  stop$: Observable<unknown>;
  /** Absolute time, in the scheduler's clock, at which the session times out. */
  deadline: number;
  scheduler: SchedulerLike;
}

export interface SessionPipeline<T> {
  /**
   * The generator's changes merged with heartbeats. One generator runs however
   * many streams subscribe, while at least one does (and for one heartbeat
   * interval after the last one leaves).
   */
  events$: Observable<T | HeartbeatEvent>;
  /** Emits once, why the session ended, and replays it to late subscribers. */
  end$: Observable<EndReason>;
}

/** The life of one session as observables; it does no I/O of its own. */
export function sessionPipeline<T>(options: SessionPipelineOptions<T>): SessionPipeline<T> {
  const { mutate, updateInterval, heartbeatInterval, stop$, deadline, scheduler } = options;

  const end$ = race(
    stop$.pipe(map((): EndReason => 'stopped')),
    timer(new Date(deadline), scheduler).pipe(map((): EndReason => 'timeout')),
  ).pipe(take(1), shareReplay({ bufferSize: 1, refCount: true }));

  const mutations$ = interval(updateInterval, scheduler).pipe(
    map(() => mutate()),
    filter((change): change is T => change !== undefined),
  );
  const heartbeats$ = interval(heartbeatInterval, scheduler).pipe(
    map((): HeartbeatEvent => ({ type: 'heartbeat', timestamp: new Date(scheduler.now()).toISOString() })),
  );

  // When the last stream goes, the generator stops one heartbeat interval
  // later, not at once: a client that reconnects within that time finds it
  // still running, so reconnecting clients cannot starve it.
  // Once ended it stays ended: not resetting on completion also keeps the
  // streams' unsubscribing from starting a grace timer for a finished session.
  const events$ = merge(mutations$, heartbeats$).pipe(
    takeUntil(end$),
    share({ resetOnComplete: false, resetOnRefCountZero: () => timer(heartbeatInterval, scheduler) }),
  );
  return { events$, end$ };
}
