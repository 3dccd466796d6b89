import {
  NEVER,
  asyncScheduler,
  Subject,
  Subscription,
  count,
  map,
  type Observable,
  type ObservableInput,
  type SchedulerAction,
  type SchedulerLike,
} from 'rxjs';
import type { EndReason } from '../../shared/protocol.js';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it, vi } from 'vitest';
import { MAX_LATE_TICKS, sessionPipeline, steadyTicks } from './sessionPipeline.js';

function setup() {
  const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  let generated = 0;
  const make = (
    stop$: Observable<unknown>,
    options: {
      updateInterval?: number;
      heartbeatInterval?: number;
      deadline?: number;
      mutate?: (n: number) => ObservableInput<string | undefined>;
    } = {},
  ) =>
    sessionPipeline<string>({
      mutate: () => options.mutate?.(++generated) ?? [`c${++generated}`],
      updateInterval: options.updateInterval ?? 20,
      heartbeatInterval: options.heartbeatInterval ?? 50,
      ended$: stop$.pipe(map((reason): EndReason => (reason === 'timeout' ? 'timeout' : 'stopped'))),
      deadline: options.deadline ?? 300_000,
      scheduler: testScheduler,
    });
  return { testScheduler, make, generated: () => generated };
}

/** Heartbeats carry the scheduler's clock: frame n is the epoch plus n ms. */
const hb = (ms: number) => ({ type: 'heartbeat', timestamp: new Date(ms).toISOString() });

describe('sessionPipeline', () => {
  it('emits a change every update interval and a heartbeat every heartbeat interval', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ cold, expectObservable }) => {
      const { events$ } = make(cold('-'));
      expectObservable(events$, '^ 110ms !').toBe('20ms a 19ms b 9ms h 9ms c 19ms d 19ms (je)', {
        a: 'c1',
        b: 'c2',
        c: 'c3',
        d: 'c4',
        e: 'c5',
        h: hb(50),
        j: hb(100),
      });
    });
  });

  it('runs one generator for all its subscribers (share)', () => {
    const { testScheduler, make, generated } = setup();
    testScheduler.run(({ cold, expectObservable, flush }) => {
      const { events$ } = make(cold('-'), { heartbeatInterval: 1000 });
      const expected = '20ms a 19ms b 19ms c';
      expectObservable(events$, '^ 60ms !').toBe(expected, { a: 'c1', b: 'c2', c: 'c3' });
      expectObservable(events$, '^ 60ms !').toBe(expected, { a: 'c1', b: 'c2', c: 'c3' });
      let atSixty = 0;
      cold('61ms x').subscribe(() => (atSixty = generated()));
      flush();
      expect(atSixty).toBe(3);
    });
  });

  it('stops generating one heartbeat interval after the last subscriber leaves', () => {
    const { testScheduler, make, generated } = setup();
    testScheduler.run(({ cold, expectObservable, flush }) => {
      const { events$ } = make(cold('-'), { heartbeatInterval: 50 });
      expectObservable(events$, '^ 45ms !').toBe('20ms a 19ms b', { a: 'c1', b: 'c2' });
      // Nobody listens from 45 ms; the generator still ticks at 60 and 80 and stops at 95.
      expectObservable(events$, '200ms ^ 25ms !').toBe('200ms 20ms c', { c: 'c5' });
      let before = 0;
      cold('199ms x').subscribe(() => (before = generated()));
      flush();
      expect(before).toBe(4);
    });
  });

  it('keeps its rhythm for a subscriber that comes back within the grace', () => {
    const { testScheduler, make, generated } = setup();
    testScheduler.run(({ cold, expectObservable, flush }) => {
      const { events$ } = make(cold('-'), { heartbeatInterval: 50 });
      expectObservable(events$, '^ 45ms !').toBe('20ms a 19ms b', { a: 'c1', b: 'c2' });
      expectObservable(events$, '70ms ^ 25ms !').toBe('70ms 10ms d', { d: 'c4' });
      flush();
      // c3 at 60 went unseen; after the second leaves at 95, the grace runs to 145.
      expect(generated()).toBe(7);
    });
  });

  it('completes when stopped, ends with reason "stopped", and unsubscribes from stop$', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const stop$ = hot('50ms s');
      const { events$, end$ } = make(stop$, { heartbeatInterval: 1000 });
      expectObservable(events$).toBe('20ms a 19ms b 9ms |', { a: 'c1', b: 'c2' });
      expectObservable(end$).toBe('50ms (r|)', { r: 'stopped' });
      expectSubscriptions(stop$.subscriptions).toBe('^ 49ms !');
    });
  });

  it('commits one tick at a time: a tick that comes while a commit is out waits for it, and is not lost', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ cold, expectObservable }) => {
      // The first commit takes 30 ms against a 20 ms tick, the rest 5 ms: the
      // tick at 40 commits when the first is done (50-55), then 60, 80 on time.
      const { events$ } = make(cold('-'), {
        heartbeatInterval: 1000,
        mutate: (n) => cold(n === 1 ? '30ms (x|)' : '5ms (x|)', { x: `c${n}` }),
      });
      expectObservable(events$, '^ 90ms !').toBe('50ms a 4ms b 9ms c 19ms d', { a: 'c1', b: 'c2', c: 'c3', d: 'c4' });
    });
  });

  it('keeps at most MAX_LATE_TICKS ticks waiting for a slow commit and skips the rest', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ cold, expectObservable }) => {
      // A store that stalls: the first commit takes 190 ms against a 20 ms tick.
      // Of the nine ticks meanwhile (40..200) MAX_LATE_TICKS wait and commit
      // one after another when it answers at 210 (1 ms each); the rest are skipped.
      const { events$ } = make(cold('-'), {
        heartbeatInterval: 1000,
        mutate: (n) => cold(n === 1 ? '190ms (x|)' : '1ms (x|)', { x: `c${n}` }),
      });
      const keys = 'abcdefghi'.slice(0, MAX_LATE_TICKS + 1);
      const values = Object.fromEntries([...keys].map((key, i) => [key, `c${i + 1}`]));
      expectObservable(events$, '^ 219ms !').toBe(`210ms ${keys}`, values);
    });
  });

  it('goes on with the next tick after a step that changed nothing or failed to commit', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ cold, expectObservable }) => {
      const { events$ } = make(cold('-'), {
        heartbeatInterval: 1000,
        mutate: (n) => cold('5ms (x|)', { x: n === 2 ? undefined : `c${n}` }),
      });
      expectObservable(events$, '^ 70ms !').toBe('25ms a 39ms c', { a: 'c1', c: 'c3' });
    });
  });

  it('makes no change after its deadline while the end is on its way, and keeps beating', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ cold, expectObservable }) => {
      const { events$ } = make(cold('135ms t'), { heartbeatInterval: 50, deadline: 90 });
      expectObservable(events$).toBe('20ms a 19ms b 9ms h 9ms c 19ms d 19ms i 34ms |', {
        a: 'c1',
        b: 'c2',
        c: 'c3',
        d: 'c4',
        h: hb(50),
        i: hb(100),
      });
    });
  });

  it('times out at its deadline, counted in virtual time, with reason "timeout"', () => {
    const { testScheduler, make, generated } = setup();
    testScheduler.run(({ cold, expectObservable, flush }) => {
      // The store ends it at its deadline (in the cluster, whichever node gets there first).
      const ended$ = cold('300000ms t', { t: 'timeout' });
      const { events$, end$ } = make(ended$, { updateInterval: 2000, heartbeatInterval: 10_000, deadline: 300_000 });
      // 300 s at one change per 2 s and one heartbeat per 10 s. At the deadline
      // itself the deadline wins: its timer was scheduled first.
      expectObservable(events$.pipe(count())).toBe('300000ms (n|)', { n: 149 + 29 });
      expectObservable(end$).toBe('300000ms (r|)', { r: 'timeout' });
      flush();
      expect(generated()).toBe(149);
    });
  });

  it('keeps the deadline fixed, however late the first subscriber comes', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ cold, expectObservable }) => {
      const { events$ } = make(cold('-'), { updateInterval: 100, heartbeatInterval: 10_000, deadline: 1000 });
      // Its ticks would come at 1000 and 1100: both are past the deadline.
      expectObservable(events$, '900ms ^ 300ms !').toBe('');
    });
  });

  it('replays why it ended to a late subscriber', () => {
    const { testScheduler, make } = setup();
    testScheduler.run(({ hot, expectObservable }) => {
      const stop$ = new Subject<void>();
      const { end$ } = make(stop$);
      hot('10ms s').subscribe(() => stop$.next());
      end$.subscribe();
      expectObservable(end$, '30ms ^').toBe('30ms (r|)', { r: 'stopped' });
    });
  });
});

/**
 * Timers as Node's event loop runs them, in virtual time: a callback runs
 * when it is due or when the one before it is done, whichever is later, and
 * a timer rescheduled from inside its callback counts from when that
 * callback started (as Node's setInterval does).
 */
class BusyLoop implements SchedulerLike {
  private clock = 0;
  private order = 0;
  private readonly queue: { due: number; order: number; run: () => void }[] = [];

  now(): number {
    return this.clock;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay = 0, state?: T): Subscription {
    const subscription = new Subscription();
    const enqueue = (value: T, after: number) =>
      this.queue.push({
        due: this.clock + after,
        order: this.order++,
        run: () => {
          if (!subscription.closed) work.call(action, value);
        },
      });
    const action = {
      schedule: (next?: T, nextDelay = 0) => {
        enqueue(next as T, nextDelay);
        return subscription;
      },
    } as unknown as SchedulerAction<T>;
    enqueue(state as T, delay);
    return subscription;
  }

  /** Runs a callback that blocks the loop for `ms`, in `delay` ms. */
  busyIn(delay: number, ms: number): void {
    this.schedule(() => {
      this.clock += ms;
    }, delay);
  }

  runUntil(end: number): void {
    for (;;) {
      this.queue.sort((a, b) => a.due - b.due || a.order - b.order);
      const next = this.queue[0];
      if (next === undefined || next.due > end) return;
      this.queue.shift();
      this.clock = Math.max(this.clock, next.due);
      next.run();
    }
  }
}

describe('steadyTicks in real time', () => {
  it('makes no burst when the wall clock is set forward', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const ticks: number[] = [];
      const subscription = steadyTicks(100, asyncScheduler, MAX_LATE_TICKS).subscribe(() => ticks.push(Date.now()));
      vi.advanceTimersByTime(350);
      vi.setSystemTime(Date.now() + 3_600_000);
      vi.advanceTimersByTime(250);
      subscription.unsubscribe();
      // 100, 200, 300, then 400, 500 and 600: one a period, none made up.
      expect(ticks).toHaveLength(6);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('sessionPipeline on a busy event loop', () => {
  it('keeps its update interval when its ticks run late, and makes up a few slots the loop slept through', () => {
    const loop = new BusyLoop();
    // Each change is written to every stream 20 ms later, with the changes
    // that came meanwhile, in a write that blocks the loop for 8 ms: the
    // write is due with the next tick but the one, and runs first.
    let changes = 0;
    let writePending = false;
    const { events$ } = sessionPipeline<string>({
      mutate: () => {
        if (!writePending) {
          writePending = true;
          loop.busyIn(20, 8);
          loop.schedule(() => (writePending = false), 20);
        }
        return [`c${++changes}`];
      },
      updateInterval: 10,
      heartbeatInterval: 60_000,
      ended$: NEVER,
      deadline: 60_000,
      scheduler: loop,
    });
    const subscription = events$.subscribe();
    loop.runUntil(1000);
    // 100 a second, as asked (setInterval's rhythm slips by each late start: 72).
    expect(changes).toBeGreaterThanOrEqual(99);
    // A loop blocked for 55 ms makes the five ticks it slept through when it wakes.
    loop.busyIn(5, 55);
    let before = changes;
    loop.runUntil(1100);
    expect(changes - before).toBe(10);
    // One blocked from 1105 to 2105 makes its late tick and MAX_LATE_TICKS
    // more, skips the rest, and is back on the grid at 2110.
    loop.busyIn(5, 1000);
    before = changes;
    loop.runUntil(2200);
    expect(changes - before).toBe(1 + MAX_LATE_TICKS + 10);
    subscription.unsubscribe();
  });
});
