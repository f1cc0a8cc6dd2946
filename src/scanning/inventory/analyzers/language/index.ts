import type { FileAnalyzer } from '../../analyzer.js';

/** Language package analyzers (npm, Python, Go binaries, Java archives, Rust), in the order they are asked. */
export const languageAnalyzers: FileAnalyzer[] = [];
