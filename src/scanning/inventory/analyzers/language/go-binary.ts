// Go executables: the modules and the standard library they were linked from, from the build information the
// toolchain embeds. The file is streamed and searched for the build-info magic (across chunk boundaries, never
// holding more than the part that could be the header and its strings); reading stops at the first real one.
import type { Readable } from 'node:stream';
import type { FileAnalyzer } from '../../analyzer.js';
import {
  BUILD_INFO_ALIGN,
  BUILD_INFO_MAGIC,
  type BuildInfo,
  buildInfoPackages,
  readBuildInfo,
} from './go-build-info.js';
import { problem, reason } from './problem.js';

/** The smallest Go executable (stripped, doing nothing) is over a megabyte; this leaves most scripts and tools. */
const MIN_GO_BINARY_BYTES = 512 * 1024;
const ELF_MAGIC = Buffer.from('\x7fELF', 'latin1');

export const goBinary: FileAnalyzer = {
  name: 'go-binary',
  match: (entry) =>
    (entry.mode & 0o111) !== 0 && entry.size >= MIN_GO_BINARY_BYTES ? { read: 'stream' } : false,
  async analyze(entry, { stream }) {
    if (!stream) return problem(entry, 'no stream to read the executable from');
    try {
      const info = await findBuildInfo(stream);
      if (info === 'not-go') return {};
      if (info === 'old-format') {
        return problem(entry, 'Go build information in the format of Go before 1.18, which is not read');
      }
      return { packages: buildInfoPackages(info, entry.path) };
    } catch (error) {
      return problem(entry, `could not be read (${reason(error)})`);
    } finally {
      stream.destroy();
    }
  },
};

/**
 * The build information in an ELF executable read from `stream`, `not-go` when there is none (or the file is
 * not ELF), `old-format` when there is only the header of Go before 1.18. Consumes the stream only as far as
 * needed; the caller destroys it.
 */
export async function findBuildInfo(stream: Readable): Promise<BuildInfo | 'not-go' | 'old-format'> {
  let pending = Buffer.alloc(0); // the bytes not yet searched, or a candidate header and what follows it
  let pendingOffset = 0; // the file offset of pending[0], for the alignment check
  let searchFrom = 0;
  let elfChecked = false;
  let sawOldFormat = false;
  for await (const chunk of stream) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    pending = pending.length === 0 ? bytes : Buffer.concat([pending, bytes]);
    if (!elfChecked) {
      if (pending.length < ELF_MAGIC.length) continue;
      if (!pending.subarray(0, ELF_MAGIC.length).equals(ELF_MAGIC)) return 'not-go';
      elfChecked = true;
    }
    for (;;) {
      const at = pending.indexOf(BUILD_INFO_MAGIC, searchFrom);
      if (at < 0) {
        // Keep only a tail that could be the start of a magic split across two chunks.
        const keepFrom = Math.max(searchFrom, pending.length - (BUILD_INFO_MAGIC.length - 1));
        pendingOffset += keepFrom;
        pending = pending.subarray(keepFrom);
        searchFrom = 0;
        break;
      }
      if ((pendingOffset + at) % BUILD_INFO_ALIGN !== 0) {
        searchFrom = at + 1;
        continue;
      }
      const info = readBuildInfo(pending.subarray(at));
      if (info === 'more') {
        pendingOffset += at;
        pending = pending.subarray(at);
        searchFrom = 0;
        break;
      }
      if (info !== 'invalid' && info !== 'old-format') return info;
      sawOldFormat ||= info === 'old-format';
      searchFrom = at + 1;
    }
  }
  return sawOldFormat ? 'old-format' : 'not-go';
}
