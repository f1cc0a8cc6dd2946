const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** A size for people: `512 B`, `1.5 KiB`, `3.0 GiB`; `—` when unknown. */
export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  let size = value;
  let unit = 0;
  // 1023.96 KiB rounded to one decimal would read "1024.0 KiB": it is counted in the next unit already.
  while (unit < UNITS.length - 1 && size >= (unit === 0 ? 1024 : 1023.95)) {
    size /= 1024;
    unit++;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${UNITS[unit]}`;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * `10000000`, `10MB`, `9.5 GiB` (as `berth project quota --set` reads them): a whole number of bytes; undefined
 * when it is not one of those.
 */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * (BYTE_UNITS[(match[2] ?? 'b').toLowerCase()] as number);
  if (match[2] === undefined && !Number.isInteger(value)) return undefined;
  const whole = Math.round(value);
  return Number.isSafeInteger(whole) ? whole : undefined;
}

/** How full a quota is, in whole percent (0–100; an exhausted zero quota is 100); null without a quota. */
export function quotaPercent(used: number, limit: number | null): number | null {
  if (limit === null) return null;
  if (limit === 0) return 100;
  return Math.min(100, Math.floor((used / limit) * 100));
}

export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'never';
  return new Date(ms).toLocaleString();
}

export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
