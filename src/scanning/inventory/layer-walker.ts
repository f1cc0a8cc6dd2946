import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Header, extract as tarExtract } from 'tar-stream';
import type { FileAnalyzer, FileEntry } from './analyzer.js';
import { dispatchFile, type Match } from './file-dispatch.js';
import { baseName, entryPath, joinPath, parentOf, symlinkTarget } from './image-path.js';
import { ImageTree, type PathRecord } from './image-tree.js';
import { chooseCompression, decompressionStages } from './layer-compression.js';
import type { InventoryLimits } from './limits.js';

export interface LayerRef {
  digest: string;
  mediaType: string;
  size: number;
}

export interface WalkOptions {
  /** Bottom layer first, as the manifest lists them. */
  layers: LayerRef[];
  openLayer(digest: string): Promise<Readable>;
  analyzers: FileAnalyzer[];
  limits: InventoryLimits;
}

/** A record that holds for the final filesystem, under the real path of its file. */
export interface FinalRecord extends PathRecord {
  path: string;
}

export interface WalkResult {
  records: FinalRecord[];
  problems: string[];
}

/** Spent the image-wide budget (entries, expanded bytes): no later layer is walked. */
class ImageLimitError extends Error {}

/** One entry of a layer's tar, as tar-stream hands it over. */
type TarEntry = AsyncIterable<Buffer> & { header: Header; resume(): unknown };

interface Budget {
  entries: number;
  bytes: number;
}

/**
 * Walks the layers in order, streaming each through its decompressor and the tar parser, and asks the
 * analyzers about the regular files; what they find is kept per path so that later layers can replace or
 * delete it. A layer that cannot be read is a problem, never an exception: the walk goes on with the next.
 */
export async function walkLayers(options: WalkOptions): Promise<WalkResult> {
  const tree = new ImageTree();
  const problems: string[] = [];
  const budget: Budget = { entries: 0, bytes: 0 };
  for (const [index, layer] of options.layers.entries()) {
    const walk = new LayerWalk(options, tree, layer, index, budget, problems);
    try {
      await walk.run();
    } catch (error) {
      problems.push(`could not analyze layer ${layer.digest}: ${(error as Error).message}`);
      if (error instanceof ImageLimitError) break;
    }
  }
  return { records: finalRecords(tree, options, problems), problems };
}

class LayerWalk {
  constructor(
    private readonly options: WalkOptions,
    private readonly tree: ImageTree,
    private readonly layer: LayerRef,
    private readonly index: number,
    private readonly budget: Budget,
    private readonly problems: string[],
  ) {}

  async run(): Promise<void> {
    const source = await this.options.openLayer(this.layer.digest);
    const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let head: Buffer = Buffer.alloc(0);
    let stages: ReturnType<typeof decompressionStages>;
    try {
      while (head.length < 4) {
        const next = await chunks.next();
        if (next.done) break;
        head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
      }
      stages = decompressionStages(
        chooseCompression(this.layer.mediaType, head),
        this.options.limits.maxZstdWindowBytes,
      );
    } catch (error) {
      await chunks.return?.();
      throw error;
    }

    const extract = tarExtract();
    const streams = [replay(head, chunks), ...stages, this.countExpanded(), extract];
    const piping = (pipeline as (streams: unknown[]) => Promise<void>)(streams).then(
      () => undefined,
      (error: Error) => error,
    );
    let walkError: unknown;
    try {
      for await (const entry of extract) await this.entry(entry as unknown as TarEntry);
    } catch (error) {
      walkError = error;
      extract.destroy();
    }
    const pipeError = await piping;
    if (walkError instanceof ImageLimitError || (walkError && !pipeError)) throw walkError;
    if (pipeError) throw pipeError.name === 'ImageLimitError' ? pipeError : new Error(describe(pipeError));
  }

  /** Counts the bytes of tar as they come out of the decompressor: zero padding after the archive counts too. */
  private countExpanded() {
    const { budget } = this;
    const max = this.options.limits.maxExpandedBytes;
    return async function* count(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of source) {
        budget.bytes += chunk.length;
        if (budget.bytes > max) throw new ImageLimitError(`the layers expand to more than ${max} bytes`);
        yield chunk;
      }
    };
  }

  private async entry(entry: TarEntry): Promise<void> {
    const { header } = entry;
    const { limits } = this.options;
    if (++this.budget.entries > limits.maxEntries) {
      throw new ImageLimitError(`the layers hold more than ${limits.maxEntries} entries`);
    }
    const size = header.size ?? 0;
    if (!(size >= 0 && this.budget.bytes + size <= limits.maxExpandedBytes)) {
      throw new ImageLimitError(
        `${header.name} declares ${size} bytes, past the ${limits.maxExpandedBytes}-byte limit`,
      );
    }
    const path = entryPath(header.name);
    if (path === undefined) {
      this.problem(`path escapes the root (${header.name})`);
      return drain(entry);
    }
    const name = baseName(path);
    if (name === '.wh..wh..opq') {
      this.tree.opaque(parentOf(path), this.index);
      return drain(entry);
    }
    if (name.startsWith('.wh.')) {
      this.tree.whiteout(joinPath(parentOf(path), name.slice(4)), this.index);
      return drain(entry);
    }
    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        return this.file(entry, path, { size, mode: header.mode ?? 0, layer: this.layer.digest });
      case 'directory':
        this.tree.directory(path);
        break;
      case 'symlink':
        this.tree.symlink(path, symlinkTarget(path, header.linkname ?? ''), this.index);
        break;
      case 'link':
        this.hardlink(path, header.linkname ?? '', header.mode ?? 0);
        break;
      default:
        this.tree.replace(path);
    }
    return drain(entry);
  }

  private async file(entry: TarEntry, path: string, file: Omit<FileEntry, 'path'>): Promise<void> {
    this.tree.replace(path);
    const matches = this.matches(path, file);
    if (matches.length === 0) return drain(entry);
    for (const { match, findings } of await dispatchFile(entry, file, matches)) {
      const record = { analyzer: match.analyzer.name, matchedPath: match.path, layer: file.layer, findings };
      this.tree.record(path, record, this.index);
    }
  }

  /** Each analyzer's first match among the file's own path and the paths that reach it through symlinks. */
  private matches(path: string, file: Omit<FileEntry, 'path'>): Match[] {
    const candidates = [path, ...this.tree.aliases(path, this.options.limits.maxSymlinkHops)];
    const matches: Match[] = [];
    for (const analyzer of this.options.analyzers) {
      for (const candidate of candidates) {
        const mode = analyzer.match({ ...file, path: candidate });
        if (mode) {
          matches.push({ analyzer, mode, path: candidate });
          break;
        }
      }
    }
    return matches;
  }

  /**
   * A hard link shares its target's content, which has streamed past by now (a tar names only earlier entries):
   * the target's findings are copied; an analyzer that wants the link's path but had not read the target is told.
   */
  private hardlink(path: string, linkname: string, mode: number): void {
    const target = entryPath(linkname);
    if (target === undefined) {
      this.problem(`hard link ${path} points outside the root (${linkname})`);
      return;
    }
    const copied = this.tree.recordsAt(target);
    this.tree.replace(path);
    for (const record of copied) this.tree.record(path, { ...record, matchedPath: path }, this.index);
    const file = { size: 0, mode, layer: this.layer.digest };
    for (const { analyzer } of this.matches(path, file)) {
      if (copied.some((record) => record.analyzer === analyzer.name)) continue;
      const problem = `${path} (${analyzer.name}) was not analyzed: it is a hard link to ${target}, which was not read`;
      this.tree.record(
        path,
        { analyzer: analyzer.name, matchedPath: path, layer: file.layer, findings: { problems: [problem] } },
        this.index,
      );
    }
  }

  private problem(text: string): void {
    this.problems.push(`could not analyze layer ${this.layer.digest}: ${text}`);
  }
}

/** The entry's bytes are dropped as the parser skips them; it must be read to its end before the next. */
function drain(entry: TarEntry): void {
  entry.resume();
}

async function* replay(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    if (head.length > 0) yield head;
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
  } finally {
    await rest.return?.();
  }
}

/** zlib's and the tar parser's messages, with what they mean for a layer. */
function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'Z_BUF_ERROR' || error.message === 'unexpected end of file') return 'gzip stream is truncated';
  if (code?.startsWith('Z_')) return `gzip stream is corrupt (${error.message})`;
  if (error.message === 'Unexpected end of data') return 'tar archive is truncated';
  if (error.message === 'Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?') {
    return 'tar archive is corrupt (invalid header)';
  }
  return error.message;
}

/**
 * What holds for the final filesystem: a record made under a symlinked path stays only if that path still
 * leads to the file; a symlink an analyzer wants that loops is a problem.
 */
function finalRecords(tree: ImageTree, options: WalkOptions, problems: string[]): FinalRecord[] {
  const hops = options.limits.maxSymlinkHops;
  const kept: FinalRecord[] = [];
  const reached = new Set<string>();
  for (const [path, { items }] of tree.allRecords()) {
    for (const record of items) {
      if (record.matchedPath !== path && tree.resolve(record.matchedPath, hops) !== path) continue;
      kept.push({ ...record, path });
      reached.add(record.matchedPath);
    }
  }
  for (const [path] of tree.allSymlinks()) {
    if (reached.has(path)) continue;
    const wanted = options.analyzers.some((analyzer) =>
      analyzer.match({ path, size: 0, mode: 0o777, layer: '' }),
    );
    if (wanted && tree.resolve(path, hops) === undefined) {
      problems.push(`${path} was not analyzed: too many levels of symbolic links (a loop)`);
    }
  }
  return kept;
}
