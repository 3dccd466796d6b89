import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** The heap in use after full garbage collections: what is still referenced. */
export async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collect();
    // Let finalizers and closed sockets' last callbacks run between passes.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}
