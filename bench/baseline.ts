/**
 * The ceiling of plain Node on this machine: a bare node:http SSE
 * broadcaster. It makes change events of Livetable's shape at the same
 * rate, serializes each once, and writes it to every client, one write per
 * event. Run: tsx bench/baseline.ts --port 0 --update-interval 10 --changes-per-tick 1
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { benchEvent } from './benchEvent.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'update-interval': { type: 'string', default: '10' },
    'changes-per-tick': { type: 'string', default: '1' },
  },
});
const interval = Number(values['update-interval']);
const perTick = Number(values['changes-per-tick']);

const clients = new Set<ServerResponse>();
let seq = 0;

setInterval(() => {
  for (let i = 0; i < perTick; i++) {
    seq++;
    const frame = `id: ${seq}\ndata: ${benchEvent(seq)}\n\n`;
    for (const res of clients) res.write(frame);
  }
}, interval);

const server = createServer((req, res) => {
  if (req.url === '/metrics') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ rss: process.memoryUsage().rss, clients: clients.size }));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.write('retry: 1000\n\n');
  clients.add(res);
  res.on('close', () => clients.delete(res));
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` }));
});
