import { SECURITY_HEADERS } from './guards.js';

/** A refusal written straight to a connection, before or outside any response object. */
export interface RawRefusal {
  status: number;
  reason: string;
  code: string;
  message: string;
  /** What the log says, in the server's words. */
  note: string;
  headers?: Record<string, string>;
}

/** What Node's parser or its request timeouts refused, as the answer a client gets. */
export function refusalOf(error: NodeJS.ErrnoException): RawRefusal {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        reason: 'Request Header Fields Too Large',
        code: 'headers_too_large',
        message: 'The request headers are too large.',
        note: 'request headers too large',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'Request Timeout',
        code: 'request_timeout',
        message: 'The request did not arrive in time.',
        note: 'request too slow: cut',
      };
    default:
      return {
        status: 400,
        reason: 'Bad Request',
        code: 'bad_request',
        message: 'The request is not valid HTTP.',
        note: 'request not valid HTTP',
      };
  }
}

/** A request whose body broke (cut off, broken chunked framing) while it was being read. */
export const BODY_CUT_OFF: RawRefusal = {
  status: 400,
  reason: 'Bad Request',
  code: 'invalid_body',
  message: 'The request body was cut off or is not valid HTTP.',
  note: 'request body cut off or not valid HTTP',
};

/** The bytes of a refusal with its JSON error body; the connection closes after it. */
export function rawAnswer({ status, reason, code, message, headers = {} }: RawRefusal): string {
  const body = JSON.stringify({ status: 'error', code, message });
  return [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries({ ...SECURITY_HEADERS, ...headers }).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
