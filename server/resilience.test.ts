import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataResponse, MetricsResponse, StartResponse } from '../shared/protocol.js';
import type { RunningServer } from './server.js';
import { heapAfterGc } from '../test-support/heap.js';
import { openStream } from '../test-support/sseClient.js';
import { replay, seqsOf } from '../test-support/replay.js';
import { startTestServer } from '../test-support/testServer.js';

/** Longer runs: LIVETABLE_RESILIENCE_SCALE=10 multiplies clients and cycles. */
const SCALE = Number(process.env.LIVETABLE_RESILIENCE_SCALE ?? 1);

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const json = async <T>(path: string, init?: RequestInit) =>
  (await (await fetch(`${server!.url}${path}`, init)).json()) as T;

/** Opens a stream on a raw socket and never reads from it. */
function stalledClient(port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', () => undefined); // cut by the server, as it should be
    socket.once('error', reject);
  });
}

/** Opens a stream, waits for its first bytes, and drops it. */
function blink(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`),
    );
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

const idleResources = () =>
  process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'FSReqCallback')
    .sort();

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('slow and stalled clients', () => {
  it('are cut once they fall --max-buffer behind; memory stays bounded; a reader gets every event', async () => {
    const MAX_BUFFER = 256 * 1024;
    const STALLED = 30 * SCALE;
    server = await startTestServer({
      seedRows: 2000,
      maxRecords: 2500,
      updateInterval: 5,
      heartbeatInterval: 1000,
      maxBuffer: MAX_BUFFER,
      maxConnections: STALLED + 10,
      maxConnectionsPerSession: STALLED + 10,
    });
    const { session_id } = await json<StartResponse>('/api/start', { method: 'POST' });
    const reader = await openStream(`${server.url}/api/stream/${session_id}`);
    await reader.waitFor((e) => e.type === 'init');
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;

    // ?full=1 makes every event carry the whole table (~170 KB), so a reader
    // that does not read falls behind within a fraction of a second.
    const stalled = await Promise.all(
      Array.from({ length: STALLED }, () => stalledClient(server!.port, `/api/stream/${session_id}?full=1`)),
    );
    await until(
      async () => (await json<MetricsResponse>('/api/metrics')).slow_disconnects >= STALLED,
      `${STALLED} slow readers cut`,
      20_000,
    );
    const rssPeak = process.memoryUsage().rss;
    const metrics = await json<MetricsResponse>('/api/metrics');
    expect(metrics.total_connections).toBe(1);

    // Each stalled stream may hold at most --max-buffer plus the frame that
    // crossed it; the stated bound leaves room for the heap's own growth.
    const bound = STALLED * (MAX_BUFFER + 200 * 1024) + 64 * 1024 * 1024;
    console.info(
      `stalled readers: ${STALLED}, RSS growth ${((rssPeak - rssBefore) / 2 ** 20).toFixed(1)} MiB, bound ${(bound / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(rssPeak - rssBefore).toBeLessThan(bound);

    await json(`/api/stop/${session_id}`, { method: 'POST' });
    await reader.closed;
    for (const socket of stalled) socket.destroy();
    const seqs = seqsOf(reader.received.map((r) => r.event));
    expect(seqs.length).toBeGreaterThan(20);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    const final = await json<DataResponse>('/api/data');
    expect(replay(reader.received.map((r) => r.event))).toEqual({ rows: final.data, version: final.version });
  }, 60_000);
});

describe('connection churn', () => {
  it('leaves metrics and the process handles at idle after thousands of connects and disconnects', async () => {
    const CYCLES = 2000 * SCALE;
    server = await startTestServer({ updateInterval: 10, heartbeatInterval: 100, maxConnections: 100 });
    const port = server.port;
    const { session_id } = await json<StartResponse>('/api/start', { method: 'POST' });
    await blink(port, `/api/stream/${session_id}`);
    await new Promise((r) => setTimeout(r, 300)); // past the generator's grace
    const baseline = idleResources();

    let done = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (done < CYCLES) {
          done++;
          await blink(port, `/api/stream/${session_id}`);
        }
      }),
    );
    await until(async () => {
      const m = await json<MetricsResponse>('/api/metrics');
      return m.total_connections === 0 && m.pending_messages === 0;
    }, 'metrics back to idle');
    await new Promise((r) => setTimeout(r, 300));
    expect(idleResources()).toEqual(baseline);

    await json(`/api/stop/${session_id}`, { method: 'POST' });
    const metrics = await json<MetricsResponse>('/api/metrics');
    expect(metrics).toMatchObject({ active_sessions: 0, total_connections: 0, pending_messages: 0 });
  }, 120_000);
});

describe('closed streams', () => {
  it('leave the heap as it was: thousands of connect/close cycles keep no memory', async () => {
    const WARMUP = 500;
    const CYCLES = 4000 * SCALE;
    server = await startTestServer({ updateInterval: 50, heartbeatInterval: 1000, maxConnections: 100 });
    const port = server.port;
    const { session_id } = await json<StartResponse>('/api/start', { method: 'POST' });
    const cycle = async (count: number, path: string) => {
      let done = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (done < count) {
            done++;
            await blink(port, path);
          }
        }),
      );
    };
    // Warm up first: code, caches and pools reach their working size.
    await cycle(WARMUP, `/api/stream/${session_id}`);
    await cycle(WARMUP, '/api/stream');
    const before = await heapAfterGc();
    await cycle(CYCLES / 2, `/api/stream/${session_id}`);
    await cycle(CYCLES / 2, '/api/stream');
    await until(async () => (await json<MetricsResponse>('/api/metrics')).total_connections === 0, 'streams released');
    const after = await heapAfterGc();
    const perCycle = (after - before) / CYCLES;
    console.info(
      `closed streams: ${CYCLES} cycles, heap ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB, ${perCycle.toFixed(0)} B per cycle`,
    );
    // A stream that stayed referenced costs about 8 KB; noise is far below 256 B a cycle.
    expect(perCycle).toBeLessThan(256);
  }, 120_000);
});

describe('a big table', () => {
  it('is not mistaken for a slow reader: an init larger than --max-buffer arrives whole', async () => {
    server = await startTestServer({ seedRows: 100_000, maxRecords: 200_000, maxBuffer: 64 * 1024, updateInterval: 5 });
    const { session_id } = await json<StartResponse>('/api/start', { method: 'POST' });
    // A reader that takes a moment before it reads (as a browser parsing a
    // big page might): meanwhile changes queue behind the 8 MB init.
    const socket = await stalledClient(server.port, `/api/stream/${session_id}`);
    await new Promise((r) => setTimeout(r, 300));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.resume();
    await until(async () => /"seq":30\b/.test(received), 'changes after the init', 20_000);
    expect(received).toContain('"type":"init"');
    expect((await json<MetricsResponse>('/api/metrics')).slow_disconnects).toBe(0);
    socket.destroy();
  }, 60_000);
});
