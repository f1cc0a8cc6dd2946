import type { FileAnalyzer } from '../../analyzer.js';
import { apkAnalyzer } from './apk.js';
import { dpkgAnalyzer } from './dpkg.js';
import { osReleaseAnalyzer } from './os-release.js';
import { rpmAnalyzer } from './rpm.js';
import { sshServerAnalyzer } from './ssh-server.js';

/** The distribution's package databases, its os-release, and SSH server binaries. */
export const osAnalyzers: FileAnalyzer[] = [
  osReleaseAnalyzer,
  dpkgAnalyzer,
  apkAnalyzer,
  rpmAnalyzer,
  sshServerAnalyzer,
];

export { parseApkInstalled } from './apk.js';
export { parseDpkgStatus } from './dpkg.js';
export { parseOsRelease } from './os-release.js';
