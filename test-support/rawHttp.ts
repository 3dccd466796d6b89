import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `request` as it is, on a new connection to `host` (from `from`, a
 * loopback address standing for another client, when given), and reads
 * the answer until the server closes: for requests no well-behaved client
 * would make. It does not half-close after writing (a client that does may
 * be cut before a file is sent); every request it sends must end the
 * connection itself (`Connection: close`, or an error the server closes on).
 */
export function rawRequest(
  port: number,
  request: string,
  { host = '127.0.0.1', from }: { host?: string; from?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, ...(from === undefined ? {} : { localAddress: from }) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.setTimeout(5000, () => socket.destroy());
    socket.write(request);
  });
}
