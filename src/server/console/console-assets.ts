import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A built file of the console, with the precompressed forms the build wrote beside it. */
export interface ConsoleAsset {
  body: Buffer;
  br?: Buffer;
  gzip?: Buffer;
  type: string;
  /** Under assets/ the names carry a content hash: cached for a year, never revalidated. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * Where `npm run build` puts the console: dist/web beside dist/server when running the build; the repository's
 * dist/web from the compiled tests (.test-dist/server/console) or the sources (src/server/console). A built
 * console has assets/ (the source web/ folder, reached from src/, has an index.html too, but no assets/).
 */
export function defaultConsoleRoot(): string | undefined {
  for (const relativePath of ['../../web/', '../../../dist/web/', '../../dist/web/']) {
    const dir = fileURLToPath(new URL(relativePath, import.meta.url));
    if (existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'assets'))) return dir;
  }
  return undefined;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * The console's built files, read once at start (a few hundred KiB): URL path (`/index.html`,
 * `/assets/index-3f2a.js`) → the file and its `.br`/`.gz` siblings.
 */
export async function loadConsoleAssets(root: string): Promise<Map<string, ConsoleAsset>> {
  const assets = new Map<string, ConsoleAsset>();
  const files = await filesUnder(root);
  const present = new Set(files);
  for (const file of files) {
    const extension = extname(file);
    if (extension === '.br' || extension === '.gz') continue;
    const urlPath = `/${relative(root, file).split(sep).join('/')}`;
    const asset: ConsoleAsset = {
      body: await readFile(file),
      type: TYPES[extension] ?? 'application/octet-stream',
      immutable: urlPath.startsWith('/assets/'),
    };
    if (present.has(`${file}.br`)) asset.br = await readFile(`${file}.br`);
    if (present.has(`${file}.gz`)) asset.gzip = await readFile(`${file}.gz`);
    assets.set(urlPath, asset);
  }
  return assets;
}
