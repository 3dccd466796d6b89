import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface RunningServer {
  url: string;
  port: number;
  child: ChildProcess;
}

/**
 * Runs `node …args` and resolves once it logs its `listening` line (JSON
 * with the url it listens on). A server that exits first, or does not
 * listen within `timeoutMs`, rejects, and is killed if still running.
 */
export function spawnServer(args: string[], timeoutMs = 30_000): Promise<RunningServer> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${args.join(' ')} did not listen within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve({ url: entry.url, port: Number(new URL(entry.url).port), child });
        }
      } catch {
        // not a log line of ours
      }
    });
  });
}

/**
 * Arguments for Livetable's built server seeded with `rows` rows (room for
 * as many again), in memory, serving the built page; `more` is appended.
 */
export function seededServerArgs(rows: number, more: string[] = []): string[] {
  return [
    'dist/server/main.js',
    '--port',
    '0',
    '--store',
    'memory',
    '--seed-rows',
    String(rows),
    '--max-records',
    String(2 * rows),
    '--static-dir',
    'dist/web',
    ...more,
  ];
}
