/**
 * Publishes change events of Livetable's shape to Nchan at a fixed rate, in
 * a process of its own: the servers compared with Nchan make their events in
 * their own process, and a publisher sharing the load tool's event loop
 * would publish late whenever the load is busy. Started by bench/nchan.ts.
 *
 *   tsx bench/nchanPublisher.ts --port 8080 --update-interval 10 --changes-per-tick 1
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { benchEvent } from './benchEvent.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'update-interval': { type: 'string', default: '10' },
    'changes-per-tick': { type: 'string', default: '1' },
  },
});
const port = Number(values.port);
const interval = Number(values['update-interval']);
const perTick = Number(values['changes-per-tick']);
// One connection: events are published, and so numbered, in order.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let seq = 0;

function publish(body: string): void {
  const req = request(
    { host: '127.0.0.1', port, path: '/pub', method: 'POST', agent, headers: { 'Content-Type': 'text/plain' } },
    (res) => res.resume(),
  );
  req.on('error', () => undefined);
  req.end(body);
}

const started = performance.now();
// The same events as bench/baseline.ts sends, at the nominal rate: a tick
// that comes late (a timer is never early) publishes what is due.
setInterval(() => {
  const due = Math.floor((performance.now() - started) / interval) * perTick;
  while (seq < due) {
    seq++;
    publish(benchEvent(seq));
  }
}, interval);
