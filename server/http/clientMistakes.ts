import type { Logger } from 'pino';

/** One line per address per this long, at most; the next line says how many were left out. */
const WINDOW_MS = 10_000;
/** Addresses remembered at once; past this the oldest is forgotten. */
const MAX_ADDRESSES = 10_000;

export type ClientMistakeLog = ReturnType<typeof clientMistakeLog>;

/**
 * Logs what a client got wrong (a broken request, an aborted upload, a
 * request that timed out) at `info`, without stacks: a client's mistake is
 * not the server's error. One address gets at most one line per 10 s; the
 * lines it would have had are counted in the next one (`suppressed`), so a
 * client that repeats a mistake cannot flood the log.
 */
export function clientMistakeLog(logger: Logger, now: () => number = Date.now) {
  // In order of each address's last line, oldest first.
  const seen = new Map<string, { at: number; suppressed: number }>();
  const write = (client: string, code: string, message: string, suppressed: number) =>
    logger.info({ client, code, ...(suppressed > 0 ? { suppressed } : {}) }, message);

  /** Forgets addresses quiet for a whole window, saying what they were not told. */
  const sweep = (t: number) => {
    for (const [client, entry] of seen) {
      if (t - entry.at < WINDOW_MS && seen.size <= MAX_ADDRESSES) break;
      seen.delete(client);
      if (entry.suppressed > 0) write(client, 'repeated', 'client mistakes left out of the log', entry.suppressed);
    }
  };

  return {
    log(address: string | undefined, code: string, message: string): void {
      const client = address ?? 'unknown';
      const t = now();
      sweep(t);
      const last = seen.get(client);
      if (last !== undefined) {
        last.suppressed++;
        return;
      }
      seen.set(client, { at: t, suppressed: 0 });
      write(client, code, message, 0);
    },
    /** Addresses remembered now: those with a line in the last window. */
    get size(): number {
      sweep(now());
      return seen.size;
    },
  };
}
