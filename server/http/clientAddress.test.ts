import { describe, expect, it } from 'vitest';
import { clientKey, forwardedClient } from './clientAddress.js';

describe('clientKey', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.2', '127.0.0.2'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    [undefined, 'unknown'],
  ])('%s counts as %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });

  it('puts every address of one IPv6 /64 under one key, and other /64s under others', () => {
    expect(clientKey('2001:db8:aa:bb::1')).toBe(clientKey('2001:db8:aa:bb:ffff:ffff:ffff:ffff'));
    expect(clientKey('2001:db8:aa:bb::1')).not.toBe(clientKey('2001:db8:aa:bc::1'));
  });
});

describe('forwardedClient', () => {
  const proxy = '10.0.0.2';

  it('ignores the header when no proxy is trusted', () => {
    expect(forwardedClient('198.51.100.7', '203.0.113.9', 0)).toBe('198.51.100.7');
  });

  it("takes, behind one proxy, the address it appended: the header's last", () => {
    expect(forwardedClient(proxy, '203.0.113.9', 1)).toBe('203.0.113.9');
  });

  it.each(['6.6.6.6', '6.6.6.6, 7.7.7.7', '::1', 'unknown', '10.0.0.2', ', , 127.0.0.1', 'x'.repeat(4000)])(
    'lets no entry a client writes (%s) change whom one proxy names',
    (spoofed) => {
      expect(forwardedClient(proxy, `${spoofed}, 203.0.113.9`, 1)).toBe('203.0.113.9');
    },
  );

  it('counts hops from the right, behind two proxies the second-last entry', () => {
    expect(forwardedClient(proxy, '6.6.6.6, 203.0.113.9, 10.0.0.1', 2)).toBe('203.0.113.9');
    expect(forwardedClient(proxy, '203.0.113.9, 10.0.0.1', 2)).toBe('203.0.113.9');
  });

  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:DB8:0:0:0:0:0:1'],
    ['::ffff:203.0.113.9', '::ffff:203.0.113.9'],
  ])('takes the IPv6 address %s as it is', (forwarded, client) => {
    expect(forwardedClient('::ffff:10.0.0.2', forwarded, 1)).toBe(client);
  });

  it('leaves IPv6 and IPv4-mapped addresses for clientKey to group', () => {
    expect(clientKey(forwardedClient(proxy, '::ffff:203.0.113.9', 1))).toBe('203.0.113.9');
    expect(clientKey(forwardedClient(proxy, '2001:db8:aa:bb::1', 1))).toBe('2001:db8:aa:bb::/64');
  });

  it.each(['unknown', 'not-an-ip', '203.0.113.9:443', '[2001:db8::1]', '203.0.113', '203.0.113.256', '"203.0.113.9"'])(
    "answers the proxy's address when the entry it lands on is %s, not the entry left of it",
    (garbage) => {
      expect(forwardedClient(proxy, `198.51.100.7, ${garbage}`, 1)).toBe(proxy);
    },
  );

  it("counts a trusted proxy's unreadable entry as its hop, so the choice never moves left", () => {
    expect(forwardedClient(proxy, '6.6.6.6, 203.0.113.9, unknown', 2)).toBe('203.0.113.9');
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['only commas and spaces', ' , ,, '],
  ])("answers the proxy's address for %s", (_, header) => {
    expect(forwardedClient(proxy, header, 1)).toBe(proxy);
  });

  it('reads entries around spaces, tabs and empty elements', () => {
    expect(forwardedClient(proxy, ' 198.51.100.7 ,\t203.0.113.9\t', 1)).toBe('203.0.113.9');
    expect(forwardedClient(proxy, '198.51.100.7,203.0.113.9', 2)).toBe('198.51.100.7');
    expect(forwardedClient(proxy, '203.0.113.9, , ', 1)).toBe('203.0.113.9');
  });

  it('reads several headers as one list, in their order', () => {
    expect(forwardedClient(proxy, ['6.6.6.6', '198.51.100.7, 203.0.113.9'], 1)).toBe('203.0.113.9');
    expect(forwardedClient(proxy, ['6.6.6.6', '198.51.100.7, 203.0.113.9'], 2)).toBe('198.51.100.7');
    expect(forwardedClient(proxy, ['198.51.100.7', '203.0.113.9'], 2)).toBe('198.51.100.7');
  });

  it("answers the socket's address when the header has fewer entries than proxies are trusted", () => {
    // Reached the inner proxy directly: the one entry is the client's own.
    expect(forwardedClient(proxy, '6.6.6.6', 3)).toBe(proxy);
    expect(forwardedClient(proxy, '6.6.6.6, 198.51.100.7', 3)).toBe(proxy);
  });

  it('knows no client when the socket is gone', () => {
    expect(forwardedClient(undefined, '203.0.113.9', 1)).toBeUndefined();
    expect(forwardedClient(undefined, undefined, 0)).toBeUndefined();
  });

  it.each([-1, 1.5, Number.NaN])('trusts no proxy for a count of %s', (trust) => {
    expect(forwardedClient(proxy, '203.0.113.9', trust)).toBe(proxy);
  });
});
