import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, envName, helpText, loadConfig } from './config.js';

const load = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = loadConfig(argv, env);
  if (parsed.answer !== undefined) throw new Error(`unexpected --${parsed.answer}`);
  return parsed.config;
};

describe('loadConfig', () => {
  it("has the original demo's defaults", () => {
    expect(load([])).toMatchObject({
      host: '127.0.0.1',
      port: 8088,
      updateInterval: 2000,
      heartbeatInterval: 10_000,
      sessionTimeout: 300_000,
      minRecords: 3,
      maxRecords: 1000,
      seedRows: 10,
      weights: { add: 40, update: 50, delete: 10, batch_update: 0 },
      maxConnectionsPerSession: 5,
      maxConnections: 100,
      watchShare: 50,
      logLevel: 'info',
      accessLog: false,
    });
    expect(load([]).history).toBeGreaterThanOrEqual(100);
  });

  it('reads flags, then environment variables, then defaults', () => {
    const config = load(['--port', '9000', '--weights=1,2,3,4', '--access-log'], {
      LIVETABLE_PORT: '9100',
      LIVETABLE_UPDATE_INTERVAL: '50',
    });
    expect(config.port).toBe(9000);
    expect(config.updateInterval).toBe(50);
    expect(config.weights).toEqual({ add: 1, update: 2, delete: 3, batch_update: 4 });
    expect(config.accessLog).toBe(true);
    expect(load([], { LIVETABLE_ACCESS_LOG: 'false' }).accessLog).toBe(false);
  });

  it.each([
    [['--port', 'abc'], /--port must be a whole number from 0 to 65535 \(got "abc"\)/],
    [['--port', '70000'], /--port/],
    [['--update-interval', '0'], /--update-interval/],
    [['--update-interval', '1.5'], /--update-interval/],
    [['--history', '10'], /--history must be a whole number from 100/],
    [['--weights', '40,50'], /--weights takes three or four/],
    [['--weights', '0,0,0'], /at least one weight/],
    [['--weights', '40,-5,10'], /--weights/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--min-records', '50', '--max-records', '10'], /--min-records \(50\) must not exceed --max-records \(10\)/],
    [['--seed-rows', '2000'], /--seed-rows \(2000\) must not exceed --max-records/],
    [['--max-connections', '3'], /--max-connections-per-session \(5\) must not exceed/],
    [['--no-such-flag'], /no-such-flag/],
    [['stray'], /stray/],
    [['--port'], /--port/],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => load(argv)).toThrow(ConfigError);
    expect(() => load(argv)).toThrow(message);
  });

  it('names the environment variable when its value is bad', () => {
    expect(() => load([], { LIVETABLE_MAX_CONNECTIONS: 'lots' })).toThrow(
      /LIVETABLE_MAX_CONNECTIONS must be a whole number/,
    );
  });

  it('answers --help', () => {
    expect(loadConfig(['--help'])).toEqual({ answer: 'help' });
    expect(loadConfig(['-h', '--port', '80'])).toEqual({ answer: 'help' });
    for (const flag of [
      '--update-interval',
      '--weights',
      '--history',
      '--access-log',
      '--max-connections-per-session',
    ]) {
      expect(helpText()).toContain(flag);
    }
    expect(helpText()).toContain(envName('update-interval'));
  });

  it('answers --version', () => {
    expect(loadConfig(['--version'])).toEqual({ answer: 'version' });
    expect(loadConfig(['-v'])).toEqual({ answer: 'version' });
  });

  it('--help fits 80 columns and says each default once', () => {
    const help = helpText();
    for (const line of help.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    // One block per option: its flag line, then its words.
    const blocks = help.split(/\n(?= {2}--)/).slice(1);
    expect(blocks.length).toBeGreaterThan(20);
    for (const block of blocks) {
      expect(block.match(/default/gi)?.length ?? 0, block).toBeLessThanOrEqual(1);
      expect(block, block).not.toMatch(/default:? ?[\],]/i);
    }
    expect(help).toContain(
      '  --port N\n      Port to listen on (0 picks a free one).\n      default 8088, env LIVETABLE_PORT\n',
    );
    expect(help).toContain('comma-separated.\n      default none, env LIVETABLE_ALLOWED_ORIGINS\n');
  });

  it('builds a full config for embedding, with overrides checked', () => {
    expect(defaultConfig({ port: 0 }).port).toBe(0);
    expect(() => defaultConfig({ minRecords: 10, maxRecords: 5 })).toThrow(ConfigError);
  });
});

describe('the abuse limits', () => {
  it('take host names, subdomain patterns and IP addresses, and refuse anything else', () => {
    expect(
      load(['--allowed-hosts', 'App.Example.com, .example.org,10.0.0.5,[2001:db8::1],2001:db8::2']).allowedHosts,
    ).toEqual(['app.example.com', '.example.org', '10.0.0.5', '[2001:db8::1]', '2001:db8::2']);
    for (const bad of ['http://x.example', 'a b', 'x.example:80', '[nope]', 'a..b']) {
      expect(() => load(['--allowed-hosts', bad])).toThrow(ConfigError);
    }
  });

  it('refuse a request timeout shorter than the headers timeout', () => {
    expect(() => load(['--headers-timeout', '5000', '--request-timeout', '2000'])).toThrow(/--request-timeout/);
  });
});

describe('docs/configuration.md', () => {
  it('describes every option and its environment variable', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync('docs/configuration.md', 'utf8');
    const flags = [...helpText().matchAll(/^ {2}--([a-z-]+)/gm)]
      .map((m) => m[1]!)
      .filter((f) => f !== 'help' && f !== 'version');
    expect(flags.length).toBeGreaterThan(20);
    for (const flag of flags) {
      expect(doc).toContain(`\`--${flag}`);
      expect(doc).toContain(`\`${envName(flag)}\``);
    }
  });
});
