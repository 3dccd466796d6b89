import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

/**
 * Log lines on stdout: one JSON object per line for machines, or, for a
 * person at a terminal (`--log-format auto`, the default, when stdout is
 * one), one readable line each: the time, the level, the message, and the
 * fields after it. Errors are always written (the level never hides them
 * unless it is `silent`); request lines only with --access-log.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, destination?: DestinationStream): Logger {
  const options = { name: 'livetable', level: config.logLevel };
  if (destination !== undefined || !prettyLogs(config)) return pino(options, destination);
  return pino(
    options,
    pretty({
      sync: true,
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,name',
      hideObject: true,
      messageFormat: (log, messageKey) => readable(log, messageKey),
    }),
  );
}

/** Keys every line has, shown by the prettifier itself or not at all. */
const OWN_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'err']);

/**
 * A log line for a person: the message, then its fields as key=value. The
 * line that says the server is up reads as a sentence with the URL to open.
 */
export function readable(log: Record<string, unknown>, messageKey = 'msg'): string {
  const message = String(log[messageKey] ?? '');
  if (message === 'listening' && typeof log.url === 'string') {
    const store = [log.store, log.where].filter((part) => typeof part === 'string' && part !== '').join(', ');
    return `Livetable listening on ${log.url} (store: ${store})`;
  }
  const fields = Object.entries(log)
    .filter(([key]) => !OWN_KEYS.has(key) && key !== messageKey)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const line = [message, ...fields].join(' ');
  // An error says what it was; at error level and above, where it was, too.
  const err = log.err as { message?: unknown; stack?: unknown } | undefined;
  if (err === undefined || err === null) return line;
  const stack = typeof err.stack === 'string' && Number(log.level) >= 50 ? `\n${err.stack}` : '';
  return `${line} err=${String(err.message ?? JSON.stringify(err))}${stack}`;
}

/** Whether log lines are written for a person to read. */
export function prettyLogs(config: Pick<Config, 'logFormat'>): boolean {
  return config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
}
