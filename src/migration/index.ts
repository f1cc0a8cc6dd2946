export {
  type ImportOptions,
  type ImportProblem,
  type ImportSummary,
  importDistribution,
} from './distribution-import.js';
export { type HashingReader, hashingReader } from './hashing-reader.js';
