import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../protocol.js';
import { createMemoryStore } from '../store/memoryStore.js';
import { connectionStream } from './connectionStream.js';
import { sessionPipeline } from './sessionPipeline.js';

const SID = 'AAAAAAAAAAAAAAAA';
const meta = { session_id: SID, generation_count: 1, timestamp: '2026-01-01T00:00:00.000Z' };

function setup(history = 100) {
  const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const store = createMemoryStore({
    history,
    initialRows: [{ name: '张三', age: 30, city: '北京', score: 80, status: '活跃' }],
  });
  let score = 60;
  const update = (): ChangeEvent => store.commit({ type: 'update', id: 1, patch: { score: score++ } }, meta);
  // Counts who listens to the store's feed, to prove a stream lets go of it.
  let feedListeners = 0;
  const feed$ = new Observable<ChangeEvent>((subscriber) => {
    feedListeners++;
    const inner = store.changes$.subscribe(subscriber);
    return () => {
      feedListeners--;
      inner.unsubscribe();
    };
  });
  const countedStore = {
    rows: () => store.rows(),
    since: (seq: number) => store.since(seq),
    changes$: feed$,
    get version() {
      return store.version;
    },
  };
  const open = (
    stop$: Observable<unknown>,
    cursor: number | undefined,
    mutate: () => ChangeEvent | undefined = update,
  ) => {
    const session = sessionPipeline({
      mutate,
      updateInterval: 10,
      heartbeatInterval: 25,
      stop$,
      deadline: 10_000,
      scheduler: testScheduler,
    });
    return connectionStream({
      store: countedStore,
      sessionId: SID,
      session,
      cursor,
      heartbeatInterval: 25,
      now: () => testScheduler.now(),
    });
  };
  return { testScheduler, store, update, open, feedListeners: () => feedListeners };
}

describe('connectionStream', () => {
  it('starts with init holding the table and version, then every change and heartbeat, then end', () => {
    const { testScheduler, open } = setup();
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(open(hot('35ms s'), undefined)).toBe('i 9ms a 9ms b 4ms h 4ms c 4ms (e|)', {
        i: expect.objectContaining({
          type: 'init',
          version: 0,
          data: [expect.objectContaining({ id: 1 })],
          heartbeat_interval: 25,
        }),
        a: expect.objectContaining({ type: 'update', seq: 1 }),
        b: expect.objectContaining({ type: 'update', seq: 2 }),
        h: { type: 'heartbeat', timestamp: new Date(25).toISOString() },
        c: expect.objectContaining({ type: 'update', seq: 3 }),
        e: { type: 'end', session_id: SID, reason: 'stopped', message: '数据生成已结束' },
      });
    });
  });

  it('resumes after a cursor with exactly the missed changes, no init, no duplicate', () => {
    const { testScheduler, open, update } = setup();
    for (let i = 0; i < 5; i++) update(); // seq 1..5 happen while the client is away
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(open(hot('15ms s'), 2)).toBe('(cde) 5ms f 4ms (z|)', {
        c: expect.objectContaining({ seq: 3 }),
        d: expect.objectContaining({ seq: 4 }),
        e: expect.objectContaining({ seq: 5 }),
        f: expect.objectContaining({ seq: 6 }),
        z: expect.objectContaining({ type: 'end' }),
      });
    });
  });

  it('carries changes made by other sessions, in seq order', () => {
    const { testScheduler, open, update } = setup();
    testScheduler.run(({ hot, cold, expectObservable }) => {
      cold('5ms x 9ms x').subscribe(() => update()); // another session's generator
      const idle = () => undefined; // this session makes no changes itself
      expectObservable(open(hot('20ms s'), 0, idle)).toBe('5ms a 9ms b 4ms (z|)', {
        a: expect.objectContaining({ seq: 1 }),
        b: expect.objectContaining({ seq: 2 }),
        z: expect.objectContaining({ type: 'end' }),
      });
    });
  });

  it('sends a fresh init when the cursor is older than the history', () => {
    const { testScheduler, open, update, store } = setup(100);
    for (let i = 0; i < 250; i++) update();
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(open(hot('5ms s'), 10)).toBe('i 4ms (z|)', {
        i: expect.objectContaining({ type: 'init', version: 250, data: store.rows() }),
        z: expect.objectContaining({ type: 'end' }),
      });
    });
  });

  it('sends a fresh init when the cursor is ahead of the table (another timeline)', () => {
    const { testScheduler, open } = setup();
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(open(hot('5ms s'), 999)).toBe('i 4ms (z|)', {
        i: expect.objectContaining({ type: 'init', version: 0 }),
        z: expect.objectContaining({ type: 'end' }),
      });
    });
  });

  it('lets go of the store feed and the generator when the client leaves', () => {
    const { testScheduler, open, store, feedListeners } = setup();
    testScheduler.run(({ cold, expectObservable, flush }) => {
      let listening = -1;
      cold('10ms x').subscribe(() => (listening = feedListeners()));
      expectObservable(open(cold('-'), undefined), '^ 22ms !').toBe('i 9ms a 9ms b', {
        i: expect.objectContaining({ type: 'init' }),
        a: expect.objectContaining({ seq: 1 }),
        b: expect.objectContaining({ seq: 2 }),
      });
      flush();
      // The session's only subscriber left at 22 ms: its generator stopped one
      // heartbeat (25 ms) later, after ticks at 30 and 40, instead of running
      // on to the 10 s deadline.
      expect(store.version).toBe(4);
      expect(listening).toBe(1);
      expect(feedListeners()).toBe(0);
    });
  });
});
