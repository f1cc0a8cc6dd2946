// The adapter folder's public face: a client of scanner adapters that speak Harbor's Pluggable Scanner API, and
// Harbor's vulnerability report format both ways.
export {
  type AdapterCapabilities,
  type ReportPoll,
  ScannerAdapterClient,
  type ScannerAdapterOptions,
  type ScanTarget,
  type WaitOptions,
} from './adapter-client.js';
export { type AdapterErrorCode, ScannerAdapterError } from './adapter-error.js';
export {
  type HarborArtifact,
  HarborMime,
  type HarborScanner,
  type HarborSeverity,
  type HarborVulnerability,
  type HarborVulnerabilityReport,
  type ScannerAdapterMetadata,
  type ScanRequest,
} from './harbor-api.js';
export {
  type ConvertedReport,
  type HarborReportContext,
  harborReportToFindings,
  toHarborReport,
} from './harbor-report.js';
