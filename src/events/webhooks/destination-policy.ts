import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Where webhook deliveries may go (config webhooks.denyPrivateAddresses, allowedHosts, deniedHosts). */
export interface DestinationRules {
  /** Refuse addresses of the classes below (loopback, private, link-local, …) unless allowed by name or range. */
  denyPrivateAddresses: boolean;
  /** Host names (`hooks.internal`, `*.corp.example`), addresses or CIDR ranges allowed whatever their class. */
  allowedHosts: readonly string[];
  /** Host names, addresses or CIDR ranges always refused (checked before allowedHosts). */
  deniedHosts: readonly string[];
}

/** Address classes a project administrator must not reach through Berth (SSRF), with the name a refusal gives. */
const PRIVATE_CLASSES: [network: string, prefix: number, family: 'ipv4' | 'ipv6', name: string][] = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified ("this network")'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['10.0.0.0', 8, 'ipv4', 'private (RFC 1918)'],
  ['172.16.0.0', 12, 'ipv4', 'private (RFC 1918)'],
  ['192.168.0.0', 16, 'ipv4', 'private (RFC 1918)'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata services live here)'],
  ['100.64.0.0', 10, 'ipv4', 'shared (carrier-grade NAT, RFC 6598)'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignment'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking (RFC 2544)'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved or broadcast'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fc00::', 7, 'ipv6', 'unique local (ULA)'],
  ['ff00::', 8, 'ipv6', 'multicast'],
  // NAT64 and 6to4 embed an IPv4 address that may be a private one.
  ['64:ff9b::', 96, 'ipv6', 'NAT64'],
  ['2002::', 16, 'ipv6', '6to4'],
];

const CLASS_LISTS = PRIVATE_CLASSES.map(([network, prefix, family, name]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { list, name };
});

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** The private class of an address (IPv4-mapped IPv6 addresses count as their IPv4 address), if any. */
export function privateClass(address: string): string | undefined {
  return CLASS_LISTS.find(({ list }) => list.check(address, family(address)))?.name;
}

/** URL host names come bracketed for IPv6 (`[::1]`) and may end with the root dot (`example.com.`). */
function bareHost(host: string): string {
  return host
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** A parsed list of names, `*.suffix` patterns, addresses and ranges. */
class HostList {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly ranges = new BlockList();

  constructor(entries: readonly string[], setting: string) {
    for (const raw of entries) {
      const entry = bareHost(raw.trim());
      if (entry === '') continue;
      const [network, bits] = entry.split('/') as [string, string | undefined];
      if (isIP(network)) {
        const max = isIP(network) === 6 ? 128 : 32;
        const prefix = bits === undefined ? max : Number(bits);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
          throw new Error(`${setting}: ${raw}: a range's prefix length is 0..${max}`);
        this.ranges.addSubnet(network, prefix, family(network));
      } else if (bits !== undefined) {
        throw new Error(`${setting}: ${raw}: not an address range`);
      } else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else this.names.add(entry);
    }
  }

  hasName(host: string): boolean {
    return this.names.has(host) || this.suffixes.some((suffix) => host.endsWith(suffix));
  }

  hasAddress(address: string): boolean {
    return this.ranges.check(address, family(address));
  }
}

/** Why a delivery may not go somewhere: a 400 when an endpoint is created, a failed attempt when delivering. */
export class DestinationRefused extends Error {
  override name = 'DestinationRefused';
  readonly code = 'EDESTINATIONREFUSED';
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * Decides which addresses webhook deliveries may connect to, against server-side request forgery: a project
 * administrator must not make Berth POST to its own loopback, the cloud metadata service or the internal
 * network. Host names are checked by the address they resolve to, at creation and again by the `lookup` the
 * delivery's connection uses, so a name that resolves to a public address when checked and a private one
 * when connecting (DNS rebinding) is still refused: the address checked is the address connected to.
 */
export class DestinationPolicy {
  private readonly allowed: HostList;
  private readonly denied: HostList;

  constructor(private readonly rules: DestinationRules) {
    this.allowed = new HostList(rules.allowedHosts, 'webhooks.allowedHosts');
    this.denied = new HostList(rules.deniedHosts, 'webhooks.deniedHosts');
  }

  /** Why connecting to `address` for a URL naming `host` is refused, or undefined when it is allowed. */
  refusal(host: string, address: string): string | undefined {
    const name = bareHost(host);
    const shown = name === address ? address : `${name} (${address})`;
    if (this.denied.hasName(name) || this.denied.hasAddress(address))
      return `${shown} is denied by webhooks.deniedHosts`;
    if (this.allowed.hasName(name) || this.allowed.hasAddress(address)) return undefined;
    if (!this.rules.denyPrivateAddresses) return undefined;
    const kind = privateClass(address);
    return kind
      ? `${shown} is a ${kind} address (webhooks.denyPrivateAddresses; webhooks.allowedHosts lets one through)`
      : undefined;
  }

  /**
   * Checks an endpoint URL: an address in it directly, or every address its host name resolves to now. A name
   * that does not resolve yet is accepted (each delivery checks again). Throws DestinationRefused.
   */
  async check(url: string): Promise<void> {
    const host = bareHost(new URL(url).hostname);
    const addresses = isIP(host) ? [host] : await resolveAll(host).catch(() => [] as string[]);
    this.refuseAny(host, addresses);
  }

  /**
   * A `lookup` for net.connect/http.request: resolves as dns.lookup does and fails the connection with
   * DestinationRefused when any address is refused. Not called for an address in the URL: check that first
   * with `refusal` (see `checkLiteral`).
   */
  readonly lookup = (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...(options as LookupAllOptions), all: true }, (error, found) => {
      if (error) return callback(error, []);
      try {
        this.refuseAny(
          hostname,
          found.map((entry) => entry.address),
        );
      } catch (refused) {
        return callback(refused as DestinationRefused, []);
      }
      if ((options as { all?: boolean }).all) return callback(null, found);
      const [first] = found;
      if (!first)
        return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };

  /** Throws DestinationRefused when the URL's host is an address that is refused (lookup is not used then). */
  checkLiteral(url: URL): void {
    const host = bareHost(url.hostname);
    if (isIP(host)) this.refuseAny(host, [host]);
  }

  private refuseAny(host: string, addresses: readonly string[]): void {
    for (const address of addresses) {
      const reason = this.refusal(host, address);
      if (reason) throw new DestinationRefused(`webhook destination refused: ${reason}`);
    }
  }
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (error, found) =>
      error ? reject(error) : resolve(found.map((entry) => entry.address)),
    ),
  );
}

/** A comma- or space-separated setting (or a YAML list) as its entries. */
export function hostEntries(value: string | readonly string[]): string[] {
  const list = typeof value === 'string' ? value.split(/[\s,]+/) : value;
  return list.map((entry) => entry.trim()).filter((entry) => entry !== '');
}
