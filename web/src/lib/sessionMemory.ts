import { SESSION_ID_PATTERN } from '../../../shared/protocol';
import type { KeyValueStore } from './pageDeps';

/** sessionStorage key of the running session, so a reload picks it up again. */
export const SESSION_KEY = 'livetable.session';
/** sessionStorage key of the update count, so a reload does not reset the stat. */
export const UPDATES_KEY = 'livetable.updates';
/** The update count is saved for a reload at most this often (and when the page is hidden away). */
const UPDATES_WRITE_MS = 1000;

/**
 * What a reload of this tab needs to pick up its session: the session's id
 * and its update count, in sessionStorage. Storage that is full, denied or
 * missing loses only that: nothing here throws.
 */
export class SessionMemory {
  private updatesTimer: ReturnType<typeof setTimeout> | undefined;
  private updatesWrittenAt = -Infinity;

  /**
   * @param storage the tab's storage, or null where there is none.
   * @param read the session and its count as they are now, read when the count is written.
   */
  constructor(
    private readonly storage: () => KeyValueStore | null,
    private readonly read: () => { sessionId: string | null; updates: number },
  ) {}

  /** The session this tab was running, if any. */
  recall(): { id: string; updates: number } | null {
    let id: string | null = null;
    let updates = 0;
    this.use((s) => {
      id = s.getItem(SESSION_KEY);
      updates = Number(s.getItem(UPDATES_KEY)) || 0;
    });
    return id !== null && SESSION_ID_PATTERN.test(id) ? { id, updates } : null;
  }

  /** A new session, with no updates yet. */
  remember(id: string): void {
    this.use((s) => {
      s.setItem(SESSION_KEY, id);
      s.setItem(UPDATES_KEY, '0');
    });
  }

  forget(): void {
    this.cancel();
    this.use((s) => {
      s.removeItem(SESSION_KEY);
      s.removeItem(UPDATES_KEY);
    });
  }

  /**
   * The count changed: written at most once a second (a storage write is
   * synchronous, and a frame's worth of changes would pay for it every
   * frame), and at once by `saveNow` when the page goes away.
   */
  updatesChanged(): void {
    if (this.updatesTimer !== undefined) return;
    const wait = this.updatesWrittenAt + UPDATES_WRITE_MS - performance.now();
    if (wait <= 0) this.writeUpdates();
    else this.updatesTimer = setTimeout(() => this.writeUpdates(), wait);
  }

  /** Writes a count still waiting for its turn. */
  saveNow(): void {
    if (this.updatesTimer !== undefined) this.writeUpdates();
  }

  /** Drops a count waiting for its turn. */
  cancel(): void {
    clearTimeout(this.updatesTimer);
    this.updatesTimer = undefined;
  }

  private writeUpdates(): void {
    this.cancel();
    this.updatesWrittenAt = performance.now();
    const { updates, sessionId } = this.read();
    if (sessionId !== null) this.use((s) => s.setItem(UPDATES_KEY, String(updates)));
  }

  private use(action: (storage: KeyValueStore) => void): void {
    try {
      const storage = this.storage();
      if (storage) action(storage);
    } catch {
      // Storage full or denied: only the reload resume is lost.
    }
  }
}
