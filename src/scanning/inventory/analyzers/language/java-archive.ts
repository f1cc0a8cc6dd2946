// Java archives (.jar, .war, .ear): the Maven artifacts they hold, from the `pom.properties` Maven's archiver
// writes at META-INF/maven/<groupId>/<artifactId>/ (a shaded jar has several), and the same for the archives
// nested one level down (Spring Boot's BOOT-INF/lib/, a war's WEB-INF/lib/, an ear's modules). An archive
// without Maven metadata (built by other tools) shows nothing here.
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { FileAnalyzer, FoundPackage } from '../../analyzer.js';
import { problem, reason } from './problem.js';

/** The archive is read whole (zip's directory is at its end); larger ones are reported, not read. */
const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;
/** Bounds for nested archives, which are decompressed into memory one at a time. */
const MAX_NESTED_ARCHIVE_BYTES = 32 * 1024 * 1024;
const MAX_NESTED_ARCHIVES = 2000;
const MAX_NESTED_TOTAL_BYTES = 512 * 1024 * 1024;
const MAX_POM_PROPERTIES_BYTES = 64 * 1024;

const POM_PROPERTIES = /^META-INF\/maven\/([^/]+)\/([^/]+)\/pom\.properties$/;

export const javaArchive: FileAnalyzer = {
  name: 'java-archive',
  match: (entry) =>
    isJavaArchiveName(entry.path) ? { read: 'content', maxBytes: MAX_ARCHIVE_BYTES } : false,
  async analyze(entry, { content }) {
    if (!content) return problem(entry, 'no content to read the archive from');
    const walk: ArchiveWalk = {
      packages: [],
      problems: [],
      nestedArchives: 0,
      nestedBytes: 0,
      nestedSkipped: 0,
    };
    try {
      await readArchive(content, entry.path, walk, true);
    } catch (error) {
      // What was found before the damage stays; the problem says the list may be short.
      walk.problems.push(`${entry.path}: not a readable zip archive (${reason(error)})`);
    }
    if (walk.nestedSkipped > 0) {
      walk.problems.push(
        `${entry.path}: ${walk.nestedSkipped} nested archives were not read (over ${MAX_NESTED_ARCHIVES} archives or ${MAX_NESTED_TOTAL_BYTES} bytes)`,
      );
    }
    return {
      ...(walk.packages.length > 0 ? { packages: walk.packages } : {}),
      ...(walk.problems.length > 0 ? { problems: walk.problems } : {}),
    };
  },
};

function isJavaArchiveName(path: string): boolean {
  const suffix = path.slice(-4).toLowerCase();
  return suffix === '.jar' || suffix === '.war' || suffix === '.ear';
}

interface ArchiveWalk {
  packages: FoundPackage[];
  problems: string[];
  nestedArchives: number;
  nestedBytes: number;
  /** Nested archives left unread once the bounds above were reached. */
  nestedSkipped: number;
}

/** Lists the Maven artifacts of the archive in `bytes` (at `location`), and of its nested archives when asked. */
async function readArchive(
  bytes: Buffer,
  location: string,
  walk: ArchiveWalk,
  nested: boolean,
): Promise<void> {
  const zip = await yauzl.fromBufferPromise(bytes, {
    lazyEntries: true,
    validateEntrySizes: true,
    strictFileNames: false,
  });
  try {
    for await (const item of zip.eachEntry()) {
      const pom = POM_PROPERTIES.exec(item.fileName);
      try {
        if (pom) {
          if (item.uncompressedSize > MAX_POM_PROPERTIES_BYTES) {
            walk.problems.push(`${location}: ${item.fileName} is over ${MAX_POM_PROPERTIES_BYTES} bytes`);
            continue;
          }
          const properties = parseProperties((await readEntry(zip, item)).toString('utf8'));
          const found = mavenPackage(properties, pom[1] ?? '', pom[2] ?? '', location);
          if (found) walk.packages.push(found);
        } else if (nested && isJavaArchiveName(item.fileName)) {
          await readNestedArchive(zip, item, `${location}!/${item.fileName}`, walk);
        }
      } catch (error) {
        walk.problems.push(`${location}: ${item.fileName} could not be read (${reason(error)})`);
      }
    }
  } finally {
    if (zip.isOpen) zip.close();
  }
}

async function readNestedArchive(
  zip: yauzl.ZipFile,
  item: yauzl.Entry,
  location: string,
  walk: ArchiveWalk,
): Promise<void> {
  if (item.uncompressedSize > MAX_NESTED_ARCHIVE_BYTES) {
    walk.problems.push(`${location}: a nested archive over ${MAX_NESTED_ARCHIVE_BYTES} bytes was not read`);
    return;
  }
  if (
    walk.nestedArchives >= MAX_NESTED_ARCHIVES ||
    walk.nestedBytes + item.uncompressedSize > MAX_NESTED_TOTAL_BYTES
  ) {
    walk.nestedSkipped++;
    return;
  }
  walk.nestedArchives++;
  walk.nestedBytes += item.uncompressedSize;
  const bytes = await readEntry(zip, item);
  try {
    await readArchive(bytes, location, walk, false);
  } catch (error) {
    walk.problems.push(`${location}: not a readable zip archive (${reason(error)})`);
  }
}

/** An entry's bytes; its size was checked against a bound, and yauzl fails the stream if it lied about it. */
async function readEntry(zip: yauzl.ZipFile, item: yauzl.Entry): Promise<Buffer> {
  const stream: Readable = await zip.openReadStreamPromise(item);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `key=value` (or `key: value`) lines of a Java properties file, without comments; enough for pom.properties. */
export function parseProperties(text: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const separator = line.search(/[=:]/);
    if (separator <= 0) continue;
    properties.set(line.slice(0, separator).trim(), line.slice(separator + 1).trim());
  }
  return properties;
}

/** groupId and artifactId as the file says (its directory names otherwise); no package without a real version. */
function mavenPackage(
  properties: Map<string, string>,
  groupDir: string,
  artifactDir: string,
  location: string,
): FoundPackage | undefined {
  const namespace = properties.get('groupId') || groupDir;
  const name = properties.get('artifactId') || artifactDir;
  const version = properties.get('version');
  if (!version || version.includes('${')) return undefined;
  return { type: 'maven', namespace, name, version, location };
}
