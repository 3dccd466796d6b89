import { createParser } from 'eventsource-parser';
import type { StreamEvent } from '../shared/protocol.js';

export interface ReceivedEvent {
  id: string | undefined;
  event: StreamEvent;
}

export interface StreamClient {
  status: number;
  headers: Headers;
  /** The raw text received so far. */
  text: () => string;
  received: ReceivedEvent[];
  /** Resolves when a received event matches, or rejects after `timeoutMs`. */
  waitFor: (predicate: (event: StreamEvent) => boolean, timeoutMs?: number) => Promise<StreamEvent>;
  /** Resolves when the stream ends, cleanly or cut (see `failure`). */
  closed: Promise<void>;
  /** Why the stream broke off, if it did not end cleanly. */
  failure: () => unknown;
  close: () => void;
}

/**
 * A minimal SSE client over fetch, for tests: it keeps every event with its id
 * and never reconnects, so a test sees exactly what one connection carried.
 */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<StreamClient> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const received: ReceivedEvent[] = [];
  const waiters = new Set<() => void>();
  let raw = '';
  let failure: unknown;
  const parser = createParser({
    onEvent(message) {
      received.push({ id: message.id, event: JSON.parse(message.data) as StreamEvent });
      for (const wake of waiters) wake();
    },
  });

  const closed = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        raw += text;
        parser.feed(text);
      }
    } catch (error) {
      // A cut connection ends the stream too; what was cut is kept for the test.
      if (!abort.signal.aborted) failure = error;
    } finally {
      for (const wake of waiters) wake();
    }
  })();
  let ended = false;
  void closed.finally(() => (ended = true));

  return {
    status: response.status,
    headers: response.headers,
    text: () => raw,
    received,
    closed,
    failure: () => failure,
    close: () => abort.abort(),
    waitFor(predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = received.find((r) => predicate(r.event));
          if (hit) return done(() => resolve(hit.event));
          if (ended) return done(() => reject(new Error(`stream ended without the awaited event; got ${summary()}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting; got ${summary()}`))), timeoutMs);
        const done = (finish: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          finish();
        };
        const summary = () => received.map((r) => `${r.event.type}${'seq' in r.event ? r.event.seq : ''}`).join(',');
        waiters.add(check);
        check();
      });
    },
  };
}
