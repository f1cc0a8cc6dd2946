// An installed npm package: the package.json at the top of `node_modules/<name>/` or `node_modules/@scope/<name>/`.
// Other package.json files inside a package (`dist/esm/package.json`, fixtures) describe no installed package.
import type { FileAnalyzer } from '../../analyzer.js';
import { isNpmName, isRecord, npmLicense, splitNpmName } from './npm-package-name.js';
import { problem, reason } from './problem.js';

/** Old npm versions copied the README into package.json; a few megabytes is plenty. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export const npmInstalledPackage: FileAnalyzer = {
  name: 'npm-installed-package',
  match: (entry) =>
    isInstalledManifest(entry.path) ? { read: 'content', maxBytes: MAX_MANIFEST_BYTES } : false,
  async analyze(entry, { content }) {
    let manifest: unknown;
    try {
      manifest = JSON.parse(content?.toString('utf8') ?? '');
    } catch (error) {
      return problem(entry, `not valid JSON (${reason(error)})`);
    }
    // A package.json without a name or version is no package (npm itself would not have installed it).
    if (!isRecord(manifest) || !isNpmName(manifest.name) || typeof manifest.version !== 'string') return {};
    if (manifest.version === '') return {};
    const license = npmLicense(manifest);
    return {
      packages: [
        {
          type: 'npm',
          ...splitNpmName(manifest.name),
          version: manifest.version,
          ...(license ? { license } : {}),
          location: entry.path,
        },
      ],
    };
  },
};

/** `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`; cheap string checks only. */
export function isInstalledManifest(path: string): boolean {
  if (!path.endsWith('/package.json')) return false;
  const parts = path.split('/');
  const dir = parts[parts.length - 2] ?? '';
  const parent = parts[parts.length - 3] ?? '';
  if (dir === '' || dir.startsWith('.') || dir.startsWith('@')) return false;
  if (parent === 'node_modules') return true;
  return parent.length > 1 && parent.startsWith('@') && parts[parts.length - 4] === 'node_modules';
}
