import { pino, type Logger } from 'pino';
import { defaultConfig, type Config } from '../server/config.js';
import { startServer, type RunningServer } from '../server/server.js';

/**
 * A real server on a free port of 127.0.0.1, with no limit on connections per
 * address unless a test sets one. It logs to `logger` when given, else
 * nowhere unless LIVETABLE_TEST_LOGS is set.
 */
export function startTestServer(overrides: Partial<Config> = {}, logger?: Logger): Promise<RunningServer> {
  const config = defaultConfig({
    port: 0,
    host: '127.0.0.1',
    randomSeed: 1,
    staticDir: 'no-such-dir',
    store: 'memory',
    // Every client of an in-process test comes from 127.0.0.1: the
    // per-address limits are tested on their own (abuse.test.ts).
    maxConnectionsPerAddress: 10_000,
    ...overrides,
  });
  return startServer(config, logger ?? pino({ level: process.env.LIVETABLE_TEST_LOGS ? 'debug' : 'silent' }));
}
