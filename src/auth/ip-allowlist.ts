import { BlockList, isIP } from 'node:net';
import { AuthError } from './errors.js';

function invalid(entry: string, reason: string): AuthError {
  return new AuthError('ALLOWLIST_INVALID', {
    message: `invalid allowlist entry ${JSON.stringify(entry)}: ${reason}`,
    detail: { entry },
  });
}

function family(address: string): 'ipv4' | 'ipv6' | null {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : null;
}

/**
 * A set of IPv4/IPv6 addresses and CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`), checked with
 * node:net BlockList. Build it once per project policy and reuse it: parsing is the costly part.
 */
export class IpAllowlist {
  readonly entries: readonly string[];
  readonly #list: BlockList;

  private constructor(entries: readonly string[], list: BlockList) {
    this.entries = entries;
    this.#list = list;
  }

  /** Throws ALLOWLIST_INVALID naming the first bad entry. An empty list allows nobody. */
  static parse(entries: readonly string[]): IpAllowlist {
    const list = new BlockList();
    for (const raw of entries) {
      const entry = raw.trim();
      const [address = '', prefixText, ...rest] = entry.split('/');
      const kind = family(address);
      if (!kind) throw invalid(raw, 'not an IPv4 or IPv6 address');
      if (rest.length > 0) throw invalid(raw, 'more than one "/"');
      if (prefixText === undefined) {
        list.addAddress(address, kind);
        continue;
      }
      const max = kind === 'ipv4' ? 32 : 128;
      const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
      if (!(prefix >= 0 && prefix <= max)) throw invalid(raw, `prefix length must be 0–${max}`);
      list.addSubnet(address, prefix, kind);
    }
    return new IpAllowlist(
      entries.map((entry) => entry.trim()),
      list,
    );
  }

  /** True when `ip` is inside the list. IPv4-mapped IPv6 (`::ffff:10.0.0.1`) matches IPv4 entries. */
  allows(ip: string): boolean {
    // A zone index (fe80::1%eth0) names an interface, not part of the address.
    // (indexOf, not `/%.*$/`: that regex is quadratic on a run of `%` before a line terminator.)
    const zone = ip.indexOf('%');
    const address = zone === -1 ? ip : ip.slice(0, zone);
    const kind = family(address);
    return kind !== null && this.#list.check(address, kind);
  }
}
