export {
  type ExportReference,
  type ExportSummary,
  exportBundle,
  parseExportReference,
} from './bundle-export.js';
export { BundleError } from './bundle-format.js';
export { type BundleImportSummary, importBundle } from './bundle-import.js';
