import type { OsRelease } from '../../../types.js';
import type { FileAnalyzer } from '../../analyzer.js';

/** os-release(5): `/etc/os-release`, else `/usr/lib/os-release`. */
export const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'];

export const osReleaseAnalyzer: FileAnalyzer = {
  name: 'os-release',
  match: (entry) => OS_RELEASE_PATHS.includes(entry.path) && { read: 'content', maxBytes: 64 * 1024 },
  async analyze(_entry, { content }) {
    const os = parseOsRelease(content?.toString('utf8') ?? '');
    return os ? { os } : { problems: ['os-release has no ID'] };
  },
};

/** Shell-style `KEY=value` lines, values optionally quoted (os-release(5)). */
export function parseOsRelease(text: string): OsRelease | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) fields.set(match[1] as string, unquote((match[2] as string).trim()));
  }
  const id = fields.get('ID');
  if (!id) return undefined;
  const os: OsRelease = { id };
  const versionId = fields.get('VERSION_ID');
  const codename = fields.get('VERSION_CODENAME');
  const prettyName = fields.get('PRETTY_NAME');
  if (versionId) os.versionId = versionId;
  if (codename) os.codename = codename;
  if (prettyName) os.prettyName = prettyName;
  return os;
}

function unquote(value: string): string {
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
    const inner = value.slice(1, -1);
    return quote === '"' ? inner.replace(/\\([$"\\`])/g, '$1') : inner;
  }
  return value;
}
