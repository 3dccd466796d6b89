import { readFileSync } from 'node:fs';
import { ConfigError, helpText, loadConfig, type Config } from './config.js';
import { createLogger, prettyLogs } from './logger.js';
import { startServer, type RunningServer } from './server.js';
import { StorageError } from './store/storageError.js';

/** Seconds a shutdown may take before the process gives up waiting. */
const SHUTDOWN_GRACE_MS = 5000;

/** The version in package.json (two folders up from dist/server/, one from server/). */
function version(): string {
  for (const path of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'livetable' && pkg.version !== undefined) return pkg.version;
    } catch {
      // not there: try the next
    }
  }
  return 'unknown';
}

/**
 * Why the server could not start, in one line a person can act on, when it
 * is something the person can fix (a port, an address, a data directory,
 * a store out of reach); undefined for anything else.
 */
function startFailure(error: unknown, config: Pick<Config, 'host' | 'port'>): string | undefined {
  if (error instanceof StorageError) return error.message;
  const where = `port ${config.port} on ${config.host}`;
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return `${where} is in use; stop what holds it, or pick another with --port`;
    case 'EACCES':
      return `${where} needs privileges this process does not have; pick a port above 1023 with --port`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${config.host} is not an address of this machine; pick another with --host`;
    default:
      return undefined;
  }
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`livetable: ${error.message}; see --help\n`);
    process.exit(2);
  }
  if (parsed.answer === 'help') {
    process.stdout.write(helpText());
    return;
  }
  if (parsed.answer === 'version') {
    process.stdout.write(`livetable ${version()}\n`);
    return;
  }
  const { config } = parsed;
  const logger = createLogger(config);
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
    running = await startServer(config, logger);
  } catch (error) {
    const reason = startFailure(error, config);
    if (reason === undefined) {
      // Not something an option fixes: the whole error, stack and all.
      logger.fatal({ err: error }, 'could not start');
      process.stderr.write(`livetable: could not start: ${(error as Error).message}\n`);
    } else {
      // One line on stderr says it; the log says it for machines, not twice on a terminal.
      if (!prettyLogs(config)) logger.fatal({ code: (error as { code?: unknown }).code, reason }, 'could not start');
      process.stderr.write(`livetable: could not start: ${reason}\n`);
    }
    process.exit(1);
  }
  if (stopping) stop(running);
}

void main();
