import { Writable } from 'node:stream';
import { pino, type Level, type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A logger whose lines a test can read, parsed, as they are written. */
export function captureLog(level: Level = 'debug'): { logger: Logger; lines: LogLine[]; text: () => string } {
  const lines: LogLine[] = [];
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const written = chunk.toString('utf8');
      text += written;
      for (const line of written.split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level }, destination), lines, text: () => text };
}
