// Running one analyzer on one file the way the layer walker would: match first, then content or stream.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FileAnalyzer, FileEntry, FileFindings } from '../../../../src/scanning/inventory/analyzer.js';

export const LAYER = 'sha256:0000000000000000000000000000000000000000000000000000000000000000';

export function fileEntry(path: string, size: number, mode = 0o644): FileEntry {
  return { path, size, mode, layer: LAYER };
}

/** Analyzes `content` as the file at `path` (in the image); fails when the analyzer does not match it. */
export async function analyzeContent(
  analyzer: FileAnalyzer,
  path: string,
  content: Buffer | string,
  mode = 0o644,
): Promise<FileFindings> {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const entry = fileEntry(path, bytes.length, mode);
  const how = analyzer.match(entry);
  if (how === false) throw new Error(`${analyzer.name} does not match ${path}`);
  if (how.read === 'stream') throw new Error(`${analyzer.name} streams ${path}`);
  if (bytes.length > how.maxBytes) throw new Error(`${path} is over the ${how.maxBytes}-byte limit`);
  return analyzer.analyze(entry, { content: bytes });
}

/** Analyzes the file at `hostPath` of this machine as the file at `path` in the image, streaming it. */
export async function analyzeHostFile(
  analyzer: FileAnalyzer,
  path: string,
  hostPath: string,
  stream?: Readable,
): Promise<FileFindings> {
  const info = await stat(hostPath);
  const entry = fileEntry(path, info.size, info.mode & 0o7777);
  const how = analyzer.match(entry);
  if (how === false) throw new Error(`${analyzer.name} does not match ${path}`);
  if (how.read === 'stream') return analyzer.analyze(entry, { stream: stream ?? createReadStream(hostPath) });
  if (info.size > how.maxBytes) throw new Error(`${hostPath} is over the ${how.maxBytes}-byte limit`);
  return analyzer.analyze(entry, { content: await readFile(hostPath) });
}
