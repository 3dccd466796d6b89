import { createHash } from 'node:crypto';

/**
 * A session id is a capability: whoever has it can stop the session and take
 * its stream slots. So it is only ever sent to the client that started the
 * session and on that session's own streams. Change events, which every
 * stream carries, name their session by its origin instead: a one-way hash
 * of the id that tells changes apart but cannot be turned back into the id,
 * and that never looks like one (SESSION_ID_PATTERN has no '-').
 */
const ORIGIN_PREFIX = 's-';
/** Hex characters of the SHA-256 kept: 48 bits, plenty to tell running sessions apart. */
const ORIGIN_HEX = 12;
/** Origins remembered, so a session's is worked out once however many changes it makes. */
const REMEMBERED = 4096;

const remembered = new Map<string, string>();

/** The origin marker of the session `sessionId`, as change events and its streams' `init` carry it. */
export function originOf(sessionId: string): string {
  let origin = remembered.get(sessionId);
  if (origin === undefined) {
    origin = ORIGIN_PREFIX + createHash('sha256').update(sessionId).digest('hex').slice(0, ORIGIN_HEX);
    // Oldest first out: past the limit a long-ended session is the one forgotten.
    if (remembered.size >= REMEMBERED) remembered.delete(remembered.keys().next().value as string);
    remembered.set(sessionId, origin);
  }
  return origin;
}
