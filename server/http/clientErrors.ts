import { HttpError } from './httpError.js';

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

/** Error codes of a client that left: nothing to answer. */
export const CLIENT_GONE: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE']);

/**
 * A request the client broke off or garbled: a 400 to the client (if it still
 * listens) and a line in the client-mistake log, never an error with a stack.
 */
export class ClientMistake extends HttpError {
  override name = 'ClientMistake';
  constructor(
    code: string,
    message: string,
    /** What the log says, in the server's words. */
    readonly note: string,
    override readonly cause?: unknown,
  ) {
    super(400, code, message);
  }
}

/** The mistake of a body that broke while the app read it: the same answer as BODY_CUT_OFF. */
export const bodyCutOff = (cause?: unknown) =>
  new ClientMistake(BODY_CUT_OFF.code, BODY_CUT_OFF.message, BODY_CUT_OFF.note, cause);

/**
 * The client mistake an error thrown while handling a request stands for, if
 * it is one: a ClientMistake, or a Node error of a cut connection (ECONNRESET
 * and the like) or of the HTTP parser (HPE_*) that reached the handler unmapped.
 */
export function clientMistake(error: unknown): ClientMistake | undefined {
  if (error instanceof ClientMistake) return error;
  if (error instanceof HttpError || !(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  if (
    typeof code === 'string' &&
    (CLIENT_GONE.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE' || code.startsWith('HPE_'))
  )
    return bodyCutOff(error);
  return undefined;
}

/**
 * The bytes of a refusal: its status, its own headers over `always` (the
 * security headers every answer carries) and its JSON error body; the
 * connection closes after it.
 */
export function rawAnswer(
  { status, reason, code, message, headers = {} }: RawRefusal,
  always: Readonly<Record<string, string>>,
): string {
  const body = JSON.stringify({ status: 'error', code, message });
  return [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries({ ...always, ...headers }).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
