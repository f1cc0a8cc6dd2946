import type { FileAnalyzer } from '../../analyzer.js';
import { cargoLock } from './cargo-lock.js';
import { goBinary } from './go-binary.js';
import { javaArchive } from './java-archive.js';
import { npmInstalledPackage } from './npm-installed-package.js';
import { npmPackageLock } from './npm-package-lock.js';
import { pythonMetadata } from './python-metadata.js';

/** Language package analyzers (npm, Python, Go binaries, Java archives, Rust), in the order they are asked. */
export const languageAnalyzers: FileAnalyzer[] = [
  npmPackageLock,
  npmInstalledPackage,
  pythonMetadata,
  goBinary,
  javaArchive,
  cargoLock,
];
