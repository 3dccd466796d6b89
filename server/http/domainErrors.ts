import { LimitReached, NotSessionOwner, SessionNotFound, ShuttingDown } from '../sessions/errors.js';
import { StoreUnavailable } from '../store/tableStore.js';
import { HttpError } from './httpError.js';

/** Seconds a client should wait before asking again while the shared store is away. */
const STORE_RETRY_AFTER_S = '2';

const LIMIT_CODES = {
  sessions: 'too_many_sessions',
  address_sessions: 'too_many_address_sessions',
  connections: 'too_many_connections',
  session_connections: 'too_many_session_connections',
  watch_connections: 'too_many_watch_connections',
} as const;

/** The HTTP answer to an error of the layers below the edge, or undefined when it is not one of theirs. */
export function httpErrorOf(error: unknown): HttpError | undefined {
  if (error instanceof SessionNotFound) return new HttpError(404, 'session_not_found', error.message);
  if (error instanceof NotSessionOwner) return new HttpError(403, 'forbidden', error.message);
  if (error instanceof LimitReached) {
    return new HttpError(429, LIMIT_CODES[error.limit], error.message, {
      'Retry-After': String(error.retryAfterS),
    });
  }
  if (error instanceof ShuttingDown) return new HttpError(503, 'shutting_down', error.message);
  if (error instanceof StoreUnavailable) {
    return new HttpError(503, 'store_unavailable', 'The shared store cannot be reached; try again shortly.', {
      'Retry-After': STORE_RETRY_AFTER_S,
    });
  }
  return undefined;
}
