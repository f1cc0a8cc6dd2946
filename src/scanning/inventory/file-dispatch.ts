import { PassThrough } from 'node:stream';
import type { FileAnalyzer, FileEntry, FileFindings, ReadMode } from './analyzer.js';

/** An analyzer that wants a file, under the path it matched it by. */
export interface Match {
  analyzer: FileAnalyzer;
  mode: ReadMode;
  path: string;
}

export interface Analysis {
  match: Match;
  findings: FileFindings;
}

/**
 * Reads one tar entry once for every analyzer that matched it: buffered (up to the largest cap asked for) for
 * 'content' readers, teed with backpressure for 'stream' readers. The entry is always read to its end, so the
 * tar parser can move on; bytes nobody wants are dropped as they pass.
 */
export async function dispatchFile(
  entry: AsyncIterable<Buffer>,
  file: Omit<FileEntry, 'path'>,
  matches: Match[],
): Promise<Analysis[]> {
  const analyses: Analysis[] = [];
  const contentReaders: Match[] = [];
  for (const match of matches) {
    if (match.mode.read !== 'content') continue;
    if (file.size > match.mode.maxBytes) {
      analyses.push({ match, findings: { problems: [tooLarge(match, file.size, match.mode.maxBytes)] } });
    } else {
      contentReaders.push(match);
    }
  }
  const content = contentReaders.length > 0 ? Buffer.allocUnsafe(file.size) : undefined;

  const streamReaders = matches
    .filter((match) => match.mode.read === 'stream')
    .map((match) => {
      const stream = new PassThrough({ highWaterMark: 64 * 1024 });
      stream.on('error', () => {}); // the analyzer owns the stream's errors; an unheard one must not crash us
      // An analyzer that returns without reading to the end gives its stream up, and the tee moves on.
      const done = settle(match, { ...file, path: match.path }, { stream }).finally(() => stream.destroy());
      return { stream, done };
    });

  let filled = 0;
  try {
    for await (const chunk of entry) {
      if (content) {
        if (filled + chunk.length > content.length)
          throw new Error('tar entry is longer than its header says');
        chunk.copy(content, filled);
        filled += chunk.length;
      }
      for (const reader of streamReaders) {
        if (!reader.stream.destroyed && !reader.stream.write(chunk)) await drainedOrClosed(reader.stream);
      }
    }
  } catch (error) {
    for (const reader of streamReaders) reader.stream.destroy(error as Error);
    await Promise.all(streamReaders.map((reader) => reader.done));
    throw error;
  }
  for (const reader of streamReaders) reader.stream.end();
  analyses.push(...(await Promise.all(streamReaders.map((reader) => reader.done))));

  if (content) {
    if (filled !== content.length) throw new Error('tar entry is shorter than its header says');
    for (const match of contentReaders)
      analyses.push(await settle(match, { ...file, path: match.path }, { content }));
  }
  return analyses;
}

async function settle(
  match: Match,
  entry: FileEntry,
  file: { content?: Buffer; stream?: PassThrough },
): Promise<Analysis> {
  try {
    return { match, findings: await match.analyzer.analyze(entry, file) };
  } catch (error) {
    const problem = `could not analyze ${entry.path} (${match.analyzer.name}): ${(error as Error).message}`;
    return { match, findings: { problems: [problem] } };
  }
}

function tooLarge(match: Match, size: number, maxBytes: number): string {
  return `${match.path} (${match.analyzer.name}) was not analyzed: ${size} bytes is over its ${maxBytes}-byte limit`;
}

function drainedOrClosed(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
