import type { FileAnalyzer, FoundPackage } from '../../analyzer.js';

/** apk-tools 2 keeps it under /lib; apk-tools 3 under /usr/lib. */
const INSTALLED = ['/lib/apk/db/installed', '/usr/lib/apk/db/installed'];

export const apkAnalyzer: FileAnalyzer = {
  name: 'apk',
  match: (entry) => INSTALLED.includes(entry.path) && { read: 'content', maxBytes: 64 * 1024 * 1024 },
  async analyze(entry, { content }) {
    return { packages: parseApkInstalled(content?.toString('utf8') ?? '', entry.path) };
  },
};

/** The apk installed database: `K:value` lines, one blank-line-separated paragraph per package (apk-tools' "apkv2 index" format). */
export function parseApkInstalled(text: string, location: string): FoundPackage[] {
  const packages: FoundPackage[] = [];
  let fields = new Map<string, string>();
  const flush = () => {
    const name = fields.get('P');
    const version = fields.get('V');
    if (name && version) {
      const found: FoundPackage = { type: 'apk', name, version, location };
      const arch = fields.get('A');
      const origin = fields.get('o');
      const license = fields.get('L');
      if (arch) found.arch = arch;
      if (origin) found.source = { name: origin };
      if (license) found.license = license;
      packages.push(found);
    }
    fields = new Map();
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') flush();
    else if (line[1] === ':' && !fields.has(line[0] as string)) fields.set(line[0] as string, line.slice(2));
  }
  flush();
  return packages;
}
