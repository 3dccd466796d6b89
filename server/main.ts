import { ConfigError, helpText, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

/** Seconds a shutdown may take before the process gives up waiting. */
const SHUTDOWN_GRACE_MS = 5000;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`livetable: ${error.message}\nRun with --help to see every option.\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(helpText());
    return;
  }
  const logger = createLogger(parsed.config);
  let running;
  try {
    running = await startServer(parsed.config, logger);
  } catch (error) {
    // Storage and listen errors are the operator's to fix: say what and where.
    logger.fatal({ err: error }, 'could not start');
    process.stderr.write(`livetable: could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.warn('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    void running.close().then(() => {
      logger.info('stopped');
      process.exit(0);
    });
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

void main();
