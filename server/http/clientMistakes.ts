import type { Logger } from 'pino';

/** One line per client per this long, at most; the next line says how many were left out. */
const WINDOW_MS = 10_000;
/** Clients remembered at once; past this the oldest is forgotten. */
const MAX_CLIENTS = 10_000;
/** Lines per window from all clients together: many clients cannot flood the log either. */
const MAX_LINES = 100;

export type ClientMistakeLog = ReturnType<typeof clientMistakeLog>;

/**
 * Logs what a client got wrong (a broken request, an aborted upload, a
 * request that timed out) at `info`, without stacks: a client's mistake is
 * not the server's error. One client gets at most one line per 10 s, and
 * all clients together at most 100; what is left out is counted
 * (`suppressed`) in a later line, so neither one client nor many can flood
 * the log.
 */
export function clientMistakeLog(logger: Logger, now: () => number = Date.now) {
  // In order of each client's last line, oldest first.
  const seen = new Map<string, { at: number; suppressed: number }>();
  const budget = { windowStart: Number.NEGATIVE_INFINITY, lines: 0, dropped: 0 };

  /** Starts a new window of the shared budget, saying what the last one dropped. */
  const renew = (t: number) => {
    if (t - budget.windowStart < WINDOW_MS) return;
    if (budget.dropped > 0) {
      logger.info(
        { code: 'repeated', suppressed: budget.dropped },
        'client mistakes left out of the log (all clients)',
      );
    }
    Object.assign(budget, { windowStart: t, lines: 0, dropped: 0 });
  };

  /** A line for one mistake, or for the `suppressed` ones a client was not told of. */
  const write = (client: string, code: string, message: string, suppressed = 0) => {
    if (budget.lines >= MAX_LINES) {
      budget.dropped += suppressed > 0 ? suppressed : 1;
      return;
    }
    budget.lines++;
    logger.info({ client, code, ...(suppressed > 0 ? { suppressed } : {}) }, message);
  };

  /** Forgets clients quiet for a whole window, saying what they were not told. */
  const sweep = (t: number) => {
    for (const [client, entry] of seen) {
      if (t - entry.at < WINDOW_MS && seen.size <= MAX_CLIENTS) break;
      seen.delete(client);
      if (entry.suppressed > 0) write(client, 'repeated', 'client mistakes left out of the log', entry.suppressed);
    }
  };

  return {
    /** Logs a mistake of `client` (its clientKey). */
    log(client: string, code: string, message: string): void {
      const t = now();
      renew(t);
      sweep(t);
      const last = seen.get(client);
      if (last !== undefined) {
        last.suppressed++;
        return;
      }
      seen.set(client, { at: t, suppressed: 0 });
      write(client, code, message);
    },
    /** Clients remembered now: those with a line in the last window. */
    get size(): number {
      const t = now();
      renew(t);
      sweep(t);
      return seen.size;
    },
  };
}
