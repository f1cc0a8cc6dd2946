import type { FileAnalyzer, FoundPackage } from '../../analyzer.js';
import { controlParagraphs } from './control-fields.js';

const STATUS = '/var/lib/dpkg/status';
/** Distroless images keep one control paragraph per package here instead of a status file. */
const STATUS_DIR = '/var/lib/dpkg/status.d/';

export const dpkgAnalyzer: FileAnalyzer = {
  name: 'dpkg',
  match(entry) {
    if (entry.path === STATUS) return { read: 'content', maxBytes: 64 * 1024 * 1024 };
    if (entry.path.startsWith(STATUS_DIR)) {
      const name = entry.path.slice(STATUS_DIR.length);
      if (!name.includes('/') && !name.endsWith('.md5sums'))
        return { read: 'content', maxBytes: 4 * 1024 * 1024 };
    }
    return false;
  },
  async analyze(entry, { content }) {
    return { packages: parseDpkgStatus(content?.toString('utf8') ?? '', entry.path, entry.path === STATUS) };
  },
};

/**
 * The installed packages of a dpkg status file. In `/var/lib/dpkg/status` only `install ok installed` counts
 * (removed packages leave `deinstall ok config-files` paragraphs behind); status.d files have no Status field.
 */
export function parseDpkgStatus(text: string, location: string, requireInstalled: boolean): FoundPackage[] {
  const packages: FoundPackage[] = [];
  for (const fields of controlParagraphs(text)) {
    const name = fields.get('Package');
    const version = fields.get('Version');
    if (!name || !version) continue;
    const status = fields.get('Status');
    if (status !== undefined ? status !== 'install ok installed' : requireInstalled) continue;
    const found: FoundPackage = { type: 'deb', name, version, location };
    const arch = fields.get('Architecture');
    if (arch) found.arch = arch;
    const source = parseSource(fields.get('Source'));
    if (source) found.source = source;
    packages.push(found);
  }
  return packages;
}

/** `Source: openssh (1:9.2p1-2)`: the source package, and its version when it differs from the binary's. */
function parseSource(value: string | undefined): FoundPackage['source'] {
  if (!value) return undefined;
  const match = /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(value.trim());
  if (!match) return undefined;
  return match[2] ? { name: match[1] as string, version: match[2] } : { name: match[1] as string };
}
