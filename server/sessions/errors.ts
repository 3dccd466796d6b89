/**
 * What the session layer refuses, in its own words; the HTTP edge alone
 * turns these into statuses (server/http/domainErrors.ts).
 */

/** No node knows the session: it never existed, or ended long ago. */
export class SessionNotFound extends Error {
  override name = 'SessionNotFound';
  constructor(readonly id: string) {
    super(`No active session ${id}: it never existed or has ended.`);
  }
}

/** With auth on, the session belongs to another subject. */
export class NotSessionOwner extends Error {
  override name = 'NotSessionOwner';
  constructor(
    readonly id: string,
    readonly action: 'stop' | 'stream',
  ) {
    super(`Session ${id} belongs to another user; you may not ${action} it.`);
  }
}

export type Limit = 'sessions' | 'address_sessions' | 'connections' | 'session_connections' | 'watch_connections';

/** A limit is reached; a place frees within `retryAfterS` seconds, or is worth asking for again by then. */
export class LimitReached extends Error {
  override name = 'LimitReached';
  constructor(
    readonly limit: Limit,
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

/** The server is shutting down and takes no new stream. */
export class ShuttingDown extends Error {
  override name = 'ShuttingDown';
  constructor() {
    super('The server is shutting down; try again shortly.');
  }
}
