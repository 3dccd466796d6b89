import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Knows which sockets are between requests, so a shutdown can close those at
 * once and each busy one as soon as its response is done, instead of waiting
 * for keep-alive timeouts.
 */
export function trackConnections(server: Server) {
  const busy = new Map<Socket, number>();
  let closing = false;

  server.on('connection', (socket: Socket) => {
    busy.set(socket, 0);
    socket.once('close', () => busy.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (busy.get(socket) ?? 1) - 1;
      busy.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });

  return {
    /** Closes idle sockets now and busy ones when their response ends. */
    drain(): void {
      closing = true;
      for (const [socket, requests] of busy) if (requests === 0) socket.destroy();
    },
  };
}
