import { compareDigits, InvalidVersion, type Ordering } from './invalid-version.js';

const ALNUM = /[A-Za-z0-9]/;

/**
 * rpmvercmp (rpm 4.15+): alphanumeric segments, separators ignored; `~` sorts before anything (even the end),
 * `^` after the end but before any other segment; a numeric segment is newer than an alphabetic one.
 */
export function rpmvercmp(a: string, b: string): Ordering {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !ALNUM.test(a[i] as string) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !ALNUM.test(b[j] as string) && b[j] !== '~' && b[j] !== '^') j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(a[i]);
    const segment = numeric ? isDigit : isAlpha;
    const startI = i;
    const startJ = j;
    while (i < a.length && segment(a[i])) i++;
    while (j < b.length && segment(b[j])) j++;
    const x = a.slice(startI, i);
    const y = b.slice(startJ, j);
    // b's segment is of the other kind: a numeric segment is newer than an alphabetic one.
    if (y === '') return numeric ? 1 : -1;
    const diff = numeric ? compareDigits(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (diff !== 0) return diff;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isAlpha(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z]/.test(c);
}

/** `[epoch:]version[-release]`, as rpm compares whole EVRs: epoch (absent = 0), then version, then release. */
export function compareRpm(a: string, b: string): Ordering {
  const x = parse(a);
  const y = parse(b);
  return (
    compareDigits(x.epoch, y.epoch) ||
    rpmvercmp(x.version, y.version) ||
    // A missing release matches any (an advisory naming only a version covers every release of it).
    (x.release === undefined || y.release === undefined ? 0 : rpmvercmp(x.release, y.release))
  );
}

function parse(evr: string): { epoch: string; version: string; release?: string } {
  const text = evr.trim();
  const colon = text.indexOf(':');
  const epoch = colon >= 0 ? text.slice(0, colon) || '0' : '0';
  if (!/^\d+$/.test(epoch)) throw new InvalidVersion('rpm', evr, 'the epoch is not a number');
  const rest = text.slice(colon + 1);
  if (rest === '') throw new InvalidVersion('rpm', evr, 'no version');
  const hyphen = rest.lastIndexOf('-');
  return hyphen >= 0
    ? { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) }
    : { epoch, version: rest };
}
