// Writes .br and .gz beside each compressible file of the built console (dist/web), at the strongest settings:
// done once at build time, so Berth serves them without compressing per request.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = new URL('../dist/web/', import.meta.url);
const COMPRESSIBLE = /\.(?:html|js|css|svg|json|txt)$/;

const entries = await readdir(root, { withFileTypes: true, recursive: true });
for (const entry of entries) {
  if (!entry.isFile() || !COMPRESSIBLE.test(entry.name)) continue;
  const file = join(entry.parentPath, entry.name);
  const body = await readFile(file);
  await writeFile(
    `${file}.br`,
    brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }),
  );
  await writeFile(`${file}.gz`, gzipSync(body, { level: 9 }));
}
