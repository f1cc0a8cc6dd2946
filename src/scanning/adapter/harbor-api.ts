// The wire vocabulary of Harbor's Pluggable Scanner API (goharbor/pluggable-scanner-spec, OpenAPI v1.1/v1.2):
// adapter metadata, scan requests, vulnerability reports and error bodies, as JSON.

export const HarborMime = {
  Metadata: 'application/vnd.scanner.adapter.metadata+json; version=1.0',
  ScanRequest: 'application/vnd.scanner.adapter.scan.request+json; version=1.0',
  ScanResponse: 'application/vnd.scanner.adapter.scan.response+json; version=1.0',
  Error: 'application/vnd.scanner.adapter.error+json; version=1.0',
  /** The report Harbor 2.x asks for; same schema as 1.0 plus preferred_cvss, cwe_ids, vendor_attributes. */
  VulnerabilityReport: 'application/vnd.security.vulnerability.report; version=1.1',
  VulnerabilityReportV10: 'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export type HarborSeverity = 'Unknown' | 'Negligible' | 'Low' | 'Medium' | 'High' | 'Critical';

export interface HarborScanner {
  name: string;
  vendor: string;
  version: string;
}

export interface ScannerCapability {
  /** v1.2: `vulnerability` or `sbom`; absent means vulnerability. */
  type?: string;
  consumes_mime_types: string[];
  produces_mime_types: string[];
}

export interface ScannerAdapterMetadata {
  scanner: HarborScanner;
  capabilities: ScannerCapability[];
  properties?: Record<string, string>;
}

export interface HarborArtifact {
  repository: string;
  digest: string;
  tag?: string;
  mime_type: string;
}

export interface ScanRequest {
  registry: { url: string; authorization: string };
  artifact: HarborArtifact;
}

export interface HarborCvss {
  score_v3?: number;
  score_v2?: number;
  vector_v3?: string;
  vector_v2?: string;
}

export interface HarborVulnerability {
  id: string;
  package: string;
  version: string;
  fix_version?: string;
  severity: HarborSeverity;
  description?: string;
  links?: string[];
  preferred_cvss?: HarborCvss;
  cwe_ids?: string[];
  vendor_attributes?: Record<string, unknown>;
  /** v1.0/1.1 report fields some adapters still send. */
  cve3_score?: string;
  cvss3_vector?: string;
}

export interface HarborVulnerabilityReport {
  generated_at: string;
  artifact: HarborArtifact;
  scanner: HarborScanner;
  /** The highest severity among the vulnerabilities; absent when there are none. */
  severity?: HarborSeverity;
  vulnerabilities: HarborVulnerability[];
}

/** `Application/Foo; Version = 1.1` and `application/foo;version=1.1` are one media type. */
export function sameMimeType(a: string, b: string): boolean {
  const canonical = (value: string) => value.toLowerCase().replace(/\s+/g, '');
  return canonical(a) === canonical(b);
}
