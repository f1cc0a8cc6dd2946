import { readFileSync } from 'node:fs';

/** Berth's own version (package.json), as SBOMs name their generator: `berth-0.1.0`. */
export const BERTH_VERSION: string = (() => {
  try {
    const url = new URL('../../package.json', import.meta.url);
    const version = (JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
