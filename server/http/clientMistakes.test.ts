import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { clientMistakeLog } from './clientMistakes.js';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  let t = 0;
  const log = clientMistakeLog(pino({ level: 'info' }, destination), () => t);
  return { log, lines, advance: (ms: number) => (t += ms) };
}

describe('the client-mistake log', () => {
  it('writes one info line per address per 10 s, then says how many it left out', async () => {
    const { log, lines, advance } = setup();
    for (let i = 0; i < 50; i++) log.log('10.0.0.1', 'bad_request', 'broken request');
    log.log('10.0.0.2', 'request_timeout', 'late request');
    advance(10_001);
    log.log('10.0.0.3', 'bad_request', 'broken request');
    await new Promise((r) => setImmediate(r));
    expect(lines.map(({ client, code, suppressed, level }) => ({ client, code, suppressed, level }))).toEqual([
      { client: '10.0.0.1', code: 'bad_request', suppressed: undefined, level: 30 },
      { client: '10.0.0.2', code: 'request_timeout', suppressed: undefined, level: 30 },
      { client: '10.0.0.1', code: 'repeated', suppressed: 49, level: 30 },
      { client: '10.0.0.3', code: 'bad_request', suppressed: undefined, level: 30 },
    ]);
  });

  it('writes at most 100 lines a window from all clients together, then says how many it left out', async () => {
    const { log, lines, advance } = setup();
    for (let i = 0; i < 5000; i++) log.log(`10.0.${i >> 8}.${i & 255}`, 'bad_request', 'broken request');
    advance(10_001);
    log.log('10.9.9.9', 'bad_request', 'broken request');
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((line) => line.code === 'bad_request')).toHaveLength(101);
    expect(lines.find((line) => line.code === 'repeated')).toMatchObject({ suppressed: 4900 });
  });

  it('forgets every address a window after its last line, and never holds more than 10,000', () => {
    const { log, advance } = setup();
    for (let i = 0; i < 30_000; i++) log.log(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 'bad_request', 'x');
    expect(log.size).toBeLessThanOrEqual(10_000);
    advance(10_001);
    expect(log.size).toBe(0);
  });
});
