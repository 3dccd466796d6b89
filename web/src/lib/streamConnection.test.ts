import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../../shared/protocol';
import type { StreamSource } from './pageDeps';
import { initialState, reduce, type LiveState, type Message } from './reducer';
import { StreamConnection } from './streamConnection';

class FakeSource implements StreamSource {
  readyState = 1;
  onopen: StreamSource['onopen'] = null;
  onmessage: StreamSource['onmessage'] = null;
  onerror: StreamSource['onerror'] = null;
  constructor(readonly url: string) {}
  close(): void {
    this.readyState = 2;
  }
  send(data: string): void {
    this.onmessage?.({ data } as MessageEvent<string>);
  }
}

const T0 = '2025-01-01T12:00:00.000Z';
const change = (seq: number) =>
  JSON.stringify({
    type: 'update',
    data: { id: 1, score: 90 },
    message: '',
    seq,
    timestamp: T0,
    generation_count: seq,
    origin: null,
  });

/**
 * A stream over a host that queues what it is given until `fold` (a frame),
 * so what the stream decides before a frame is seen apart from the fold.
 */
function setup() {
  const sources: FakeSource[] = [];
  let state: LiveState = reduce(initialState(), { type: 'loaded', data: [], version: 10, timestamp: T0 });
  let queue: Message[] = [];
  const delivered: StreamEvent[] = [];
  const notes: string[] = [];
  const fold = () => {
    state = queue.reduce(reduce, state);
    queue = [];
  };
  const stream = new StreamConnection(
    {
      openStream: (url) => {
        const source = new FakeSource(url);
        sources.push(source);
        return source;
      },
      fetch: () => Promise.reject(new Error('no probe in these tests')),
    },
    {
      current: () => (fold(), state),
      latest: () => state,
      dispatch: (action) => (fold(), (state = reduce(state, action))),
      deliver: (message) => void (delivered.push(message), queue.push(message)),
      flush: fold,
      note: (_kind, key) => void notes.push(key),
      sessionOver: () => undefined,
    },
  );
  return { stream, sources, delivered, notes, fold, seqs: () => delivered.map((m) => ('seq' in m ? m.seq : m.type)) };
}

describe('StreamConnection: what reaches the table', () => {
  it('resumes from the version held, and drops replays of what it already passed on, folded or not', () => {
    const t = setup();
    t.stream.open(null, true);
    expect(t.sources[0]?.url).toBe('/api/stream?since=10');
    for (const seq of [10, 11, 12, 11]) t.sources[0]?.send(change(seq));
    // 12 and the second 11 came before any frame: still told apart.
    expect(t.seqs()).toEqual([11, 12]);
    t.fold();
    t.sources[0]?.send(change(12));
    t.sources[0]?.send(change(13));
    expect(t.seqs()).toEqual([11, 12, 13]);
  });

  it('a gap is not passed on: the stream starts over from a fresh snapshot', () => {
    const t = setup();
    t.stream.open('AbCdEfGh12345678', true);
    t.sources[0]?.send(change(11));
    t.sources[0]?.send(change(13));
    expect(t.seqs()).toEqual([11]);
    expect(t.notes).toContain('log.gap');
    expect(t.sources[0]?.readyState).toBe(2);
    expect(t.sources[1]?.url).toBe('/api/stream/AbCdEfGh12345678');
  });

  it('a message that is not a stream event is logged and dropped', () => {
    const t = setup();
    t.stream.open(null, true);
    t.sources[0]?.send('{"type":"nonsense"}');
    t.sources[0]?.send('not json');
    expect(t.delivered).toEqual([]);
    expect(t.notes).toEqual(['log.badMessage', 'log.badMessage']);
  });
});
