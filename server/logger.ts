import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/**
 * One JSON line per event on stdout. Errors are always written (the level
 * never hides them unless it is `silent`); request lines only with --access-log.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino({ name: 'livetable', level: config.logLevel }, destination);
}
