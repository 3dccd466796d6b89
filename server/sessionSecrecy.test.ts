import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent, InitEvent, StartResponse, StreamEvent } from '../shared/protocol.js';
import { SESSION_ID_PATTERN } from '../shared/protocol.js';
import type { RunningServer } from './server.js';
import { openStream, type StreamClient } from '../test-support/sseClient.js';
import { startTestServer } from '../test-support/testServer.js';

let running: RunningServer | undefined;
const clients: StreamClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await running?.close();
  running = undefined;
});

async function stream(path: string): Promise<StreamClient> {
  const client = await openStream(`${running!.url}${path}`);
  clients.push(client);
  return client;
}

const changesOf = (client: StreamClient): ChangeEvent[] =>
  client.received.map((r) => r.event).filter((e): e is ChangeEvent => 'seq' in e);
const atLeastSeq = (n: number) => (e: StreamEvent) => 'seq' in e && e.seq >= n;

describe('a session id, the capability to stop a session', () => {
  it('never reaches the watch stream; changes carry an origin that is not an id', async () => {
    running = await startTestServer({ updateInterval: 20, heartbeatInterval: 200 });
    const started = (await (await fetch(`${running.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
    const id = started.session_id;
    expect(id).toMatch(SESSION_ID_PATTERN);

    const watch = await stream('/api/stream');
    const own = await stream(`/api/stream/${id}`);
    await Promise.all([watch.waitFor(atLeastSeq(5)), own.waitFor(atLeastSeq(5))]);

    // Not in any field of any event, nor anywhere else in the bytes sent.
    expect(watch.text()).not.toContain(id);
    const watchInit = watch.received[0]?.event as InitEvent;
    expect(watchInit).toMatchObject({ type: 'init', session_id: null, origin: null });

    // The session's own stream names it in init, and its changes by their origin.
    const init = own.received[0]?.event as InitEvent;
    expect(init).toMatchObject({ type: 'init', session_id: id, origin: expect.any(String) });
    const origin = init.origin as string;
    expect(origin).not.toMatch(SESSION_ID_PATTERN);
    expect(origin).not.toContain(id);
    const changes = changesOf(own);
    expect(changes.length).toBeGreaterThanOrEqual(5);
    for (const change of changes) {
      expect(change).not.toHaveProperty('session_id');
      expect(change.origin).toBe(origin);
    }
    // The watch stream marks the same changes with the same origin.
    for (const change of changesOf(watch)) expect(change.origin).toBe(origin);

    // The origin stops nothing.
    const stop = await fetch(`${running.url}/api/stop/${encodeURIComponent(origin)}`, { method: 'POST' });
    expect(stop.status).toBe(400);
    expect(await stop.json()).toMatchObject({ code: 'invalid_session_id' });
    const more = Math.max(...changesOf(own).map((c) => c.seq)) + 3;
    await own.waitFor(atLeastSeq(more));
    expect(own.received.some((r) => r.event.type === 'end')).toBe(false);

    // The id does: the end on the session's own stream names it, the watch stream still never sees it.
    expect((await fetch(`${running.url}/api/stop/${id}`, { method: 'POST' })).status).toBe(200);
    await own.closed;
    expect(own.received.at(-1)?.event).toMatchObject({ type: 'end', session_id: id });
    await watch.waitFor((e) => e.type === 'heartbeat');
    expect(watch.text()).not.toContain(id);
  });

  it('gives two sessions different origins', async () => {
    running = await startTestServer({ updateInterval: 20, heartbeatInterval: 200 });
    const start = async () =>
      ((await (await fetch(`${running!.url}/api/start`, { method: 'POST' })).json()) as StartResponse).session_id;
    const [a, b] = await Promise.all([start(), start()]);
    const streamA = await stream(`/api/stream/${a}`);
    const streamB = await stream(`/api/stream/${b}`);
    await Promise.all([streamA.waitFor(atLeastSeq(20)), streamB.waitFor(atLeastSeq(20))]);
    const originA = (streamA.received[0]?.event as InitEvent).origin;
    const originB = (streamB.received[0]?.event as InitEvent).origin;
    expect(originA).not.toBe(originB);
    // Each stream carries both sessions' changes, each marked with its own session's origin.
    expect(new Set(changesOf(streamA).map((c) => c.origin))).toEqual(new Set([originA, originB]));
    expect(streamA.text()).not.toContain(b);
    expect(streamB.text()).not.toContain(a);
  });
});
