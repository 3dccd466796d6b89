import type { Socket } from 'node:net';

interface Refusal {
  status: number;
  reason: string;
  code: string;
  message: string;
  /** What the log says, in the server's words. */
  note: string;
}

/** What Node's parser or its request timeouts refused, as the answer a client gets. */
function refusalOf(error: NodeJS.ErrnoException): Refusal {
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

/** The raw HTTP answer to a request Node's parser refused, with its JSON body. */
export function clientErrorResponse(error: NodeJS.ErrnoException): { code: string; note: string; text: string } {
  const { status, reason, code, message, note } = refusalOf(error);
  const body = JSON.stringify({ status: 'error', code, message });
  const text = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
  return { code, note, text };
}

/**
 * Answers a request Node's parser refused, then closes the connection. An
 * answer already under way on it (a pipelined request that broke behind it)
 * is not interleaved with: the connection is only cut.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): { code: string; note: string } {
  const answer = clientErrorResponse(error);
  const busy = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
  if (socket.writable && error.code !== 'ECONNRESET' && !busy?.headersSent) socket.end(answer.text);
  else socket.destroy();
  return answer;
}
