import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import type { DataResponse, StartResponse, StreamEvent } from '../shared/protocol.js';
import { freePort, startChildServer, type ServerProcess } from '../test-support/serverProcess.js';
import { replay, seqsOf } from '../test-support/replay.js';

/** Kills per run; LIVETABLE_FAULT_ROUNDS raises it for a longer soak. */
const KILLS = Number(process.env.LIVETABLE_FAULT_ROUNDS ?? 3);
const CLIENTS = 4;

interface Watcher {
  source: EventSource;
  events: StreamEvent[];
  opens: number;
}

function watch(url: string): Watcher {
  const watcher: Watcher = { source: new EventSource(url), events: [], opens: 0 };
  watcher.source.onopen = () => watcher.opens++;
  watcher.source.onmessage = (message) => watcher.events.push(JSON.parse(message.data) as StreamEvent);
  return watcher;
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lastSeq = (w: Watcher) => Math.max(0, ...seqsOf(w.events));

describe('kill -9 and restart', () => {
  it(`loses no change a client saw, and every client resumes without gap or duplicate (${KILLS} kills)`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'livetable-fault-'));
    const port = await freePort();
    const args = [
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--update-interval',
      '20',
      '--heartbeat-interval',
      '500',
    ];
    args.push('--weights', '40,40,10,10', '--static-dir', 'no-such-dir');
    let server: ServerProcess = await startChildServer(args);
    const watchers: Watcher[] = [];
    try {
      const start = async () =>
        ((await (await fetch(`${server.url}/api/start`, { method: 'POST' })).json()) as StartResponse).session_id;
      const [a, b] = [await start(), await start()];
      for (let i = 0; i < CLIENTS; i++) watchers.push(watch(`${server.url}/api/stream/${i % 2 ? a : b}`));

      for (let kill = 0; kill < KILLS; kill++) {
        const target = Math.max(...watchers.map(lastSeq)) + 30;
        await until(() => watchers.every((w) => lastSeq(w) >= target), `changes up to ${target}`);
        const seenBeforeKill = Math.max(...watchers.map(lastSeq));
        server.child.kill('SIGKILL');
        await server.exited;
        server = await startChildServer(args);
        // Everything any client saw was committed before it was sent.
        const data = (await (await fetch(`${server.url}/api/data`)).json()) as DataResponse;
        expect(data.version).toBeGreaterThanOrEqual(seenBeforeKill);
      }
      const target = Math.max(...watchers.map(lastSeq)) + 30;
      await until(() => watchers.every((w) => lastSeq(w) >= target), 'changes after the last restart');

      for (const id of [a, b]) await fetch(`${server.url}/api/stop/${id}`, { method: 'POST' });
      await until(() => watchers.every((w) => w.events.at(-1)?.type === 'end'), 'end on every stream');
      const final = (await (await fetch(`${server.url}/api/data`)).json()) as DataResponse;
      // The stream that went on longest ends at the final table; a session
      // stopped earlier stops earlier, and must hold exactly that prefix.
      const longest = watchers.reduce((a, b) => (lastSeq(b) > lastSeq(a) ? b : a));
      expect(replay(longest.events)).toEqual({ rows: final.data, version: final.version });
      for (const watcher of watchers) {
        expect(watcher.opens).toBe(KILLS + 1);
        expect(watcher.events.filter((e) => e.type === 'init')).toHaveLength(1);
        const seqs = seqsOf(watcher.events);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
        const prefix = longest.events.filter((e) => !('seq' in e) || e.seq <= lastSeq(watcher));
        expect(replay(watcher.events)).toEqual(replay(prefix));
      }
    } finally {
      for (const watcher of watchers) watcher.source.close();
      server.child.kill('SIGKILL');
    }
  }, 120_000);

  it("keeps a session's original deadline across a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'livetable-fault-'));
    const args = ['--port', '0', '--data-dir', dataDir, '--session-timeout', '60000', '--static-dir', 'no-such-dir'];
    let server = await startChildServer(args);
    try {
      const started = (await (await fetch(`${server.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
      server.child.kill('SIGKILL');
      await server.exited;
      server = await startChildServer(args);
      const restored = server.logs.find((l) => l.msg === 'session restored');
      expect(restored).toMatchObject({
        session_id: started.session_id,
        deadline: new Date(started.expires_at).toISOString(),
      });
      const stream = await fetch(`${server.url}/api/stream/${started.session_id}`);
      expect(stream.status).toBe(200);
      await stream.body?.cancel();
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 60_000);
});
