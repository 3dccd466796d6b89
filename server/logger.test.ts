import { describe, expect, it } from 'vitest';
import { readable } from './logger.js';

describe('readable log lines', () => {
  it('say the server is up as a sentence with the URL', () => {
    const log = {
      level: 30,
      msg: 'listening',
      url: 'http://127.0.0.1:8088',
      store: 'sqlite',
      where: './data',
      rows: 10,
    };
    expect(readable(log)).toBe('Livetable listening on http://127.0.0.1:8088 (store: sqlite, ./data)');
    expect(readable({ ...log, store: 'memory', where: undefined })).toBe(
      'Livetable listening on http://127.0.0.1:8088 (store: memory)',
    );
  });

  it('give the message and its fields as key=value', () => {
    expect(readable({ level: 30, time: 1, pid: 2, hostname: 'h', msg: 'session started', session_id: 'x', n: 3 })).toBe(
      'session started session_id=x n=3',
    );
  });

  it('say what an error was, and at error level where it was', () => {
    const err = { type: 'Error', message: 'disk full', stack: 'Error: disk full\n    at commit (store.ts:1:1)' };
    expect(readable({ level: 40, msg: 'change not stored', err })).toBe('change not stored err=disk full');
    expect(readable({ level: 50, msg: 'request failed', err })).toBe(
      'request failed err=disk full\nError: disk full\n    at commit (store.ts:1:1)',
    );
  });
});
