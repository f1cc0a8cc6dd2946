import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import type { FileAnalyzer, FoundPackage } from '../../analyzer.js';
import { RPMTAG, RpmHeader } from './rpm-header.js';

/** rpm ≥ 4.16 (Fedora 33+, RHEL 9) keeps its database in SQLite; /var/lib/rpm before the sysimage move. */
const RPM_DIRS = ['/var/lib/rpm/', '/usr/lib/sysimage/rpm/'];
/** The database is copied to a temporary file to be opened; a bigger one is refused. */
export const MAX_RPMDB_BYTES = 1024 * 1024 * 1024;

const UNSUPPORTED: Record<string, string> = {
  Packages: 'rpm Berkeley DB database is not supported',
  'Packages.db': 'rpm NDB database is not supported',
};

function databaseFile(path: string): string | undefined {
  const dir = RPM_DIRS.find((prefix) => path.startsWith(prefix));
  const name = dir && path.slice(dir.length);
  return name === 'rpmdb.sqlite' || (name && name in UNSUPPORTED) ? name : undefined;
}

export const rpmAnalyzer: FileAnalyzer = {
  name: 'rpm',
  match: (entry) => databaseFile(entry.path) !== undefined && { read: 'stream' },
  async analyze(entry, { stream }) {
    const name = databaseFile(entry.path) as string;
    if (name !== 'rpmdb.sqlite') {
      stream?.destroy();
      return { problems: [`${entry.path}: ${UNSUPPORTED[name]}`] };
    }
    return { packages: await readRpmSqlite(stream as Readable, entry.path, MAX_RPMDB_BYTES) };
  },
};

/** Copies the database out of the layer (SQLite needs a file), then reads every installed package's header. */
export async function readRpmSqlite(
  stream: Readable,
  location: string,
  maxBytes: number,
): Promise<FoundPackage[]> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-rpmdb-'));
  try {
    const file = join(dir, 'rpmdb.sqlite');
    let written = 0;
    await pipeline(
      stream,
      async function* cap(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          written += chunk.length;
          if (written > maxBytes) throw new Error(`rpm database is larger than ${maxBytes} bytes`);
          yield chunk;
        }
      },
      createWriteStream(file),
    );
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT blob FROM Packages').raw().iterate() as Iterable<[Buffer]>;
      const packages: FoundPackage[] = [];
      for (const [blob] of rows) {
        const found = rpmPackage(new RpmHeader(blob), location);
        if (found) packages.push(found);
      }
      return packages;
    } finally {
      db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function rpmPackage(header: RpmHeader, location: string): FoundPackage | undefined {
  const name = header.string(RPMTAG.NAME);
  const version = header.string(RPMTAG.VERSION);
  const release = header.string(RPMTAG.RELEASE);
  // gpg-pubkey entries are keys rpm imported, not installed software.
  if (!name || !version || !release || name === 'gpg-pubkey') return undefined;
  const epoch = header.int32(RPMTAG.EPOCH);
  const found: FoundPackage = {
    type: 'rpm',
    name,
    version: `${epoch !== undefined ? `${epoch}:` : ''}${version}-${release}`,
    location,
  };
  const arch = header.string(RPMTAG.ARCH);
  const license = header.string(RPMTAG.LICENSE);
  const source = sourceOfRpm(header.string(RPMTAG.SOURCERPM));
  if (arch) found.arch = arch;
  if (license) found.license = license;
  if (source) found.source = source;
  return found;
}

/** `openssl-3.0.7-27.el9.src.rpm` → openssl, 3.0.7-27.el9 (name-version-release; the name may hold dashes). */
export function sourceOfRpm(sourceRpm: string | undefined): FoundPackage['source'] {
  const match = sourceRpm && /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(sourceRpm);
  return match ? { name: match[1] as string, version: `${match[2]}-${match[3]}` } : undefined;
}
