import { createReadStream } from 'node:fs';
import { opendir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';

/** Where OSV records come from: a tree of `*.json`, a `.zip` of them (OSV's `<Ecosystem>/all.zip`), or NDJSON. */
export type OsvSource =
  | { kind: 'directory'; path: string }
  | { kind: 'zip'; path: string }
  | { kind: 'ndjson'; stream: Readable | AsyncIterable<Buffer | string> };

/** One record's text, or why it could not be read; `origin` names it in reports (file, zip entry, line). */
export type SourceItem = { origin: string; text: string } | { origin: string; error: string };

/** One OSV record is a few kilobytes; anything far larger is refused rather than held in memory. */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** A path's source by what it is: a directory, a `.zip`, else a file of NDJSON. */
export async function sourceFromPath(path: string): Promise<OsvSource> {
  if ((await stat(path)).isDirectory()) return { kind: 'directory', path };
  if (path.toLowerCase().endsWith('.zip')) return { kind: 'zip', path };
  return { kind: 'ndjson', stream: createReadStream(path) };
}

export function readSource(source: OsvSource): AsyncIterable<SourceItem> {
  switch (source.kind) {
    case 'directory':
      return readDirectory(source.path, '');
    case 'zip':
      return readZip(source.path);
    case 'ndjson':
      return readNdjson(source.stream);
  }
}

async function* readDirectory(root: string, relative: string): AsyncGenerator<SourceItem> {
  const entries: { name: string; directory: boolean }[] = [];
  for await (const entry of await opendir(join(root, relative))) {
    if (entry.isDirectory() || (entry.isFile() && entry.name.endsWith('.json'))) {
      entries.push({ name: entry.name, directory: entry.isDirectory() });
    }
  }
  // A stable order, so that reports and re-imports read the same way.
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.directory) {
      yield* readDirectory(root, path);
      continue;
    }
    const size = (await stat(join(root, path))).size;
    if (size > MAX_RECORD_BYTES)
      yield { origin: path, error: `${size} bytes is larger than a record can be` };
    else yield { origin: path, text: await readFile(join(root, path), 'utf8') };
  }
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: true }, (error, zip) =>
      error ? reject(error) : resolve(zip),
    ),
  );
}

/** Entries are read one at a time (yauzl's lazyEntries): the archive is never held in memory. */
async function* readZip(path: string): AsyncGenerator<SourceItem> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(path);
  } catch (error) {
    throw new Error(`${path} is not a readable zip: ${(error as Error).message}`);
  }
  try {
    while (true) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const onEntry = (e: yauzl.Entry) => done(() => resolve(e));
        const onEnd = () => done(() => resolve(undefined));
        const onError = (error: Error) => done(() => reject(error));
        const done = (settle: () => void) => {
          zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
          settle();
        };
        zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
        zip.readEntry();
      });
      if (!entry) return;
      if (entry.fileName.endsWith('/') || !entry.fileName.endsWith('.json')) continue;
      if (entry.uncompressedSize > MAX_RECORD_BYTES) {
        yield {
          origin: entry.fileName,
          error: `${entry.uncompressedSize} bytes is larger than a record can be`,
        };
        continue;
      }
      yield { origin: entry.fileName, text: await readEntry(zip, entry) };
    }
  } finally {
    zip.close();
  }
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<string> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, async (error, stream) => {
      if (error) return reject(error);
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        reject(e);
      }
    }),
  );
}

/** One record per line; blank lines are skipped, an overlong line is reported and skipped. */
async function* readNdjson(stream: Readable | AsyncIterable<Buffer | string>): AsyncGenerator<SourceItem> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 0;
  let overlong = false;
  const finish = function* (): Generator<SourceItem> {
    line++;
    const origin = `line ${line}`;
    if (overlong) yield { origin, error: `longer than ${MAX_RECORD_BYTES} bytes` };
    else {
      const text = Buffer.concat(pending).toString('utf8').trim();
      if (text !== '') yield { origin, text };
    }
    pending = [];
    pendingBytes = 0;
    overlong = false;
  };
  for await (const chunk of stream) {
    let buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let newline = buffer.indexOf(10); newline >= 0; newline = buffer.indexOf(10)) {
      take(buffer.subarray(0, newline));
      yield* finish();
      buffer = buffer.subarray(newline + 1);
    }
    take(buffer);
  }
  if (pendingBytes > 0 || overlong) yield* finish();

  function take(part: Buffer): void {
    if (overlong || part.length === 0) return;
    if (pendingBytes + part.length > MAX_RECORD_BYTES) {
      overlong = true;
      pending = [];
      return;
    }
    pending.push(Buffer.from(part));
    pendingBytes += part.length;
  }
}
