import { compareDigits, InvalidVersion, type Ordering, sign } from './invalid-version.js';

// Alpine's apk versions (Gentoo's rules): numbers `1.2.3`, an optional letter, suffixes `_alpha`…`_p` with an
// optional number, and a package revision `-rN`. Pre-release suffixes sort before the release, the others after.
const SUFFIXES = ['alpha', 'beta', 'pre', 'rc', '', 'cvs', 'svn', 'git', 'hg', 'p'];
const RELEASE = SUFFIXES.indexOf('');
const PATTERN =
  /^(\d+(?:\.\d+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(?:~[0-9a-f]+)?(?:-r(\d+))?$/;

interface ApkVersion {
  numbers: string[];
  letter: string;
  suffixes: { rank: number; number: string }[];
  revision: string;
}

function parse(version: string): ApkVersion {
  const match = PATTERN.exec(version.trim());
  if (!match) throw new InvalidVersion('apk', version);
  const [, numbers = '', letter = '', suffixes = '', revision = '0'] = match;
  return {
    numbers: numbers.split('.'),
    letter,
    suffixes: suffixes
      .split('_')
      .slice(1)
      .map((suffix) => {
        const [, name = '', number = ''] = /^([a-z]+)(\d*)$/.exec(suffix) ?? [];
        return { rank: SUFFIXES.indexOf(name), number: number || '0' };
      }),
    revision,
  };
}

/** Components after the first with a leading zero compare as decimal fractions (`1.01` < `1.1`), as in Gentoo. */
function compareComponent(a: string, b: string, first: boolean): Ordering {
  if (!first && (a.startsWith('0') || b.startsWith('0'))) {
    const x = withoutTrailingZeros(a);
    const y = withoutTrailingZeros(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return compareDigits(a, b);
}

/** By index: `/0+$/` retried from every zero of a long inner run of zeros (quadratic in a pushed version). */
function withoutTrailingZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits[end - 1] === '0') end--;
  return digits.slice(0, end);
}

export function compareApk(a: string, b: string): Ordering {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.min(x.numbers.length, y.numbers.length); i++) {
    const diff = compareComponent(x.numbers[i] as string, y.numbers[i] as string, i === 0);
    if (diff !== 0) return diff;
  }
  if (x.numbers.length !== y.numbers.length) return sign(x.numbers.length - y.numbers.length);
  if (x.letter !== y.letter) return x.letter < y.letter ? -1 : 1;
  for (let i = 0; i < Math.max(x.suffixes.length, y.suffixes.length); i++) {
    // A missing suffix is the release itself: `1.0_rc1` < `1.0` < `1.0_p1`.
    const s = x.suffixes[i] ?? { rank: RELEASE, number: '0' };
    const t = y.suffixes[i] ?? { rank: RELEASE, number: '0' };
    if (s.rank !== t.rank) return sign(s.rank - t.rank);
    const diff = compareDigits(s.number, t.number);
    if (diff !== 0) return diff;
  }
  return compareDigits(x.revision, y.revision);
}
