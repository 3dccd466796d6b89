import {
  asyncScheduler,
  concatMap,
  defer,
  filter,
  finalize,
  from,
  interval,
  map,
  merge,
  Observable,
  share,
  shareReplay,
  take,
  takeUntil,
  tap,
  timer,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { EndReason, HeartbeatEvent } from '../../shared/protocol.js';

/**
 * Ticks that may wait for a commit still out; more are skipped. A commit
 * slower than a tick now and then (a shared store's fsync) costs no change,
 * and a store that stalls gets at most this many commits, one after
 * another, when it answers, never a backlog of the whole stall.
 */
export const MAX_LATE_TICKS = 8;

/**
 * Like concatMap (one inner at a time, in order), but keeps at most
 * `maxWaiting` values waiting for the inner still running and drops the rest.
 */
export function concatMapBounded<T, R>(
  project: (value: T) => ObservableInput<R>,
  maxWaiting: number,
): OperatorFunction<T, R> {
  return (source) =>
    defer(() => {
      let accepted = 0; // running, or waiting to run
      return source.pipe(
        filter(() => accepted <= maxWaiting),
        tap(() => accepted++),
        concatMap((value) => from(project(value)).pipe(finalize(() => accepted--))),
      );
    });
}

/**
 * Ticks every `period` ms on a grid fixed when subscribed: a tick that runs
 * late does not push the next ones back, as `interval` does (a timer
 * rescheduled from a late callback counts from its lateness: a 10 ms session
 * whose writes ran first every other tick made 67 changes a second, not
 * 100). Slots the event loop slept through are made up one after another,
 * at most `maxLate` of them; the rest are skipped.
 */
export function steadyTicks(period: number, scheduler: SchedulerLike, maxLate: number): Observable<number> {
  // Real time on a monotonic clock: a wall clock set forward would look
  // like slots slept through, and be made up in a burst.
  const now = scheduler === asyncScheduler ? () => performance.now() : () => scheduler.now();
  return new Observable<number>((subscriber) => {
    const origin = now();
    let slot = 1;
    let tick = 0;
    return scheduler.schedule(function () {
      subscriber.next(tick++);
      const at = now();
      slot++;
      const behind = Math.floor((at - origin) / period) + 1 - slot;
      if (behind > maxLate) slot += behind - maxLate;
      // A timer may fire a little early by this clock: never wait over a period.
      this.schedule(undefined, Math.min(period, Math.max(0, origin + slot * period - at)));
    }, period);
  });
}

export interface SessionPipelineOptions<T> {
  /**
   * One generator step: commits the tick's changes and emits the last one,
   * or undefined when nothing changed. It may take longer than a tick (a
   * commit to a shared store): up to MAX_LATE_TICKS ticks that come
   * meanwhile wait for it, the rest are skipped.
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

/** A heartbeat every `period` ms, stamped with the scheduler's clock: a session's, or the watch streams'. */
export function heartbeats(period: number, scheduler: SchedulerLike): Observable<HeartbeatEvent> {
  return interval(period, scheduler).pipe(
    map((): HeartbeatEvent => ({ type: 'heartbeat', timestamp: new Date(scheduler.now()).toISOString() })),
  );
}

/** The life of one session as observables; it does no I/O of its own. */
export function sessionPipeline<T>(options: SessionPipelineOptions<T>): SessionPipeline<T> {
  const { mutate, updateInterval, heartbeatInterval, ended$, deadline, scheduler } = options;

  const end$ = ended$.pipe(take(1), shareReplay({ bufferSize: 1, refCount: true }));

  // One commit at a time. Neither exhaustMap, which skips every tick that
  // comes while a commit is out (on Redis with fsync always, commits average
  // 4.5 ms but a quarter take over 10: a session of 10 ms ticks lost a
  // quarter of its changes), nor concatMap, whose
  // queue grows without bound while a store stalls.
  const mutations$ = steadyTicks(updateInterval, scheduler, MAX_LATE_TICKS).pipe(
    concatMapBounded(() => mutate(), MAX_LATE_TICKS),
    filter((change): change is T => change !== undefined),
    // The store ends a session at its deadline; nothing is made after it meanwhile.
    takeUntil(timer(new Date(deadline), scheduler)),
  );
  const heartbeats$ = heartbeats(heartbeatInterval, scheduler);

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
