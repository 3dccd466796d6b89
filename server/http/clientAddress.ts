import { isIP, isIPv6 } from 'node:net';

/**
 * The key per-client limits count by: the IPv4 address (an IPv4-mapped IPv6
 * address is its IPv4 address), or the /64 network of an IPv6 address,
 * since one IPv6 host usually holds a whole /64 and could otherwise be
 * billions of clients.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, `::` expanded, without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const middle = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...middle, ...right].map((group) => Number.parseInt(group, 16).toString(16));
}

/** How many proxies stand in front of the server (`--trust-proxy`); 0 trusts none. */
export type TrustProxy = number;

/**
 * The client's address when `trust` proxies stand in front of the server,
 * each appending the address it was reached from to `X-Forwarded-For`: the
 * entry `trust` places left of the socket's address, the one the outermost
 * proxy was reached from. With 0 the header is ignored.
 *
 * Only the last `trust` entries are the proxies' own words; whatever lies
 * further left the client wrote, so the choice counts entries from the
 * right and never looks past the one it lands on. It answers the socket's
 * address (the nearest proxy's, shared by every client behind it: a
 * stricter limit, never one a client can pick) when the entry it lands on
 * is not a bare IP address (`unknown`, a port, brackets) or when the
 * header has fewer entries than `trust` asks for, since such a request did
 * not come through every proxy and what it carries may be the client's.
 * Several headers count as one list; empty entries are no entries, as in
 * any HTTP list. The count is all the trust there is: the server's port
 * must be reachable through the proxies alone.
 */
export function forwardedClient(
  remoteAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: TrustProxy,
): string | undefined {
  if (remoteAddress === undefined || forwardedFor === undefined) return remoteAddress;
  if (!Number.isSafeInteger(trust) || trust <= 0) return remoteAddress;
  const header = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
  const entries = header
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const client = entries[entries.length - trust];
  return client !== undefined && isIP(client) !== 0 ? client : remoteAddress;
}
