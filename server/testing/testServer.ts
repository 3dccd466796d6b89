import { pino } from 'pino';
import { defaultConfig, type Config } from '../config.js';
import { startServer, type RunningServer } from '../server.js';

/** A real server on a free port of 127.0.0.1, quiet unless LIVETABLE_TEST_LOGS is set. */
export function startTestServer(overrides: Partial<Config> = {}): Promise<RunningServer> {
  const config = defaultConfig({
    port: 0,
    host: '127.0.0.1',
    randomSeed: 1,
    staticDir: 'no-such-dir',
    store: 'memory',
    ...overrides,
  });
  const logger = pino({ level: process.env.LIVETABLE_TEST_LOGS ? 'debug' : 'silent' });
  return startServer(config, logger);
}
