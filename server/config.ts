import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The folder holding package.json, wherever the server is started from. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Every option of the server. docs/configuration.md describes each one. */
export interface Config {
  host: string;
  port: number;
  updateInterval: number;
  changesPerTick: number;
  heartbeatInterval: number;
  /** A stream gets at most one write of changes per this many milliseconds; 0: one per event-loop turn. */
  flushInterval: number;
  sessionTimeout: number;
  minRecords: number;
  maxRecords: number;
  seedRows: number;
  weights: { add: number; update: number; delete: number; batch_update: number };
  batchSize: number;
  history: number;
  maxConnectionsPerSession: number;
  maxConnections: number;
  /** Percent of maxConnections that watch streams (GET /api/stream) may take. */
  watchShare: number;
  maxSessions: number;
  /** Open connections (streams or not) one client address may hold. */
  maxConnectionsPerAddress: number;
  /** Sessions one client address may have running at once. */
  maxSessionsPerAddress: number;
  /** Requests one connection may have in flight (pipelined) before it is cut. */
  maxPipelined: number;
  /** Milliseconds a client cut for pipelining has its new connections closed unread; 0 never. */
  pipelineCutOff: number;
  /** Milliseconds a client may take to send a request's headers (408 after). */
  headersTimeout: number;
  /** Milliseconds a client may take to send a whole request, body included (408 after). */
  requestTimeout: number;
  /** Host names, besides loopback and the listen address, that requests may name in `Host`. */
  allowedHosts: string[];
  maxBuffer: number;
  maxBody: number;
  startRate: number;
  startBurst: number;
  /** Whether the write API (`POST`, `PATCH`, `DELETE /api/rows…`) is on. */
  writes: boolean;
  /** Writes one client address may make per minute, after a burst of `writeBurst`. */
  writeRate: number;
  writeBurst: number;
  allowedOrigins: string[];
  authSecret: string | undefined;
  authJwksUrl: string | undefined;
  authAudience: string;
  authIssuer: string | undefined;
  /** With auth on, who may open a session's stream: its owner's token, or anyone with its id. */
  streamAuth: StreamAuth;
  store: StoreKind;
  dataDir: string;
  /** With --store redis: `redis://[:password@]host:port[/db]` or `rediss://…`. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key, so several tables can share one Redis. */
  redisPrefix: string;
  /** Proxies in front that add X-Forwarded-For; 0 ignores the header. */
  trustProxy: number;
  logLevel: LogLevel;
  /** Log lines as JSON, or pretty for a person; `auto` is pretty when stdout is a terminal. */
  logFormat: LogFormat;
  accessLog: boolean;
  staticDir: string;
  randomSeed: number | undefined;
}

export const STREAM_AUTH = ['owner', 'session-id'] as const;
export type StreamAuth = (typeof STREAM_AUTH)[number];

export const STORE_KINDS = ['sqlite', 'redis', 'memory'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A bad option value: the message names the option and says what it takes. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface OptionSpec<K extends keyof Config> {
  key: K;
  flag: string;
  /** The default, as it would be written on the command line. */
  fallback: string | undefined;
  meta: string;
  help: string;
  parse: (raw: string, flag: string) => Config[K];
  boolean?: true;
}

const MAX_MS = 2 ** 31 - 1; // the longest delay a Node timer can hold

function integer(min: number, max: number) {
  return (raw: string, flag: string): number => {
    const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`${flag} must be a whole number from ${min} to ${max} (got "${raw}")`);
    }
    return value;
  };
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string, flag: string): T => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new ConfigError(`${flag} must be one of ${values.join(', ')} (got "${raw}")`);
    }
    return raw as T;
  };
}

function bool(raw: string, flag: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${flag} must be true or false (got "${raw}")`);
}

function onOff(raw: string, flag: string): boolean {
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new ConfigError(`${flag} must be on or off (got "${raw}")`);
}

function text(raw: string, flag: string): string {
  if (raw.trim() === '') throw new ConfigError(`${flag} must not be empty`);
  return raw;
}

/** A Redis URL; the value is never echoed, since it may hold a password. */
function redisUrl(raw: string, flag: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !/^rediss?:$/.test(url.protocol) || url.hostname === '' || !/^(\/\d{0,2})?$/.test(url.pathname)) {
    throw new ConfigError(`${flag} takes a URL like redis://HOST:PORT or redis://:PASSWORD@HOST:PORT/0`);
  }
  return raw;
}

function origins(raw: string, flag: string): string[] {
  const list = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  for (const origin of list) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== origin) {
      throw new ConfigError(`${flag} takes origins like https://example.com, comma-separated (got "${origin}")`);
    }
  }
  return list;
}

function hostNames(raw: string, flag: string): string[] {
  const list = raw
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean);
  const name = /^(\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
  for (const host of list) {
    if (!name.test(host) && !isIPv6(host.replace(/^\[(.*)\]$/, '$1'))) {
      throw new ConfigError(
        `${flag} takes host names like app.example.com or .example.com, or IP addresses, comma-separated (got "${host}")`,
      );
    }
  }
  return list;
}

function httpUrl(raw: string, flag: string): string {
  try {
    if (/^https?:$/.test(new URL(raw).protocol)) return raw;
  } catch {
    // reported below
  }
  throw new ConfigError(`${flag} must be an http(s) URL (got "${raw}")`);
}

function secret(raw: string, flag: string): string {
  if (raw.length < 32) throw new ConfigError(`${flag} must be at least 32 characters long`);
  return raw;
}

function weights(raw: string, flag: string): Config['weights'] {
  const parts = raw.split(',').map((part) => part.trim());
  const numbers = parts.map((part) => (/^\d+(\.\d+)?$/.test(part) ? Number(part) : NaN));
  if (parts.length < 3 || parts.length > 4 || numbers.some((n) => !Number.isFinite(n))) {
    throw new ConfigError(
      `${flag} takes three or four non-negative numbers: add,update,delete[,batch_update] (got "${raw}")`,
    );
  }
  const [add = 0, update = 0, del = 0, batch = 0] = numbers;
  if (add + update + del + batch <= 0) throw new ConfigError(`${flag} needs at least one weight above 0`);
  return { add, update, delete: del, batch_update: batch };
}

const spec = <K extends keyof Config>(s: OptionSpec<K>) => s;

const OPTIONS = [
  spec({ key: 'host', flag: 'host', fallback: '127.0.0.1', meta: 'ADDR', help: 'Address to listen on', parse: text }),
  spec({
    key: 'port',
    flag: 'port',
    fallback: '8088',
    meta: 'N',
    help: 'Port to listen on (0 picks a free one)',
    parse: integer(0, 65535),
  }),
  spec({
    key: 'updateInterval',
    flag: 'update-interval',
    fallback: '2000',
    meta: 'MS',
    help: 'Milliseconds between changes a session makes',
    parse: integer(1, MAX_MS),
  }),
  spec({
    key: 'changesPerTick',
    flag: 'changes-per-tick',
    fallback: '1',
    meta: 'N',
    help: 'Changes a session makes at each --update-interval tick',
    parse: integer(1, 10_000),
  }),
  spec({
    key: 'heartbeatInterval',
    flag: 'heartbeat-interval',
    fallback: '10000',
    meta: 'MS',
    help: 'Milliseconds between heartbeats on every stream',
    parse: integer(10, MAX_MS),
  }),
  spec({
    key: 'flushInterval',
    flag: 'flush-interval',
    fallback: '20',
    meta: 'MS',
    help: 'Milliseconds between two writes of changes to a stream, at least',
    parse: integer(0, 1000),
  }),
  spec({
    key: 'sessionTimeout',
    flag: 'session-timeout',
    fallback: '300000',
    meta: 'MS',
    help: 'A session ends this long after it starts',
    parse: integer(1, MAX_MS),
  }),
  spec({
    key: 'minRecords',
    flag: 'min-records',
    fallback: '3',
    meta: 'N',
    help: 'Deletes never take the table below this many rows',
    parse: integer(0, 10_000_000),
  }),
  spec({
    key: 'maxRecords',
    flag: 'max-records',
    fallback: '1000',
    meta: 'N',
    help: 'Adds never take the table above this many rows',
    parse: integer(1, 10_000_000),
  }),
  spec({
    key: 'seedRows',
    flag: 'seed-rows',
    fallback: '10',
    meta: 'N',
    help: 'Rows a new table starts with (a table already in --data-dir is kept)',
    parse: integer(0, 10_000_000),
  }),
  spec({
    key: 'weights',
    flag: 'weights',
    fallback: '40,50,10',
    meta: 'A,U,D[,B]',
    help: 'Relative weights of add, update, delete and batch_update',
    parse: weights,
  }),
  spec({
    key: 'batchSize',
    flag: 'batch-size',
    fallback: '5',
    meta: 'N',
    help: 'Rows one batch_update changes',
    parse: integer(1, 10_000),
  }),
  spec({
    key: 'history',
    flag: 'history',
    fallback: '1000',
    meta: 'N',
    help: 'Changes kept so reconnecting clients can resume',
    parse: integer(100, 10_000_000),
  }),
  spec({
    key: 'maxConnectionsPerSession',
    flag: 'max-connections-per-session',
    fallback: '5',
    meta: 'N',
    help: 'Open streams one session may have',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'maxConnections',
    flag: 'max-connections',
    fallback: '100',
    meta: 'N',
    help: 'Open streams in all',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'watchShare',
    flag: 'watch-share',
    fallback: '50',
    meta: 'PERCENT',
    help: 'Share of --max-connections the session-less watch streams may take; the rest stays for session streams',
    parse: integer(1, 100),
  }),
  spec({
    key: 'maxConnectionsPerAddress',
    flag: 'max-connections-per-address',
    fallback: '20',
    meta: 'N',
    help: 'Open connections, streaming or not, one client address may hold',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'maxSessionsPerAddress',
    flag: 'max-sessions-per-address',
    fallback: '5',
    meta: 'N',
    help: 'Sessions one client address may have running at once',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'maxPipelined',
    flag: 'max-pipelined',
    fallback: '8',
    meta: 'N',
    help: 'Requests one connection may have in flight before it is cut (browsers never pipeline)',
    parse: integer(1, 1000),
  }),
  spec({
    key: 'pipelineCutOff',
    flag: 'pipeline-cut-off',
    fallback: '10000',
    meta: 'MS',
    help: 'How long an address cut for pipelining has new connections closed unread (0: never)',
    parse: integer(0, MAX_MS),
  }),
  spec({
    key: 'headersTimeout',
    flag: 'headers-timeout',
    fallback: '10000',
    meta: 'MS',
    help: 'Time a client may take to send request headers (408 after)',
    parse: integer(1000, MAX_MS),
  }),
  spec({
    key: 'requestTimeout',
    flag: 'request-timeout',
    fallback: '30000',
    meta: 'MS',
    help: 'Time a client may take to send a whole request (408 after)',
    parse: integer(1000, MAX_MS),
  }),
  spec({
    key: 'allowedHosts',
    flag: 'allowed-hosts',
    fallback: '',
    meta: 'HOSTS',
    help: 'Host names requests may use besides localhost, loopback and --host, comma-separated',
    parse: hostNames,
  }),
  spec({
    key: 'maxBuffer',
    flag: 'max-buffer',
    fallback: '1048576',
    meta: 'BYTES',
    help: 'Unsent bytes a stream may hold for a slow reader before it is closed',
    parse: integer(1024, 2 ** 30),
  }),
  spec({
    key: 'maxSessions',
    flag: 'max-sessions',
    fallback: '100',
    meta: 'N',
    help: 'Sessions running at once',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'store',
    flag: 'store',
    fallback: 'sqlite',
    meta: 'KIND',
    help: 'Where the table lives: sqlite (a file in --data-dir, one process), redis (shared by every server on --redis-url) or memory',
    parse: oneOf(STORE_KINDS),
  }),
  spec({
    key: 'dataDir',
    flag: 'data-dir',
    fallback: './data',
    meta: 'DIR',
    help: 'Directory of the SQLite file (created if missing)',
    parse: text,
  }),
  spec({
    key: 'redisUrl',
    flag: 'redis-url',
    fallback: undefined,
    meta: 'URL',
    help: 'With --store redis: redis://[:PASSWORD@]HOST:PORT[/DB] (rediss:// for TLS)',
    parse: redisUrl,
  }),
  spec({
    key: 'redisPrefix',
    flag: 'redis-prefix',
    fallback: 'livetable:',
    meta: 'PREFIX',
    help: 'Prefix of every Redis key: one table per prefix',
    parse: text,
  }),
  spec({
    key: 'trustProxy',
    flag: 'trust-proxy',
    fallback: '0',
    meta: 'N',
    help: 'Proxies in front that set X-Forwarded-For: the client is the address N hops back (0: ignore the header)',
    parse: integer(0, 10),
  }),
  spec({
    key: 'maxBody',
    flag: 'max-body',
    fallback: '1024',
    meta: 'BYTES',
    help: 'Largest request body accepted',
    parse: integer(0, 1_048_576),
  }),
  spec({
    key: 'startRate',
    flag: 'start-rate',
    fallback: '30',
    meta: 'N',
    help: 'Sessions one client address may start per minute',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'startBurst',
    flag: 'start-burst',
    fallback: '10',
    meta: 'N',
    help: 'Sessions one client address may start at once before --start-rate applies',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'writes',
    flag: 'writes',
    fallback: 'on',
    meta: 'on|off',
    help: 'Whether programs and pages may add, change and delete rows (POST, PATCH, DELETE /api/rows)',
    parse: onOff,
  }),
  spec({
    key: 'writeRate',
    flag: 'write-rate',
    fallback: '600',
    meta: 'N',
    help: 'Writes one client address may make per minute',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'writeBurst',
    flag: 'write-burst',
    fallback: '60',
    meta: 'N',
    help: 'Writes one client address may make at once before --write-rate applies',
    parse: integer(1, 1_000_000),
  }),
  spec({
    key: 'allowedOrigins',
    flag: 'allowed-origins',
    fallback: '',
    meta: 'ORIGINS',
    help: 'Other origins whose pages may call the API, comma-separated (default: none)',
    parse: origins,
  }),
  spec({
    key: 'authSecret',
    flag: 'auth-secret',
    fallback: undefined,
    meta: 'SECRET',
    help: 'Require an HS256 JWT signed with this secret to start and stop sessions',
    parse: secret,
  }),
  spec({
    key: 'authJwksUrl',
    flag: 'auth-jwks-url',
    fallback: undefined,
    meta: 'URL',
    help: 'Require a JWT signed by a key of this JWKS to start and stop sessions',
    parse: httpUrl,
  }),
  spec({
    key: 'authAudience',
    flag: 'auth-audience',
    fallback: 'livetable',
    meta: 'AUD',
    help: 'The audience (aud) a token must name',
    parse: text,
  }),
  spec({
    key: 'authIssuer',
    flag: 'auth-issuer',
    fallback: undefined,
    meta: 'ISS',
    help: 'The issuer (iss) a token must name (default: any)',
    parse: text,
  }),
  spec({
    key: 'streamAuth',
    flag: 'stream-auth',
    fallback: 'owner',
    meta: 'WHO',
    help: "With --auth-*, who may open a session's stream: owner (its owner's token) or session-id (its id alone)",
    parse: oneOf(STREAM_AUTH),
  }),
  spec({
    key: 'logLevel',
    flag: 'log-level',
    fallback: 'info',
    meta: 'LEVEL',
    help: `Least severe log level written (${LOG_LEVELS.join(', ')})`,
    parse: oneOf(LOG_LEVELS),
  }),
  spec({
    key: 'logFormat',
    flag: 'log-format',
    fallback: 'auto',
    meta: 'FORMAT',
    help: 'Log lines as json, or pretty for a person to read; auto is pretty on a terminal, json otherwise',
    parse: oneOf(LOG_FORMATS),
  }),
  spec({
    key: 'accessLog',
    flag: 'access-log',
    fallback: 'false',
    meta: '',
    help: 'Log one line per HTTP request',
    parse: bool,
    boolean: true,
  }),
  spec({
    key: 'staticDir',
    flag: 'static-dir',
    fallback: join(packageRoot(), 'dist', 'web'),
    meta: 'DIR',
    help: 'The built web app to serve',
    parse: text,
  }),
  spec({
    key: 'randomSeed',
    flag: 'random-seed',
    fallback: undefined,
    meta: 'N',
    help: 'Seed for the change generator, for repeatable runs (default: random)',
    parse: integer(0, 2 ** 31 - 1),
  }),
];

/** `update-interval` → `LIVETABLE_UPDATE_INTERVAL`. */
export function envName(flag: string): string {
  return `LIVETABLE_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** The width `--help` fits in. */
export const HELP_WIDTH = 80;
const HELP_INDENT = '      ';

/** `text` in lines of at most `width` characters, each starting with `indent`. */
function wrap(text: string, indent: string, width = HELP_WIDTH): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/** Every option, its default (once) and its environment variable, in HELP_WIDTH columns. */
export function helpText(): string {
  const rows = OPTIONS.flatMap((o) => {
    // A default with no value to write (none, any, random) is worded in the help.
    const worded = /\s*\(default: ([^)]*)\)$/.exec(o.help);
    const help = worded === null ? o.help : o.help.slice(0, worded.index);
    const value = worded?.[1] ?? o.fallback;
    const fallback = value === undefined || value === '' ? '' : `default ${value}, `;
    return [
      `  --${o.flag}${o.meta ? ` ${o.meta}` : ''}`,
      ...wrap(`${help}.`, HELP_INDENT),
      `${HELP_INDENT}${fallback}env ${envName(o.flag)}`,
    ];
  });
  return [
    'Usage: livetable [options]',
    '',
    ...wrap(
      'Serves the live table app and its SSE API. Every option can also be set by its environment variable; a flag wins over the variable. Durations are in milliseconds. See docs/configuration.md.',
      '',
    ),
    '',
    'Options:',
    ...rows,
    '  --help, -h',
    `${HELP_INDENT}Show this help and exit.`,
    '  --version, -v',
    `${HELP_INDENT}Show the version and exit.`,
    '',
  ].join('\n');
}

/** What the command line asks for: the help, the version, or a server with this config. */
export type ParsedArgs = { answer: 'help' } | { answer: 'version' } | { answer?: undefined; config: Config };

/**
 * Reads options from flags, then environment variables, then defaults, and
 * checks every value. Throws ConfigError for anything it cannot use.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: o.boolean ? 'boolean' : 'string' }])),
      },
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (values.help) return { answer: 'help' };
  if (values.version) return { answer: 'version' };

  const config: Record<string, unknown> = {};
  for (const option of OPTIONS) {
    const flagValue = values[option.flag];
    const envValue = env[envName(option.flag)];
    if (flagValue !== undefined) {
      config[option.key] = typeof flagValue === 'boolean' ? flagValue : option.parse(flagValue, `--${option.flag}`);
    } else if (envValue !== undefined && envValue !== '') {
      config[option.key] = option.parse(envValue, envName(option.flag));
    } else {
      config[option.key] =
        option.fallback === undefined ? undefined : option.parse(option.fallback, `--${option.flag}`);
    }
  }
  return { config: checkTogether(config as unknown as Config) };
}

/** The configuration with every default, for tests and embedding. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const parsed = loadConfig([]);
  if (parsed.answer !== undefined) throw new Error('unreachable');
  return checkTogether({ ...parsed.config, ...overrides });
}

function checkTogether(config: Config): Config {
  if (config.minRecords > config.maxRecords) {
    throw new ConfigError(`--min-records (${config.minRecords}) must not exceed --max-records (${config.maxRecords})`);
  }
  if (config.seedRows > config.maxRecords) {
    throw new ConfigError(`--seed-rows (${config.seedRows}) must not exceed --max-records (${config.maxRecords})`);
  }
  if (config.authSecret !== undefined && config.authJwksUrl !== undefined) {
    throw new ConfigError('give --auth-secret or --auth-jwks-url, not both');
  }
  if (config.maxConnectionsPerSession > config.maxConnections) {
    throw new ConfigError(
      `--max-connections-per-session (${config.maxConnectionsPerSession}) must not exceed --max-connections (${config.maxConnections})`,
    );
  }
  if (config.store === 'redis' && config.redisUrl === undefined) {
    throw new ConfigError('--store redis needs --redis-url (or LIVETABLE_REDIS_URL)');
  }
  if (config.requestTimeout < config.headersTimeout) {
    throw new ConfigError(
      `--request-timeout (${config.requestTimeout}) must not be shorter than --headers-timeout (${config.headersTimeout})`,
    );
  }
  return config;
}
