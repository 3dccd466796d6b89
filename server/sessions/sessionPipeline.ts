import {
  exhaustMap,
  filter,
  from,
  interval,
  map,
  merge,
  share,
  shareReplay,
  take,
  takeUntil,
  timer,
  type Observable,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import type { EndReason, HeartbeatEvent } from '../protocol.js';

export interface SessionPipelineOptions<T> {
  /**
   * One generator step: commits the tick's changes and emits the last one,
   * or undefined when nothing changed. It may take longer than a tick (a
   * commit to a shared store): ticks that come meanwhile are skipped, so a
   * slow store gets one tick's work at a time and no backlog.
   */
  mutate: () => ObservableInput<T | undefined>;
  /** Milliseconds between generator steps. */
  updateInterval: number;
  /** Milliseconds between heartbeats. */
  heartbeatInterval: number;
  /** The session's end as its store reports it (a stop or the timeout, from any node). */
  ended$: Observable<EndReason>;
  /** Absolute time, in the scheduler's clock, after which the generator makes no change. */
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
  const { mutate, updateInterval, heartbeatInterval, ended$, deadline, scheduler } = options;

  const end$ = ended$.pipe(take(1), shareReplay({ bufferSize: 1, refCount: true }));

  // exhaustMap, not concatMap: ticks that come while a commit is out are
  // dropped, not queued, so a store that stalls for a second does not get a
  // second's worth of commits at once when it answers.
  const mutations$ = interval(updateInterval, scheduler).pipe(
    exhaustMap(() => from(mutate())),
    filter((change): change is T => change !== undefined),
    // The store ends a session at its deadline; nothing is made after it meanwhile.
    takeUntil(timer(new Date(deadline), scheduler)),
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
