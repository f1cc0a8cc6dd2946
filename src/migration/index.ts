export {
  type ImportOptions,
  type ImportProblem,
  type ImportSummary,
  importDistribution,
} from './distribution-import.js';
export { S3DistributionTree } from './distribution-s3-tree.js';
export type { DistributionSource } from './distribution-tree.js';
export { type HashingReader, hashingReader } from './hashing-reader.js';
