import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (Linux: nearly always 100). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name, which may hold spaces and parentheses. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone
  }
}

/** CPU time (user + system, every thread) a process has used, in ms; NaN when it is gone. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  // Fields 14 and 15 of the stat line (utime, stime); the list starts at field 3.
  if (fields === undefined) return NaN;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** The pids whose parent is `pid` (haproxy's workers under its master). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields !== undefined && Number(fields[1]) === pid) children.push(Number(entry));
  }
  return children;
}

/** A named set of processes whose CPU is summed (a haproxy master and its workers). */
export interface Watched {
  name: string;
  pids: number[];
}

/** Samples the processes now; `stop()` gives each one's ms of CPU per second of wall time since. */
export function sampleCpu(watched: readonly Watched[]): { stop(): Record<string, number> } {
  const began = performance.now();
  const before = watched.map((w) => w.pids.map(cpuMs));
  const self = process.cpuUsage();
  return {
    stop() {
      const seconds = (performance.now() - began) / 1000;
      const result: Record<string, number> = {};
      watched.forEach((w, i) => {
        const used = w.pids.reduce((sum, pid, j) => sum + (cpuMs(pid) - (before[i]?.[j] ?? NaN)), 0);
        result[w.name] = Math.round(used / seconds);
      });
      const mine = process.cpuUsage(self);
      result['load client (this process)'] = Math.round((mine.user + mine.system) / 1000 / seconds);
      return result;
    },
  };
}
