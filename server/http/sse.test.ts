import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../protocol.js';
import { eventId, formatEvent } from './sse.js';

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
      session_id: 'AAAAAAAAAAAAAAAA',
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
      data: [],
      version: 9,
      timestamp: 't',
      heartbeat_interval: 10,
    };
    expect(eventId(init)).toBe(9);
    expect(formatEvent({ type: 'heartbeat', timestamp: 't' })).toBe('data: {"type":"heartbeat","timestamp":"t"}\n\n');
    expect(eventId({ type: 'end', session_id: 'S', reason: 'stopped', message: 'm' })).toBeUndefined();
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
      session_id: 'S',
    };
    const messages = parse(formatEvent(event) + formatEvent({ type: 'heartbeat', timestamp: 't' }));
    expect(messages).toHaveLength(2);
    expect(JSON.parse(messages[0]!.data).data.name).toBe(nasty.name);
  });
});
