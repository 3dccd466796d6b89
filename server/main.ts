import { ConfigError, helpText, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startServer, type RunningServer } from './server.js';

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
  // Listened for before the server starts: a signal that comes between its
  // `listening` line and a handler would otherwise kill it without a shutdown.
  let running: RunningServer | undefined;
  let stopping = false;
  const stop = (server: RunningServer) => {
    setTimeout(() => {
      logger.warn('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    void server.close().then(() => {
      logger.info('stopped');
      process.exit(0);
    });
  };
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    if (running) stop(running);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  try {
    running = await startServer(parsed.config, logger);
  } catch (error) {
    // Storage and listen errors are the operator's to fix: say what and where.
    logger.fatal({ err: error }, 'could not start');
    process.stderr.write(`livetable: could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  if (stopping) stop(running);
}

void main();
