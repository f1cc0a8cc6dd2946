import { compareDigits, InvalidVersion, type Ordering, sign } from './invalid-version.js';

// Debian Policy §5.6.12: [epoch:]upstream_version[-debian_revision].

interface DpkgVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

function parse(version: string): DpkgVersion {
  const text = version.trim();
  const colon = text.indexOf(':');
  const epoch = colon >= 0 ? text.slice(0, colon) : '0';
  if (!/^\d+$/.test(epoch)) throw new InvalidVersion('dpkg', version, 'the epoch is not a number');
  const rest = text.slice(colon + 1);
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (!/^[0-9][A-Za-z0-9.+~:-]*$/.test(upstream)) {
    throw new InvalidVersion('dpkg', version, 'the upstream version must start with a digit');
  }
  if (!/^[A-Za-z0-9.+~]*$/.test(revision) || (hyphen >= 0 && revision === '')) {
    throw new InvalidVersion('dpkg', version, 'bad Debian revision');
  }
  return { epoch, upstream, revision };
}

/** The weight of one character of a non-digit part: `~` before the end, the end before letters, letters before the rest. */
function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp: alternate non-digit runs (compared by `order`) and digit runs (compared by value). */
function compareParts(a: string, b: string): Ordering {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const x = i < a.length && !isDigit(a[i]) ? a[i] : undefined;
      const y = j < b.length && !isDigit(b[j]) ? b[j] : undefined;
      const diff = order(x) - order(y);
      if (diff !== 0) return sign(diff);
      if (x !== undefined) i++;
      if (y !== undefined) j++;
    }
    const startI = i;
    const startJ = j;
    while (i < a.length && isDigit(a[i])) i++;
    while (j < b.length && isDigit(b[j])) j++;
    const diff = compareDigits(a.slice(startI, i) || '0', b.slice(startJ, j) || '0');
    if (diff !== 0) return diff;
  }
  return 0;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

export function compareDpkg(a: string, b: string): Ordering {
  const x = parse(a);
  const y = parse(b);
  return (
    compareDigits(x.epoch, y.epoch) ||
    compareParts(x.upstream, y.upstream) ||
    compareParts(x.revision, y.revision)
  );
}
