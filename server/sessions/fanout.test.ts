import { createParser } from 'eventsource-parser';
import { interval, map, NEVER, Subject, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Sink } from '../http/sse.js';
import type { ChangeEvent, EndReason, StreamEvent } from '../../shared/protocol.js';
import { createMemoryStore } from '../store/memoryStore.js';
import { createFanout } from './fanout.js';
import { originOf } from './origin.js';
import { sessionPipeline } from './sessionPipeline.js';

const SID = 'AAAAAAAAAAAAAAAA';
const OTHER = 'BBBBBBBBBBBBBBBB';
const meta = { session_id: SID, generation_count: 1, timestamp: '2026-01-01T00:00:00.000Z' };

/** A client as the fan-out sees it: it records every write. */
class RecordingSink implements Sink {
  readonly pending = 0;
  writes: { text: string; count: number }[] = [];
  ended: string | undefined;
  constructor(readonly full = false) {}
  /** The bytes as a client receives them. */
  send(text: string | Buffer, count: number): boolean {
    this.writes.push({ text: text.toString(), count });
    return true;
  }
  end(text: string): void {
    this.ended = text;
  }
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
  /** Every message received, parsed as a browser would, with its SSE id. */
  get events(): (StreamEvent & { id?: string })[] {
    const events: (StreamEvent & { id?: string })[] = [];
    const parser = createParser({
      onEvent: (message) => events.push({ ...(JSON.parse(message.data) as StreamEvent), id: message.id }),
    });
    for (const { text } of this.writes) parser.feed(text);
    if (this.ended !== undefined) parser.feed(this.ended);
    return events;
  }
  get types(): string[] {
    return this.events.map((event) => ('seq' in event ? `${event.type}#${event.seq}` : event.type));
  }
}

function setup({ history = 100, changesPerTick = 1, flushInterval = 0 } = {}) {
  const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
  const store = createMemoryStore({
    history,
    initialRows: [
      { name: '张三', age: 30, city: '北京', score: 80, status: '活跃' },
      { name: '李四', age: 40, city: '上海', score: 70, status: '离线' },
    ],
  });
  let score = 60;
  /** Commits a change; the memory store applies and emits it before it returns. */
  const update = (session_id = SID): Promise<ChangeEvent> =>
    store.commit({ type: 'update', id: 1, patch: { score: score++ } }, { ...meta, session_id });
  const errors: unknown[] = [];
  // The memory store is never loaded anew: its resets$ never emits, so the
  // fan-out gets this one instead.
  const resets = new Subject<void>();
  const fanout = createFanout({
    store: {
      rows: () => store.rows(),
      get version() {
        return store.version;
      },
      since: (seq) => store.since(seq),
      changes$: store.changes$,
      resets$: resets,
    },
    heartbeatInterval: 25,
    flushInterval,
    now: () => scheduler.now(),
    onError: (error) => errors.push(error),
  });
  let generated = 0;
  const session = (id = SID, step: () => Promise<ChangeEvent> | undefined = () => update(id)) => {
    const ended$ = new Subject<EndReason>();
    const deadline = 10_000;
    const pipeline = sessionPipeline({
      // The tick's commits are made one after another in one go (the memory
      // store emits each inside commit), so they reach the fan-out in one run.
      mutate: () => {
        const commits: Promise<ChangeEvent>[] = [];
        for (let i = 0; i < changesPerTick; i++) {
          const commit = step();
          if (commit) commits.push(commit);
        }
        return Promise.all(commits).then((made) => {
          if (made.length > 0) generated++;
          return made.at(-1);
        });
      },
      updateInterval: 10,
      heartbeatInterval: 25,
      ended$,
      deadline,
      scheduler,
    });
    // As the session manager does: the session store ends it at its deadline,
    // and the end, whichever it is, comes through ended$; it holds the end
    // for as long as the session runs.
    const timeout = scheduler.schedule(() => ended$.next('timeout'), deadline - scheduler.now());
    pipeline.end$.subscribe();
    const end = (reason: EndReason) => {
      timeout.unsubscribe();
      ended$.next(reason);
    };
    return { id, initSessionId: id, events$: pipeline.events$, end$: pipeline.end$, stop: () => end('stopped') };
  };
  /** Lets every promise settle, as the event loop does between two timers. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  /**
   * Moves virtual time on to `ms`, one due timer at a time, letting each
   * tick's commits settle and its write go out before the next one.
   */
  const advanceTo = async (ms: number) => {
    for (;;) {
      await settle();
      const next = scheduler.actions[0];
      if (next === undefined || next.delay > ms) break;
      // Just this timer: another one due at the same time runs once the
      // promises this one started have settled, as Node runs its timers.
      scheduler.actions.shift();
      scheduler.frame = next.delay;
      const error: unknown = next.execute(next.state, next.delay);
      if (error) throw error;
    }
    scheduler.frame = ms;
  };
  return { scheduler, store, update, resets, fanout, session, advanceTo, errors, generated: () => generated };
}

describe('fan-out', () => {
  it('starts a stream with init, then every change and heartbeat, then end', async () => {
    const { fanout, session, advanceTo } = setup();
    const s = session();
    const sink = new RecordingSink();
    fanout.open(s, sink, undefined);
    await advanceTo(35);
    s.stop();
    expect(sink.types).toEqual(['init', 'update#1', 'update#2', 'heartbeat', 'update#3', 'end']);
    const [init] = sink.events;
    expect(init).toMatchObject({
      type: 'init',
      session_id: SID,
      origin: originOf(SID),
      version: 0,
      heartbeat_interval: 25,
      id: '0',
    });
    expect(sink.events[1]).toMatchObject({ type: 'update', origin: originOf(SID) });
    expect(sink.events[1]).not.toHaveProperty('session_id');
    expect(sink.events.find((e) => e.type === 'heartbeat')).toEqual({
      type: 'heartbeat',
      timestamp: new Date(25).toISOString(),
    });
    expect(sink.events.at(-1)).toEqual({
      type: 'end',
      session_id: SID,
      reason: 'stopped',
      message: '数据生成已结束',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(sink.events[1]?.id).toBe('1');
    expect(fanout.size).toBe(0);
  });

  it('a watch group: init without a session, the changes of every session, its own heartbeats, no end', async () => {
    const { fanout, session, advanceTo, scheduler } = setup();
    const watcher = {
      id: '*watch',
      initSessionId: null,
      events$: interval(25, scheduler).pipe(map(() => ({ type: 'heartbeat' as const, timestamp: 'beat' }))),
      end$: NEVER,
    };
    const a = session(SID);
    const b = session(OTHER);
    const sessionSink = new RecordingSink();
    fanout.open(a, sessionSink, undefined);
    const sink = new RecordingSink();
    const leave = fanout.open(watcher, sink, undefined);
    await advanceTo(12);
    fanout.open(b, new RecordingSink(), undefined);
    await advanceTo(30);
    a.stop();
    b.stop();
    await advanceTo(60);
    expect(sink.events[0]).toMatchObject({ type: 'init', session_id: null, origin: null, version: 0 });
    const changes = sink.events.filter((e) => 'seq' in e) as ChangeEvent[];
    expect(new Set(changes.map((e) => e.origin))).toEqual(new Set([originOf(SID), originOf(OTHER)]));
    for (const { text } of sink.writes) expect(text).not.toMatch(/AAAAAAAAAAAAAAAA|BBBBBBBBBBBBBBBB/);
    expect(changes.map((e) => e.seq)).toEqual(changes.map((_, i) => i + 1));
    expect(sink.types.filter((t) => t === 'heartbeat')).toHaveLength(2);
    expect(sink.types).not.toContain('end');
    expect(sink.ended).toBeUndefined();
    expect(sessionSink.types.at(-1)).toBe('end');
    leave();
    expect(fanout.size).toBe(0);
    // The watch group's heartbeat timer stops with its last stream.
    expect(scheduler.actions.filter((action) => !action.closed)).toHaveLength(0);
  });

  it('writes the changes of one tick once: one write per client, each change its own message and id', async () => {
    const { fanout, session, advanceTo } = setup({ changesPerTick: 5 });
    const s = session();
    const a = new RecordingSink();
    const b = new RecordingSink();
    fanout.open(s, a, undefined);
    fanout.open(s, b, undefined);
    await advanceTo(10);
    const tick = a.writes.at(-1);
    expect(tick?.count).toBe(5);
    expect(a.events.slice(1).map((e) => e.id)).toEqual(['1', '2', '3', '4', '5']);
    // The same string for both: joined once, not once per client.
    expect(b.writes.at(-1)?.text).toBe(tick?.text);
    expect(a.writes).toHaveLength(2);
  });

  it('with a flush interval, writes a change after a quiet spell at once and the ones within the interval together', async () => {
    // Long enough that the turns below always fit in it, however loaded the machine.
    const { fanout, session, update, store } = setup({ flushInterval: 300 });
    const s = session();
    const sink = new RecordingSink();
    fanout.open(s, sink, undefined);
    const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
    await update();
    await settle();
    // The first change went out at the end of its turn, after the init.
    expect(sink.writes.map((write) => write.count)).toEqual([1, 1]);
    for (let i = 0; i < 3; i++) {
      await update();
      await settle();
    }
    // Three more turns, within the interval: they wait for it.
    expect(sink.writes).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(sink.writes.map((write) => write.count)).toEqual([1, 1, 3]);
    expect(sink.events.slice(1).map((e) => e.id)).toEqual(['1', '2', '3', '4']);
    // A change still waiting when the session ends goes out before the end.
    await update();
    await settle();
    await update();
    s.stop();
    expect(sink.types.slice(-2)).toEqual([`update#${store.version}`, 'end']);
  });

  it('resumes after a cursor with exactly the missed changes, no init, no duplicate', async () => {
    const { fanout, session, update, advanceTo } = setup();
    for (let i = 0; i < 5; i++) void update(); // seq 1..5 happen while the client is away
    const s = session();
    const sink = new RecordingSink();
    fanout.open(s, sink, 2);
    expect(sink.writes[0]?.count).toBe(3);
    await advanceTo(15);
    s.stop();
    expect(sink.types).toEqual(['update#3', 'update#4', 'update#5', 'update#6', 'end']);
  });

  it('resumes at the newest change with nothing to replay', async () => {
    const { fanout, session, update, advanceTo } = setup();
    void update();
    const s = session();
    const sink = new RecordingSink();
    fanout.open(s, sink, 1);
    expect(sink.writes).toHaveLength(0);
    await advanceTo(10);
    expect(sink.types).toEqual(['update#2']);
  });

  it("carries other sessions' changes, and only its own session's heartbeats and end", async () => {
    const { fanout, session, update, advanceTo } = setup();
    const mine = session(SID, () => undefined); // this session makes no changes itself
    const other = session(OTHER, () => undefined);
    const a = new RecordingSink();
    const b = new RecordingSink();
    fanout.open(mine, a, 0);
    fanout.open(other, b, 0);
    void update(OTHER);
    await advanceTo(5);
    void update(OTHER);
    await advanceTo(30);
    mine.stop();
    expect(a.types).toEqual(['update#1', 'update#2', 'heartbeat', 'end']);
    expect(b.types).toEqual(['update#1', 'update#2', 'heartbeat']);
    expect(b.ended).toBeUndefined();
    other.stop();
    expect(b.types.at(-1)).toBe('end');
  });

  it('sends a fresh init when the cursor is older than the history or ahead of the table', async () => {
    const { fanout, session, update, store } = setup({ history: 100 });
    for (let i = 0; i < 250; i++) void update();
    const s = session();
    const old = new RecordingSink();
    const ahead = new RecordingSink();
    fanout.open(s, old, 10);
    fanout.open(s, ahead, 999);
    for (const sink of [old, ahead]) {
      expect(sink.events).toEqual([expect.objectContaining({ type: 'init', version: 250, data: store.rows() })]);
    }
  });

  it('serializes the init once per table version for a burst of clients', async () => {
    const { fanout, session, update } = setup();
    const s = session();
    const first = new RecordingSink();
    const second = new RecordingSink();
    fanout.open(s, first, undefined);
    fanout.open(s, second, undefined);
    expect(second.writes[0]?.text).toBe(first.writes[0]?.text);
    void update();
    const later = new RecordingSink();
    fanout.open(s, later, undefined);
    expect(later.events[0]).toMatchObject({ type: 'init', version: 1 });
  });

  it('gives a client that joins while a tick is being written only what it lacks', async () => {
    const { fanout, session, update } = setup();
    const s = session();
    const early = new RecordingSink();
    fanout.open(s, early, undefined);
    void update(); // seq 1, waiting to be written
    const late = new RecordingSink();
    fanout.open(s, late, undefined); // its init already holds seq 1
    void update(); // seq 2, same tick
    await new Promise(setImmediate);
    expect(early.types).toEqual(['init', 'update#1', 'update#2']);
    expect(late.types).toEqual(['init', 'update#2']);
    expect(late.events[0]).toMatchObject({ version: 1 });
  });

  it('gives ?full=1 clients the whole table after each change, and never replays history to them', async () => {
    const { fanout, session, update, store, advanceTo } = setup({ changesPerTick: 3 });
    void update();
    const s = session();
    const full = new RecordingSink(true);
    fanout.open(s, full, 0);
    expect(full.events[0]).toMatchObject({ type: 'init', version: 1 });
    const scores: number[] = [];
    store.changes$.subscribe(() => scores.push(store.get(1)?.score as number));
    await advanceTo(10);
    const changes = full.events.slice(1);
    expect(changes).toHaveLength(3);
    changes.forEach((change, i) => {
      expect(change.type === 'update' && change.table_data?.[0]?.score).toBe(scores[i]);
    });
    expect(changes.at(-1)).toMatchObject({ table_data: store.rows() });
  });

  it('lets go of the session when its last client leaves: the generator stops after the grace period', async () => {
    const { fanout, session, advanceTo, generated, scheduler } = setup();
    const s = session();
    const sink = new RecordingSink();
    const leave = fanout.open(s, sink, undefined);
    await advanceTo(22);
    leave();
    leave(); // safe twice
    expect(fanout.size).toBe(0);
    await advanceTo(200);
    // It left at 22 ms: the generator ran one heartbeat interval (25 ms)
    // longer, ticking at 30 and 40, instead of on to the 10 s deadline.
    expect(generated()).toBe(4);
    expect(sink.types).toEqual(['init', 'update#1', 'update#2']);
    // Only the session's deadline is still scheduled.
    expect(scheduler.actions.map((action) => action.delay)).toEqual([10_000 - 0]);
  });

  it('leaves no timer behind once a session has ended', async () => {
    const { fanout, session, advanceTo, scheduler } = setup();
    const s = session();
    fanout.open(s, new RecordingSink(), undefined);
    await advanceTo(15);
    s.stop();
    expect(scheduler.actions).toEqual([]);
  });

  it("cuts a session's streams, and says why, when its events fail", async () => {
    const { fanout, session, advanceTo, errors } = setup();
    let calls = 0;
    const s = session(SID, () => {
      if (++calls === 2) throw new Error('generator bug');
      return undefined;
    });
    const sink = new RecordingSink();
    fanout.open(s, sink, 0);
    await advanceTo(30);
    expect(errors).toEqual([new Error('generator bug')]);
    expect(sink.destroyed).toBe(true);
    expect(sink.ended).toBeUndefined();
    expect(fanout.size).toBe(0);
  });

  it('cuts every stream, without an end, when the table is loaded anew, and serves the streams after it', async () => {
    const { fanout, session, update, resets, advanceTo } = setup();
    const s = session();
    const watcher = { id: '*watch', initSessionId: null, events$: NEVER, end$: NEVER };
    const sinks = [new RecordingSink(), new RecordingSink(true), new RecordingSink()] as const;
    const leaves = [
      fanout.open(s, sinks[0], undefined),
      fanout.open(s, sinks[1], 0),
      fanout.open(watcher, sinks[2], undefined),
    ];
    void update(); // waiting to be written when the table is loaded anew
    resets.next();
    await advanceTo(5);
    for (const sink of sinks) {
      expect(sink.destroyed).toBe(true);
      expect(sink.ended).toBeUndefined();
      expect(sink.types).toEqual(['init']);
    }
    // Their clients are gone: the edge takes the streams out.
    for (const leave of leaves) leave();
    expect(fanout.size).toBe(0);
    const back = new RecordingSink();
    fanout.open(s, back, undefined);
    await advanceTo(15);
    expect(back.types).toEqual(['init', 'update#2']);
    expect(back.events[0]).toMatchObject({ type: 'init', version: 1 });
    expect(back.destroyed).toBe(false);
  });

  it('stops delivering when closed', async () => {
    const { fanout, session, update } = setup();
    const sink = new RecordingSink();
    fanout.open(session(), sink, undefined);
    fanout.close();
    void update();
    await Promise.resolve();
    expect(sink.types).toEqual(['init']);
  });
});

describe('fan-out churn', () => {
  it('forgets every stream and group once they leave, after thousands come and go across many sessions', async () => {
    const { fanout, session, advanceTo, scheduler } = setup();
    const sessions = Array.from({ length: 20 }, (_, i) => session(`S${String(i).padStart(15, '0')}`));
    let t = 0;
    for (let round = 0; round < 100; round++) {
      const leaves = sessions.flatMap((s) => [
        fanout.open(s, new RecordingSink(), undefined),
        fanout.open(s, new RecordingSink(true), 0),
      ]);
      await advanceTo((t += 5));
      for (const leave of leaves) leave();
    }
    expect(fanout.size).toBe(0);
    expect(fanout.groups).toBe(0);
    // Each session's generator runs on for its grace period, then stops;
    // what is left is each running session's deadline, gone with its end.
    await advanceTo((t += 100));
    expect(scheduler.actions.filter((action) => !action.closed)).toHaveLength(sessions.length);
    for (const s of sessions) s.stop();
    await advanceTo((t += 100));
    expect(scheduler.actions.filter((action) => !action.closed)).toHaveLength(0);
  });
});
