// `npm start`: builds only when the sources are newer than the build, then
// runs the server in this process. `--help` and `--version` are answered at
// once: from the build when it is current, else from the sources (no build).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const SERVER = join(root, 'dist/server/main.js');
const PAGE = join(root, 'dist/web/index.html');
/** What the build is made from. */
const SOURCES = [
  'server',
  'shared',
  'web',
  'package.json',
  'package-lock.json',
  'vite.config.ts',
  'svelte.config.js',
  'tsconfig.json',
  'tsconfig.server.json',
];
const ANSWERS = new Set(['--help', '-h', '--version', '-v']);

/** The newest modification time under `path` (ms), tests and dependencies aside; 0 if absent. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return /\.test\.ts$/.test(path) ? 0 : stat.mtimeMs;
  let time = 0;
  for (const entry of readdirSync(path)) {
    if (entry !== 'node_modules') time = Math.max(time, newest(join(path, entry)));
  }
  return time;
}

function builtAt() {
  try {
    return Math.min(statSync(SERVER).mtimeMs, statSync(PAGE).mtimeMs);
  } catch {
    return -1;
  }
}

function run(command, args) {
  const { status, error } = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (error) throw error;
  return status ?? 1;
}

const args = process.argv.slice(2);
const stale = builtAt() < Math.max(...SOURCES.map((source) => newest(join(root, source))));
if (stale && args.some((arg) => ANSWERS.has(arg))) {
  process.exit(run(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args]));
}
if (stale) {
  const status = run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build']);
  if (status !== 0) process.exit(status);
}
await import(pathToFileURL(SERVER).href);
