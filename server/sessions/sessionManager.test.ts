import { createParser } from 'eventsource-parser';
import { pino } from 'pino';
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../config.js';
import { httpErrorOf } from '../http/domainErrors.js';
import type { Sink } from '../http/sse.js';
import { END_MESSAGES, type StreamEvent } from '../../shared/protocol.js';
import { createMemoryStore } from '../store/memoryStore.js';
import { createMemorySessionStore, type SessionStore } from '../store/sessionStore.js';
import { StoreUnavailable } from '../store/tableStore.js';
import { seededRandom } from '../table/random.js';
import { LimitReached, SessionNotFound, ShuttingDown } from './errors.js';
import { createSessionManager } from './sessionManager.js';

class CountingSink implements Sink {
  readonly full = false;
  readonly pending = 0;
  messages: string[] = [];
  /** The last message, when the stream was ended with one. */
  ended: string | undefined;
  /** The bytes as a client receives them. */
  send(text: string | Buffer): boolean {
    this.messages.push(text.toString());
    return true;
  }
  end(text: string): void {
    this.messages.push(text);
    this.ended = text;
  }
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
  /** Every message received, parsed as a browser would. */
  get events(): StreamEvent[] {
    const events: StreamEvent[] = [];
    const parser = createParser({ onEvent: (message) => events.push(JSON.parse(message.data) as StreamEvent) });
    for (const text of this.messages) parser.feed(text);
    return events;
  }
}

function setup(overrides: Partial<Config> = {}, sessionStore = createMemorySessionStore()) {
  const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
  const store = createMemoryStore({ history: 100, initialRows: [] });
  const sessions = createSessionManager({
    store,
    sessionStore,
    config: defaultConfig({
      heartbeatInterval: 1000,
      maxConnections: 4,
      maxConnectionsPerSession: 2,
      watchShare: 50,
      ...overrides,
    }),
    scheduler,
    random: seededRandom(1),
    logger: pino({ level: 'silent' }),
  });
  /** Lets every promise settle, as the event loop does between two timers. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  /**
   * Moves virtual time on by `ms`, one due timer at a time, letting the
   * promises each one starts (commits, the session store's answers) settle
   * before the next one runs, as Node runs its timers.
   */
  const advance = async (ms: number) => {
    const until = scheduler.frame + ms;
    for (;;) {
      await settle();
      const next = scheduler.actions[0];
      if (next === undefined || next.delay > until) break;
      scheduler.actions.shift();
      scheduler.frame = next.delay;
      const error: unknown = next.execute(next.state, next.delay);
      if (error) throw error;
    }
    // Time reaches the end of the step even when nothing else is due.
    scheduler.frame = until;
  };
  const pending = () => scheduler.actions.filter((action) => !action.closed).length;
  return { scheduler, store, sessionStore, sessions, advance, pending };
}

/** Why `attempt` was refused; fails the test when it was not. */
async function refusal(attempt: Promise<unknown>): Promise<Error> {
  try {
    await attempt;
  } catch (error) {
    return error as Error;
  }
  throw new Error('not refused');
}

describe('watch streams in the session manager', () => {
  it('beat while one is open, and leave no timer behind once the last one goes', async () => {
    const { sessions, advance, pending } = setup();
    await sessions.ready;
    const a = new CountingSink();
    const b = new CountingSink();
    const releaseA = await sessions.watch(undefined, () => a);
    const releaseB = await sessions.watch(undefined, () => b);
    await advance(3500);
    const beats = (sink: CountingSink) => sink.messages.filter((m) => m.includes('"heartbeat"')).length;
    expect(beats(a)).toBe(3);
    expect(beats(b)).toBe(3);
    expect(sessions.streams.open).toBe(2);
    releaseA();
    releaseA(); // twice is harmless
    expect(pending()).toBe(1);
    releaseB();
    expect(pending()).toBe(0);
    expect(sessions.streams.open).toBe(0);
  });

  it('take their share of the connections, and none once the manager is closed, which cuts them', async () => {
    const { sessions, pending } = setup();
    await sessions.ready;
    const open = [new CountingSink(), new CountingSink()];
    for (const sink of open) await sessions.watch(undefined, () => sink);
    let opened = false;
    const tooMany = await refusal(sessions.watch(undefined, () => ((opened = true), new CountingSink())));
    expect(tooMany).toBeInstanceOf(LimitReached);
    expect(tooMany).toMatchObject({ limit: 'watch_connections', retryAfterS: 5 });
    expect(httpErrorOf(tooMany)).toMatchObject({ status: 429, code: 'too_many_watch_connections' });
    expect(opened).toBe(false);
    expect(sessions.streams.open).toBe(2);
    await sessions.close();
    expect(pending()).toBe(0);
    // Cut, not ended: their clients reconnect, to this node restarted or another.
    expect(open.map((sink) => [sink.destroyed, sink.ended])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
    const late = await refusal(sessions.watch(undefined, () => ((opened = true), new CountingSink())));
    expect(late).toBeInstanceOf(ShuttingDown);
    expect(httpErrorOf(late)).toMatchObject({ status: 503, code: 'shutting_down' });
    expect(opened).toBe(false);
  });
});

describe('session streams in the session manager', () => {
  it("get end after the session's last change when it is stopped, and nothing after it", async () => {
    const { sessions, store, advance, pending } = setup({ updateInterval: 100, changesPerTick: 3 });
    await sessions.ready;
    const session = await sessions.start({ address: 'a', owner: null });
    const sink = new CountingSink();
    const release = await sessions.connect(session.id, undefined, () => sink);
    await advance(1050);
    expect(store.version).toBe(30);
    await expect(sessions.stop(session.id)).resolves.toBe('stopped');
    const { events } = sink;
    expect(events[0]).toMatchObject({ type: 'init', session_id: session.id, version: 0 });
    // Every change the session made, in order, then the end as the last message.
    const seqs = events.flatMap((event) => ('seq' in event ? [event.seq] : []));
    expect(seqs).toEqual(Array.from({ length: store.version }, (_, i) => i + 1));
    expect(events.at(-1)).toEqual({
      type: 'end',
      session_id: session.id,
      reason: 'stopped',
      message: END_MESSAGES.stopped,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(sink.ended).toBe(sink.messages.at(-1));
    const sent = sink.messages.length;
    await advance(5000);
    expect(sink.messages).toHaveLength(sent);
    expect(store.version).toBe(30);
    expect(sessions.activeSessions).toBe(0);
    await expect(sessions.stop(session.id)).resolves.toBe('already_ended');
    release();
    expect(sessions.streams.open).toBe(0);
    expect(pending()).toBe(0);
  });

  it('get end with reason "timeout" at the deadline, after the last change, and nothing after it', async () => {
    const { sessions, store, advance, pending } = setup({ updateInterval: 100, sessionTimeout: 1000 });
    await sessions.ready;
    const session = await sessions.start({ address: 'a', owner: null });
    const sink = new CountingSink();
    await sessions.connect(session.id, undefined, () => sink);
    await advance(5000);
    // Ticks at 100 … 900 made changes; the one due at the deadline did not.
    expect(store.version).toBe(9);
    const { events } = sink;
    const seqs = events.flatMap((event) => ('seq' in event ? [event.seq] : []));
    expect(seqs).toEqual(Array.from({ length: 9 }, (_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'end', session_id: session.id, reason: 'timeout' });
    expect(sink.ended).toBe(sink.messages.at(-1));
    expect(sessions.activeSessions).toBe(0);
    await expect(sessions.stop(session.id)).resolves.toBe('already_ended');
    expect(pending()).toBe(0);
  });
});

describe('sessions per address', () => {
  it('are capped per address, and Retry-After is the time until the first of them ends', async () => {
    const { sessions, advance } = setup({ maxSessionsPerAddress: 2, maxSessions: 3, sessionTimeout: 60_000 });
    await sessions.ready;
    await sessions.start({ address: 'a', owner: null });
    await advance(10_000);
    await sessions.start({ address: 'a', owner: null });
    const own = await refusal(sessions.start({ address: 'a', owner: null }));
    expect(own).toBeInstanceOf(LimitReached);
    expect(own).toMatchObject({ limit: 'address_sessions', retryAfterS: 50 });
    expect(httpErrorOf(own)).toMatchObject({
      status: 429,
      code: 'too_many_address_sessions',
      headers: { 'Retry-After': '50' },
    });
    await sessions.start({ address: 'b', owner: null });
    await advance(5_000);
    const all = await refusal(sessions.start({ address: 'c', owner: null }));
    expect(all).toBeInstanceOf(LimitReached);
    expect(all).toMatchObject({ limit: 'sessions', retryAfterS: 45 });
    expect(httpErrorOf(all)).toMatchObject({
      status: 429,
      code: 'too_many_sessions',
      headers: { 'Retry-After': '45' },
    });
    await advance(45_000);
    expect((await sessions.start({ address: 'c', owner: null })).id).toHaveLength(16);
  });

  it('free their places once they end, stopped or timed out, after thousands from many addresses', async () => {
    const sessionStore = createMemorySessionStore();
    const perAddress = 10;
    const { sessions, advance, pending } = setup(
      { maxSessions: 10_000, maxSessionsPerAddress: perAddress, sessionTimeout: 60_000 },
      sessionStore,
    );
    await sessions.ready;
    const address = (i: number) => `10.0.${i % 500}.1`;
    const started = await Promise.all(
      Array.from({ length: 3000 }, (_, i) => sessions.start({ address: address(i), owner: null })),
    );
    expect(sessions.activeSessions).toBe(3000);
    expect(await sessionStore.count()).toBe(3000);
    const stopped = await Promise.all(started.slice(0, 1500).map((session) => sessions.stop(session.id)));
    expect(stopped.every((outcome) => outcome === 'stopped')).toBe(true);
    expect(sessions.activeSessions).toBe(1500);
    // Only the deadlines of the sessions still running are left.
    expect(pending()).toBe(1500);
    await advance(61_000);
    expect(sessions.activeSessions).toBe(0);
    expect(await sessionStore.count()).toBe(0);
    expect(pending()).toBe(0);
    // Every address has its whole allowance again, and no more.
    const again = await Promise.all(
      Array.from({ length: 500 * perAddress }, (_, i) => sessions.start({ address: address(i), owner: null })),
    );
    expect(again).toHaveLength(500 * perAddress);
    expect(sessions.activeSessions).toBe(500 * perAddress);
    for (let i = 0; i < 500; i++) {
      await expect(sessions.start({ address: address(i), owner: null })).rejects.toMatchObject({
        limit: 'address_sessions',
      });
    }
  });
});

describe('a session store that is away', () => {
  /** The memory session store, failing every call while `down` is set: an outage, as a shared store has them. */
  function outage() {
    const inner = createMemorySessionStore();
    const state = { down: false };
    const guard =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      (...args: A): Promise<R> =>
        state.down ? Promise.reject(new StoreUnavailable('away')) : call(...args);
    const store: SessionStore = {
      shared: false,
      start: guard(inner.start),
      end: guard(inner.end),
      find: guard(inner.find),
      active: guard(inner.active),
      count: guard(inner.count),
      lease: guard(inner.lease),
      release: guard(inner.release),
      ends$: inner.ends$,
    };
    return { store, state };
  }

  it('takes streams of sessions it does not know on trust, no more of them than --max-sessions, and ends them once the store says they are not running', async () => {
    const { store, state } = outage();
    const { sessions, advance } = setup({ maxSessions: 3, maxConnections: 20, maxConnectionsPerSession: 5 }, store);
    await sessions.ready;
    state.down = true;
    const sinks = Array.from({ length: 3 }, () => new CountingSink());
    const ids = ['AAAAAAAAAAAAAAA1', 'AAAAAAAAAAAAAAA2', 'AAAAAAAAAAAAAAA3'];
    for (const [i, id] of ids.entries()) await sessions.connect(id, undefined, () => sinks[i]!);
    expect(sinks.every((sink) => sink.events[0]?.type === 'init')).toBe(true);
    // One more unknown id is refused: nobody can check it, and it would cost memory until the store is back.
    const refused = await refusal(sessions.connect('AAAAAAAAAAAAAAA4', undefined, () => new CountingSink()));
    expect(refused).toMatchObject({ limit: 'sessions' });
    // Another stream of one already taken on trust is fine.
    await sessions.connect(ids[0]!, undefined, () => new CountingSink());
    expect(sessions.activeSessions).toBe(3);

    state.down = false;
    await advance(1000);
    // None of them was ever started: each stream gets end, and nothing is left of them.
    expect(sinks.map((sink) => sink.events.at(-1)?.type)).toEqual(['end', 'end', 'end']);
    expect(sessions.activeSessions).toBe(0);
    await sessions
      .connect('AAAAAAAAAAAAAAA5', undefined, () => new CountingSink())
      .then(
        () => expect.unreachable('an unknown session with the store back is 404'),
        (error: unknown) => expect(error).toBeInstanceOf(SessionNotFound),
      );
  });
});
