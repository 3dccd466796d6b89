import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../shared/protocol.js';
import { RETRY_MS, SseStream, eventId, formatEvent } from './sse.js';

const row = { id: 7, name: '李四', age: 30, city: '上海', score: 88.5, status: '活跃' as const };

/** Parses SSE text the way a browser would. */
function parse(text: string): EventSourceMessage[] {
  const messages: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (m) => messages.push(m) });
  parser.feed(text);
  return messages;
}

describe('formatEvent', () => {
  it('gives a change its seq as SSE id and its JSON as one data line', () => {
    const event: StreamEvent = {
      type: 'add',
      seq: 42,
      data: row,
      message: '添加了新用户: 李四',
      timestamp: '2026-01-01T00:00:00.000Z',
      generation_count: 3,
      origin: 's-0123456789ab',
    };
    const text = formatEvent(event);
    expect(text).toBe(`id: 42\ndata: ${JSON.stringify(event)}\n\n`);
    const [message] = parse(text);
    expect(message?.id).toBe('42');
    expect(message?.event).toBeUndefined();
    expect(JSON.parse(message!.data)).toEqual(event);
  });

  it('gives init the version as id, and heartbeats and end no id', () => {
    const init: StreamEvent = {
      type: 'init',
      session_id: 'S',
      origin: 's-0123456789ab',
      data: [],
      version: 9,
      timestamp: 't',
      heartbeat_interval: 10,
    };
    expect(eventId(init)).toBe(9);
    expect(formatEvent({ type: 'heartbeat', timestamp: 't' })).toBe('data: {"type":"heartbeat","timestamp":"t"}\n\n');
    expect(
      eventId({ type: 'end', session_id: 'S', reason: 'stopped', message: 'm', timestamp: '2025-01-01T12:00:00.000Z' }),
    ).toBeUndefined();
  });

  it('keeps a payload with line breaks and separators inside one event', () => {
    const nasty = { ...row, name: 'a\nb\r\nc\u2028d\n\ndata: forged' };
    const event: StreamEvent = {
      type: 'add',
      seq: 1,
      data: nasty,
      message: 'm',
      timestamp: 't',
      generation_count: 1,
      origin: 's-0123456789ab',
    };
    const messages = parse(formatEvent(event) + formatEvent({ type: 'heartbeat', timestamp: 't' }));
    expect(messages).toHaveLength(2);
    expect(JSON.parse(messages[0]!.data).data.name).toBe(nasty.name);
  });
});

describe('SseStream', () => {
  /** A response whose unsent byte count the test sets, as Node's corking would leave it. */
  function fakeResponse() {
    const res = {
      writableLength: 0,
      written: [] as string[],
      writeHead: () => res,
      removeHeader: () => undefined,
      write(text: string) {
        res.written.push(text);
        res.writableLength += Buffer.byteLength(text);
        return true;
      },
      on: () => res,
      once: () => res,
      end: () => res,
      destroy: () => res,
    };
    // Events go to the socket once the head is out; its buffer is the response's.
    const req = {
      socket: { setNoDelay: () => undefined, setKeepAlive: () => undefined, on: () => undefined, write: res.write },
    };
    return { res, req };
  }

  it('counts as pending only the messages written since its buffer was last empty', () => {
    const { res, req } = fakeResponse();
    const stream = new SseStream(req as never, res as never, {
      full: false,
      maxBuffer: 1 << 20,
      onOverflow: () => undefined,
      onClose: () => undefined,
    });
    stream.send('data: a\n\n', 1);
    stream.send('data: b\n\ndata: c\n\n', 2);
    expect(stream.pending).toBe(3);
    res.writableLength = 0; // the socket took it all
    expect(stream.pending).toBe(0);
    stream.send('data: d\n\n', 1);
    expect(stream.pending).toBe(1);
  });

  it('cuts a reader more than --max-buffer behind, but lets one message bigger than that through', () => {
    const { res, req } = fakeResponse();
    let overflows = 0;
    const stream = new SseStream(req as never, res as never, {
      full: false,
      maxBuffer: 100,
      onOverflow: () => overflows++,
      onClose: () => undefined,
    });
    // 60 characters, 180 bytes of UTF-8: over the limit by bytes, not by length.
    expect(stream.send(`data: ${'表'.repeat(60)}\n\n`, 1)).toBe(true);
    expect(stream.send('data: x\n\n', 1)).toBe(true);
    expect(overflows).toBe(0);
    res.writableLength = 500;
    expect(stream.send('data: y\n\n', 1)).toBe(false);
    expect(overflows).toBe(1);
  });

  it('sends each message as its own bytes on the wire, without chunk framing, until the connection closes', async () => {
    let stream: SseStream | undefined;
    const server = createServer((req, res) => {
      stream = new SseStream(req, res, {
        full: false,
        maxBuffer: 1 << 20,
        onOverflow: () => undefined,
        onClose: () => undefined,
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let wire = '';
    socket.on('data', (data: Buffer) => (wire += data.toString('latin1')));
    socket.write('GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await expect.poll(() => stream).toBeDefined();
    await expect.poll(() => wire).toContain(`retry: ${RETRY_MS}\n\n`);
    stream!.send('data: a\n\n', 1);
    stream!.end('data: b\n\n');
    await new Promise((resolve) => socket.once('close', resolve));
    server.close();
    const [head, body] = wire.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(head).not.toMatch(/transfer-encoding/i);
    expect(head).not.toMatch(/content-length/i);
    expect(head).toMatch(/\r\nconnection: close/i);
    expect(body).toBe(`retry: ${RETRY_MS}\n\ndata: a\n\ndata: b\n\n`);
  });
});
