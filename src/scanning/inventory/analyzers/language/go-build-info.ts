// The build information the Go toolchain (1.18 and later) embeds in every executable, read the way
// debug/buildinfo reads it (https://go.dev/src/debug/buildinfo/buildinfo.go): a 32-byte header starting with
// the magic, then, when flag bit 2 says the strings are inline, two varint-length strings: the toolchain version
// (`go1.26.0`) and the module information (`path …`, `mod …`, `dep …`, `=> …` lines, `build …` settings).
import type { FoundPackage } from '../../analyzer.js';

export const BUILD_INFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_BYTES = 32;
/** The header sits at a 16-byte aligned address of the .go.buildinfo section (and so of the file). */
export const BUILD_INFO_ALIGN = 16;
const FLAG_INLINE_STRINGS = 0x2;
/** Far above any real binary's (a few hundred kilobytes for thousands of modules); a bound for hostile ones. */
export const MAX_MODINFO_BYTES = 4 * 1024 * 1024;
const MAX_VERSION_BYTES = 1024;

export interface BuildInfo {
  goVersion: string;
  modinfo: string;
}

/**
 * Reads the build info at the start of `bytes` (which starts with the magic): the info, `more` when the bytes end
 * before it does, `old-format` for the pointer-based header of Go before 1.18, or `invalid` when these bytes only
 * happen to contain the magic (the debug/buildinfo package has it as a string constant).
 */
export function readBuildInfo(bytes: Buffer): BuildInfo | 'more' | 'old-format' | 'invalid' {
  if (bytes.length < HEADER_BYTES) return 'more';
  const pointerSize = bytes[14];
  const flags = bytes[15] ?? 0;
  if (pointerSize !== 4 && pointerSize !== 8) return 'invalid';
  if ((flags & FLAG_INLINE_STRINGS) === 0) return 'old-format';
  const version = readVarintString(bytes, HEADER_BYTES, MAX_VERSION_BYTES);
  if (typeof version === 'string') return version;
  const goVersion = version.value.toString('latin1');
  if (!/^(go|devel )/.test(goVersion)) return 'invalid';
  const modinfo = readVarintString(bytes, version.end, MAX_MODINFO_BYTES);
  if (typeof modinfo === 'string') return modinfo;
  return { goVersion, modinfo: stripSentinels(modinfo.value).toString('utf8') };
}

/** A uvarint length then that many bytes, from `offset`. */
function readVarintString(
  bytes: Buffer,
  offset: number,
  maxLength: number,
): { value: Buffer; end: number } | 'more' | 'invalid' {
  let length = 0;
  let position = offset;
  for (let shift = 0; ; shift += 7) {
    if (position >= bytes.length) return 'more';
    if (shift > 28) return 'invalid'; // longer than any bound below
    const byte = bytes[position++] ?? 0;
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (length > maxLength) return 'invalid';
  if (position + length > bytes.length) return 'more';
  return { value: bytes.subarray(position, position + length), end: position + length };
}

/** The linker wraps the module information in two 16-byte sentinels; debug/buildinfo drops them the same way. */
function stripSentinels(modinfo: Buffer): Buffer {
  if (modinfo.length >= 33 && modinfo[modinfo.length - 17] === 0x0a) return modinfo.subarray(16, -16);
  return Buffer.alloc(0);
}

/**
 * The packages a binary is made of, for Go vulnerability data (the OSV "Go" ecosystem): the main module and every
 * dependency as `golang` packages, and the standard library as `stdlib` at the toolchain's version.
 *
 * A main module built from a checkout without version control information is `(devel)`, which no advisory
 * range can match: it is left out. A dependency replaced by another module version is reported as that
 * replacement (its code is what was linked); one replaced by a local directory has no version and is left out.
 * Module versions stay as Go writes them (`v1.2.3`, as in Go purls); the standard library's is Go's OSV form.
 */
export function buildInfoPackages(info: BuildInfo, location: string): FoundPackage[] {
  const packages: FoundPackage[] = [];
  const stdlib = stdlibVersion(info.goVersion);
  if (stdlib) packages.push({ type: 'golang', name: 'stdlib', version: stdlib, location });
  let last: { path: string; version: string } | undefined;
  const flush = () => {
    if (last && last.version !== '' && last.version !== '(devel)') {
      packages.push({ type: 'golang', name: last.path, version: last.version, location });
    }
    last = undefined;
  };
  for (const line of info.modinfo.split('\n')) {
    const [kind, path = '', version = ''] = line.split('\t');
    if (kind === 'mod' || kind === 'dep') {
      flush();
      last = { path, version };
    } else if (kind === '=>' && last) {
      last = { path, version };
    }
  }
  flush();
  return packages;
}

/**
 * `go1.26.0` → `1.26.0`, `go1.21` → `1.21.0`, `go1.22rc1` → `1.22.0-rc.1` (what Go's OSV records use for the
 * standard library); extra words (` X:boringcrypto`) are dropped. A development toolchain (`devel …`) has none.
 */
export function stdlibVersion(goVersion: string): string | undefined {
  const match = /^go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?(?:\s|$)/.exec(goVersion);
  if (!match) return undefined;
  const [, major, minor, patch = '0', pre, preNumber] = match;
  return `${major}.${minor}.${patch}${pre ? `-${pre}.${preNumber}` : ''}`;
}
