/** A version string the scheme cannot read; the matcher skips the comparison and reports it. */
export class InvalidVersion extends Error {
  constructor(
    readonly scheme: string,
    readonly version: string,
    reason?: string,
  ) {
    super(`'${version}' is not a valid ${scheme} version${reason ? `: ${reason}` : ''}`);
  }
}

/** -1, 0 or 1. */
export type Ordering = -1 | 0 | 1;

export function sign(n: number): Ordering {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Compares two strings of decimal digits of any length by value (leading zeros ignored). */
export function compareDigits(a: string, b: string): Ordering {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return sign(x.length - y.length);
  return x < y ? -1 : x > y ? 1 : 0;
}
