export { cvssBaseScore, severityOfScore } from './cvss.js';
export { ecosystemKey, lookupOf, normaliseName, type PackageLookup, schemeOf } from './ecosystems.js';
export type { MatchResult } from './matcher.js';
export { InvalidRecord, parseOsvRecord, type VulnerabilityRecord } from './osv-record.js';
export { MAX_RECORD_BYTES, type OsvSource, sourceFromPath } from './osv-sources.js';
export {
  type ImportReport,
  VulnerabilityDatabase,
  type VulnerabilityDatabaseInfo,
  type VulnerabilityDatabaseOptions,
} from './vulnerability-database.js';
export { ImportInProgress } from './vulnerability-store.js';
