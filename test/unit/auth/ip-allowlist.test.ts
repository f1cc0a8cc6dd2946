import { describe, expect, it } from 'vitest';
import { AuthError, IpAllowlist } from '../../../src/auth/index.js';

describe('IpAllowlist', () => {
  const list = IpAllowlist.parse(['10.0.0.0/8', '192.0.2.7', ' 2001:db8::/32 ', '::1', '172.16.0.0/12']);

  it.each([
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['11.0.0.1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['172.31.255.1', true],
    ['172.32.0.1', false],
    ['2001:db8::1', true],
    ['2001:db8:ffff::1', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['::2', false],
    // A dual-stack socket reports IPv4 clients as IPv4-mapped IPv6.
    ['::ffff:10.1.2.3', true],
    ['::ffff:11.1.2.3', false],
    ['2001:db8::1%eth0', true],
    ['not-an-ip', false],
    ['', false],
    ['10.0.0.1/8', false],
  ])('%s allowed: %s', (ip, allowed) => {
    expect(list.allows(ip)).toBe(allowed);
  });

  it('keeps the trimmed entries for display', () => {
    expect(list.entries).toContain('2001:db8::/32');
  });

  it('an empty list allows nobody; 0.0.0.0/0 and ::/0 allow everybody of that family', () => {
    expect(IpAllowlist.parse([]).allows('127.0.0.1')).toBe(false);
    const all4 = IpAllowlist.parse(['0.0.0.0/0']);
    expect(all4.allows('203.0.113.9')).toBe(true);
    expect(all4.allows('2001:db8::1')).toBe(false);
    expect(IpAllowlist.parse(['::/0']).allows('2001:db8::1')).toBe(true);
  });

  it.each([
    ['10.0.0.0/33', 'prefix length must be 0–32'],
    ['2001:db8::/129', 'prefix length must be 0–128'],
    ['10.0.0.0/', 'prefix length'],
    ['10.0.0.0/-1', 'prefix length'],
    ['10.0.0.0/8/8', 'more than one'],
    ['10.0.0', 'not an IPv4 or IPv6 address'],
    ['example.com', 'not an IPv4 or IPv6 address'],
    ['', 'not an IPv4 or IPv6 address'],
    ['10.0.0.0/8a', 'prefix length'],
  ])('rejects %j', (entry, reason) => {
    try {
      IpAllowlist.parse(['192.0.2.0/24', entry]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe('ALLOWLIST_INVALID');
      expect((error as AuthError).message).toContain(reason);
      expect((error as AuthError).detail).toEqual({ entry });
    }
  });
});
