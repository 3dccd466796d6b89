import { pino } from 'pino';
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../config.js';
import { HttpError } from '../http/httpError.js';
import type { Sink } from '../http/sse.js';
import { createMemoryStore } from '../store/memoryStore.js';
import { createMemorySessionStore } from '../store/sessionStore.js';
import { seededRandom } from '../table/random.js';
import { createSessionManager } from './sessionManager.js';

class CountingSink implements Sink {
  readonly full = false;
  messages: string[] = [];
  send(text: string): boolean {
    this.messages.push(text);
    return true;
  }
  end(text: string): void {
    this.messages.push(text);
  }
  destroy(): void {}
}

function setup(overrides: Partial<Config> = {}) {
  const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
  const sessions = createSessionManager({
    store: createMemoryStore({ history: 100, initialRows: [] }),
    sessionStore: createMemorySessionStore(),
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
  const advance = (ms: number) => {
    // Time reaches the end of the step even when nothing else is due.
    scheduler.schedule(() => undefined, ms);
    scheduler.maxFrames = scheduler.frame + ms;
    scheduler.flush();
  };
  const pending = () => scheduler.actions.filter((action) => !action.closed).length;
  return { scheduler, sessions, advance, pending };
}

describe('watch streams in the session manager', () => {
  it('beat while one is open, and leave no timer behind once the last one goes', () => {
    const { sessions, advance, pending } = setup();
    const a = new CountingSink();
    const b = new CountingSink();
    const releaseA = sessions.watch(undefined, () => a);
    const releaseB = sessions.watch(undefined, () => b);
    advance(3500);
    const beats = (sink: CountingSink) => sink.messages.filter((m) => m.includes('"heartbeat"')).length;
    expect(beats(a)).toBe(3);
    expect(beats(b)).toBe(3);
    expect(sessions.totalConnections).toBe(2);
    releaseA();
    releaseA(); // twice is harmless
    expect(pending()).toBe(1);
    releaseB();
    expect(pending()).toBe(0);
    expect(sessions.totalConnections).toBe(0);
  });

  it('take their share of the connections, and none once the manager is closed', () => {
    const { sessions, pending } = setup();
    sessions.watch(undefined, () => new CountingSink());
    sessions.watch(undefined, () => new CountingSink());
    expect(() => sessions.watch(undefined, () => new CountingSink())).toThrow(
      expect.objectContaining({ status: 429, code: 'too_many_watch_connections' }),
    );
    sessions.close();
    expect(pending()).toBe(0);
    let opened = false;
    const late = () => sessions.watch(undefined, () => ((opened = true), new CountingSink()));
    expect(late).toThrow(HttpError);
    expect(late).toThrow(expect.objectContaining({ status: 503, code: 'shutting_down' }));
    expect(opened).toBe(false);
  });
});

describe('sessions per address', () => {
  const refusal = (start: () => unknown) => {
    try {
      start();
    } catch (error) {
      return error as HttpError;
    }
    throw new Error('not refused');
  };

  it('are capped per address, and Retry-After is the time until the first of them ends', () => {
    const { sessions, advance } = setup({ maxSessionsPerAddress: 2, maxSessions: 3, sessionTimeout: 60_000 });
    sessions.start({ address: 'a', owner: null });
    advance(10_000);
    sessions.start({ address: 'a', owner: null });
    const own = refusal(() => sessions.start({ address: 'a', owner: null }));
    expect(own).toMatchObject({ status: 429, code: 'too_many_address_sessions' });
    expect(own.headers['Retry-After']).toBe('50');
    sessions.start({ address: 'b', owner: null });
    advance(5_000);
    const all = refusal(() => sessions.start({ address: 'c', owner: null }));
    expect(all).toMatchObject({ status: 429, code: 'too_many_sessions' });
    expect(all.headers['Retry-After']).toBe('45');
    advance(45_000);
    expect(sessions.start({ address: 'c', owner: null }).id).toHaveLength(16);
  });

  it('forget every address once its sessions end, stopped or timed out', () => {
    const { sessions, advance } = setup({ maxSessions: 10_000, maxSessionsPerAddress: 10, sessionTimeout: 60_000 });
    const started = Array.from({ length: 3000 }, (_, i) =>
      sessions.start({ address: `10.0.${i % 500}.1`, owner: null }),
    );
    expect(sessions.addresses).toBe(500);
    for (const session of started.slice(0, 1500)) sessions.stop(session.id);
    advance(61_000);
    expect(sessions.activeSessions).toBe(0);
    expect(sessions.addresses).toBe(0);
  });
});
