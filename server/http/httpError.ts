import type { ServerResponse } from 'node:http';
import type { ErrorBody } from '../../shared/protocol.js';

/** A failure the client can act on: it becomes a JSON error body with this status. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** More for the client to act on, beside code and message (the fields refused, the row as it is now). */
    readonly details: Pick<ErrorBody, 'fields' | 'data' | 'limit'> = {},
  ) {
    super(message);
  }
}

/** Writes a JSON response; every JSON answer of the API goes through here. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  const body: ErrorBody = { status: 'error', code: error.code, message: error.message, ...error.details };
  sendJson(res, error.status, body, error.headers);
}
