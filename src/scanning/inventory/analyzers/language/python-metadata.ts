// An installed Python distribution: `<name>-<version>.dist-info/METADATA` (wheels, pip), `*.egg-info/PKG-INFO`
// (setuptools), or a single-file `*.egg-info` (distutils; Debian still ships a few). All three use the core
// metadata format: RFC 822 style headers, then a blank line and the long description, which is not read.
// https://packaging.python.org/en/latest/specifications/core-metadata/
import type { FileAnalyzer } from '../../analyzer.js';
import { problem } from './problem.js';

/** The headers are a few kilobytes; the long description after them can be large. */
const MAX_METADATA_BYTES = 4 * 1024 * 1024;

export const pythonMetadata: FileAnalyzer = {
  name: 'python-metadata',
  match: (entry) =>
    entry.path.endsWith('.dist-info/METADATA') ||
    entry.path.endsWith('.egg-info/PKG-INFO') ||
    entry.path.endsWith('.egg-info')
      ? { read: 'content', maxBytes: MAX_METADATA_BYTES }
      : false,
  async analyze(entry, { content }) {
    const headers = readHeaders(content?.toString('utf8') ?? '');
    const name = headers.get('name');
    const version = headers.get('version');
    if (!name || !version) return problem(entry, 'core metadata without a Name and a Version header');
    const license = declaredLicense(headers);
    return {
      packages: [
        // The name as written (`PyYAML`): the purl normalises it (`pyyaml`).
        { type: 'pypi', name, version, ...(license ? { license } : {}), location: entry.path },
      ],
    };
  },
};

/** Header names (lower-cased) to their first value, continuation lines joined with newlines. */
export function readHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  let continuing: string | undefined; // the header a continuation line belongs to, when it is kept
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') break; // the end of the headers
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (continuing !== undefined) headers.set(continuing, `${headers.get(continuing)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    const key = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    // Only the first of a repeated header counts (Classifier repeats; Name and Version never should).
    continuing = key !== '' && !headers.has(key) ? key : undefined;
    if (continuing !== undefined) headers.set(continuing, line.slice(colon + 1).trim());
  }
  return headers;
}

/**
 * `License-Expression` (metadata 2.4, SPDX) or else `License`; some projects paste their whole license text
 * into `License`, so only its first line is kept. `UNKNOWN` is what setuptools writes when none was given.
 */
function declaredLicense(headers: Map<string, string>): string | undefined {
  const expression = headers.get('license-expression');
  if (expression) return expression;
  const firstLine = headers.get('license')?.split('\n')[0]?.trim();
  return firstLine && firstLine !== 'UNKNOWN' ? firstLine : undefined;
}
