import { afterEach, describe, expect, it } from 'vitest';
import type { StartResponse } from '../shared/protocol.js';
import type { RunningServer } from './server.js';
import { openStream, type StreamClient } from '../test-support/sseClient.js';
import { startTestServer } from '../test-support/testServer.js';

let server: RunningServer | undefined;
const streams: StreamClient[] = [];
afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await server?.close();
  server = undefined;
});

/** The value of one sample in Prometheus text, or undefined when it is absent. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  it("answers this node's metrics in the Prometheus text format, counting what it did", async () => {
    server = await startTestServer({ updateInterval: 20, heartbeatInterval: 200 });
    const { session_id } = (await (await fetch(`${server.url}/api/start`, { method: 'POST' })).json()) as StartResponse;
    const stream = await openStream(`${server.url}/api/stream/${session_id}`);
    streams.push(stream);
    await stream.waitFor((event) => 'seq' in event && event.seq >= 5);

    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(sample(text, 'livetable_streams_open')).toBe(1);
    expect(sample(text, 'livetable_sessions_running')).toBe(1);
    expect(sample(text, 'livetable_changes_committed_total')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'livetable_changes_delivered_total')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'livetable_stream_sent_bytes_total')).toBeGreaterThan(0);
    expect(sample(text, 'livetable_commit_duration_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'livetable_delivery_lag_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'livetable_table_version')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'livetable_changes_behind')).toBe(0);
    expect(sample(text, 'livetable_store_connected')).toBe(1);
    expect(text).toMatch(/^livetable_info\{version="[^"]+",store="memory"\} 1$/m);

    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
    // The seed's JSON stays where it was.
    const json = (await (await fetch(`${server.url}/api/metrics`)).json()) as Record<string, unknown>;
    expect(json).toMatchObject({ active_sessions: 1, total_connections: 1 });
  });
});

describe('--trust-proxy', () => {
  const startFrom = (forwardedFor: string) =>
    fetch(`${server!.url}/api/start`, { method: 'POST', headers: { 'X-Forwarded-For': forwardedFor } });

  it('counts the start rate by the client X-Forwarded-For names, one hop back', async () => {
    server = await startTestServer({ trustProxy: 1, startBurst: 2, startRate: 1, maxSessions: 100 });
    expect((await startFrom('203.0.113.1')).status).toBe(200);
    expect((await startFrom('203.0.113.1')).status).toBe(200);
    expect((await startFrom('203.0.113.1')).status).toBe(429);
    // Another client behind the same proxy has its own budget; a spoofed left part changes nothing.
    expect((await startFrom('203.0.113.2')).status).toBe(200);
    expect((await startFrom('203.0.113.9, 203.0.113.1')).status).toBe(429);
  });

  it('ignores X-Forwarded-For without it', async () => {
    server = await startTestServer({ startBurst: 2, startRate: 1, maxSessions: 100 });
    expect((await startFrom('203.0.113.1')).status).toBe(200);
    expect((await startFrom('203.0.113.2')).status).toBe(200);
    expect((await startFrom('203.0.113.3')).status).toBe(429);
  });
});
