/** What the live table needs from the page, and the real page's versions of it. */

/** The part of `EventSource` this module uses, so tests can hand in a fake. */
export interface StreamSource {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent<string>) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(): void;
}

export type KeyValueStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** Everything with side effects the live table needs from the page. */
export interface LiveTableDeps {
  openStream: (url: string) => StreamSource;
  fetch: (input: string, init?: RequestInit) => Promise<Response>;
  /** Null when storage is unavailable (private mode, sandboxed frame). */
  storage: () => KeyValueStore | null;
  /** The current time as an ISO string, for local log entries. */
  now: () => string;
  /**
   * Runs `flush` soon, once: the page folds everything the stream delivered
   * meanwhile in one go. Without it (tests) each message is applied at once.
   */
  schedule?: (flush: () => void) => void;
  /** Calls `listener` with false when the tab is hidden and true when it shows again. */
  onVisibilityChange?: (listener: (visible: boolean) => void) => void;
  /** Calls `save` when the page is being unloaded or put away (pagehide). */
  onPageHide?: (save: () => void) => void;
  /** Changes held back while paused before the page lets them go and reloads on resume; MAX_HELD by default. */
  maxHeld?: number;
}

/** The real page: EventSource, fetch, sessionStorage, the clock, animation frames. */
export function browserDeps(): LiveTableDeps {
  return {
    openStream: (url) => new EventSource(url),
    fetch: (input, init) => fetch(input, init),
    storage: () => {
      try {
        return sessionStorage;
      } catch {
        return null;
      }
    },
    now: () => new Date().toISOString(),
    schedule: nextFrame,
    // (The module's own live table is also built where there is no window: tests, SSR.)
    onPageHide: (save) => globalThis.addEventListener?.('pagehide', save),
    onVisibilityChange: (listener) =>
      globalThis.document?.addEventListener('visibilitychange', () => listener(document.visibilityState !== 'hidden')),
  };
}

/**
 * The next animation frame, or a timer if frames do not come: a hidden tab
 * gets none, and its queue must not grow for as long as it stays hidden.
 */
function nextFrame(flush: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    cancelAnimationFrame(frame);
    clearTimeout(timer);
    flush();
  };
  const frame = requestAnimationFrame(once);
  const timer = setTimeout(once, FRAME_FALLBACK_MS);
}

/** How long a change may wait for a frame before it is applied without one. */
const FRAME_FALLBACK_MS = 250;
