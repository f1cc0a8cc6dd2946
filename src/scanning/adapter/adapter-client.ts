// A client of one scanner adapter speaking Harbor's Pluggable Scanner API: check what it can do
// (GET /api/v1/metadata), hand it an image to scan with a short-lived pull token (POST /api/v1/scan), and poll
// for the report (GET /api/v1/scan/{id}/report: 302 + Refresh-After while it is being made, then 200).
import { setTimeout as sleep } from 'node:timers/promises';
import { ScannerAdapterError } from './adapter-error.js';
import { adapterMessage, adapterRequest, parseJson } from './adapter-http.js';
import {
  HarborMime,
  type HarborScanner,
  type HarborVulnerabilityReport,
  type ScannerAdapterMetadata,
  type ScanRequest,
  sameMimeType,
} from './harbor-api.js';

export interface ScannerAdapterOptions {
  /** The adapter's base URL (`http://trivy-adapter:8080`); the API lives under /api/v1. */
  url: string;
  /** The Authorization header the adapter wants (`Bearer …`, `Basic …`), if any. */
  authorization?: string;
  /** Per request. Default 10 s. */
  requestTimeoutMs?: number;
  /** Largest answer read. Default 64 MiB (a report of a big image runs to megabytes). */
  maxBodyBytes?: number;
}

/** What a checked adapter offers Berth. */
export interface AdapterCapabilities {
  scanner: HarborScanner;
  /** The image manifest media types it scans (of the OCI and Docker ones). */
  consumes: string[];
  /** The report media type to ask for: version 1.1 when offered, else 1.0. */
  reportMimeType: string;
  properties: Record<string, string>;
}

export interface ScanTarget {
  /** The registry as the adapter reaches it: `https://registry.example`. */
  registryUrl: string;
  /** Sent to the registry by the adapter: `Bearer <short-lived pull token>`. */
  registryAuthorization: string;
  repository: string;
  digest: string;
  tag?: string;
  /** The manifest's media type. */
  mimeType: string;
}

export interface WaitOptions {
  reportMimeType?: string;
  /** Give up (REPORT_TIMEOUT) when the report is not ready by then. Default 10 minutes. */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

export type ReportPoll =
  | { ready: true; report: HarborVulnerabilityReport }
  | { ready: false; retryAfterMs: number };

/** Refresh-After bounds: an adapter asking for 0 s is not hammered, one asking for an hour is asked sooner. */
const MIN_POLL_MS = 100;
const MAX_POLL_MS = 60_000;
const DEFAULT_POLL_MS = 5_000;

export class ScannerAdapterClient {
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;

  constructor(private readonly options: ScannerAdapterOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new ScannerAdapterError(
        'UNREACHABLE',
        `invalid scanner adapter URL: ${JSON.stringify(options.url)}`,
      );
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ScannerAdapterError('UNREACHABLE', `scanner adapter URL must be http(s): ${options.url}`);
    }
    this.base = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 << 20;
  }

  /** GET /api/v1/metadata, checked for the spec's shape. */
  async metadata(signal?: AbortSignal): Promise<ScannerAdapterMetadata> {
    const what = `scanner adapter ${this.base.origin} metadata`;
    const response = await this.request(
      'GET',
      'api/v1/metadata',
      { Accept: HarborMime.Metadata },
      what,
      signal,
    );
    if (response.status !== 200) {
      throw new ScannerAdapterError('BAD_METADATA', `${what}: ${adapterMessage(response)}`, response.status);
    }
    let body: unknown;
    try {
      body = parseJson(response, what);
    } catch (error) {
      throw new ScannerAdapterError('BAD_METADATA', (error as Error).message, response.status);
    }
    return validMetadata(body, what);
  }

  /**
   * Registers / re-checks the adapter: it must scan OCI or Docker image manifests and produce Harbor's
   * vulnerability report (1.1, or 1.0 which has the same shape).
   */
  async check(signal?: AbortSignal): Promise<AdapterCapabilities> {
    const metadata = await this.metadata(signal);
    const what = `scanner adapter ${this.base.origin} (${metadata.scanner.name} ${metadata.scanner.version})`;
    for (const reportMimeType of [HarborMime.VulnerabilityReport, HarborMime.VulnerabilityReportV10]) {
      const capability = metadata.capabilities.find(
        (c) =>
          (c.type === undefined || c.type === 'vulnerability') &&
          c.produces_mime_types.some((m) => sameMimeType(m, reportMimeType)) &&
          c.consumes_mime_types.some((m) => isImageManifest(m)),
      );
      if (capability) {
        return {
          scanner: metadata.scanner,
          consumes: [HarborMime.OciManifest, HarborMime.DockerManifest].filter((type) =>
            capability.consumes_mime_types.some((m) => sameMimeType(m, type)),
          ),
          reportMimeType,
          properties: metadata.properties ?? {},
        };
      }
    }
    throw new ScannerAdapterError(
      'BAD_METADATA',
      `${what}: no capability consumes ${HarborMime.OciManifest} or ${HarborMime.DockerManifest} and produces ` +
        `"${HarborMime.VulnerabilityReport}" (it offers ${JSON.stringify(metadata.capabilities)})`,
    );
  }

  /** POST /api/v1/scan; returns the adapter's scan id. */
  async submitScan(target: ScanTarget, signal?: AbortSignal): Promise<string> {
    const what = `scanner adapter ${this.base.origin} scan of ${target.repository}@${target.digest}`;
    const body: ScanRequest = {
      registry: { url: target.registryUrl, authorization: target.registryAuthorization },
      artifact: {
        repository: target.repository,
        digest: target.digest,
        ...(target.tag ? { tag: target.tag } : {}),
        mime_type: target.mimeType,
      },
    };
    const response = await this.request(
      'POST',
      'api/v1/scan',
      { 'Content-Type': HarborMime.ScanRequest, Accept: HarborMime.ScanResponse },
      what,
      signal,
      JSON.stringify(body),
    );
    if (response.status !== 202 && response.status !== 200) {
      throw new ScannerAdapterError(
        'SCAN_FAILED',
        `${what} refused: ${adapterMessage(response)}`,
        response.status,
      );
    }
    const id = (parseJson(response, what) as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || id === '' || id.length > 1024) {
      throw new ScannerAdapterError('BAD_RESPONSE', `${what}: the answer has no scan id`, response.status);
    }
    return id;
  }

  /** One GET of the report: ready, or not yet (with how long the adapter asks to wait). */
  async pollReport(scanId: string, reportMimeType: string, signal?: AbortSignal): Promise<ReportPoll> {
    const what = `scanner adapter ${this.base.origin} report ${scanId}`;
    const path = `api/v1/scan/${encodeURIComponent(scanId)}/report`;
    const response = await this.request('GET', path, { Accept: reportMimeType }, what, signal);
    switch (response.status) {
      case 200:
        return { ready: true, report: validReport(parseJson(response, what), what) };
      case 302:
        return { ready: false, retryAfterMs: refreshAfterMs(response.headers.get('refresh-after')) };
      case 404:
        throw new ScannerAdapterError('NOT_FOUND', `${what}: the adapter knows no such scan`, 404);
      default:
        throw new ScannerAdapterError(
          'SCAN_FAILED',
          `${what}: scan failed: ${adapterMessage(response)}`,
          response.status,
        );
    }
  }

  /** Polls until the report is ready, waiting as Refresh-After asks, within maxWaitMs in all. */
  async waitForReport(scanId: string, options: WaitOptions = {}): Promise<HarborVulnerabilityReport> {
    const maxWaitMs = options.maxWaitMs ?? 600_000;
    const deadline = Date.now() + maxWaitMs;
    const reportMimeType = options.reportMimeType ?? HarborMime.VulnerabilityReport;
    for (;;) {
      const poll = await this.pollReport(scanId, reportMimeType, options.signal);
      if (poll.ready) return poll.report;
      if (Date.now() + poll.retryAfterMs > deadline) {
        throw new ScannerAdapterError(
          'REPORT_TIMEOUT',
          `scanner adapter ${this.base.origin} report ${scanId}: not ready after ${maxWaitMs} ms`,
        );
      }
      try {
        await sleep(poll.retryAfterMs, undefined, options.signal ? { signal: options.signal } : {});
      } catch {
        throw new ScannerAdapterError(
          'ABORTED',
          `scanner adapter ${this.base.origin} report ${scanId}: aborted`,
        );
      }
    }
  }

  /** submitScan, then waitForReport. */
  async scan(target: ScanTarget, options: WaitOptions = {}): Promise<HarborVulnerabilityReport> {
    const id = await this.submitScan(target, options.signal);
    return this.waitForReport(id, options);
  }

  private request(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    what: string,
    signal?: AbortSignal,
    body?: string,
  ) {
    return adapterRequest({
      method,
      url: new URL(path, this.base),
      headers: this.options.authorization
        ? { ...headers, Authorization: this.options.authorization }
        : headers,
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.timeoutMs,
      maxBodyBytes: this.maxBodyBytes,
      ...(signal ? { signal } : {}),
      what,
    });
  }
}

function isImageManifest(mimeType: string): boolean {
  return sameMimeType(mimeType, HarborMime.OciManifest) || sameMimeType(mimeType, HarborMime.DockerManifest);
}

/** Refresh-After is whole seconds (spec: integer); missing or malformed means the default. */
function refreshAfterMs(header: string | null): number {
  const seconds = header === null ? Number.NaN : Number(header.trim());
  const ms = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_POLL_MS;
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, ms));
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

function validMetadata(value: unknown, what: string): ScannerAdapterMetadata {
  const bad = (why: string) => new ScannerAdapterError('BAD_METADATA', `${what}: ${why}`);
  if (typeof value !== 'object' || value === null) throw bad('not a JSON object');
  const { scanner, capabilities, properties } = value as Record<string, unknown>;
  const s = scanner as Record<string, unknown> | undefined;
  if (!s || !isString(s.name) || s.name === '' || !isString(s.version)) {
    throw bad('scanner.name and scanner.version are required');
  }
  if (!Array.isArray(capabilities) || capabilities.length === 0)
    throw bad('capabilities must be a non-empty array');
  for (const capability of capabilities as Record<string, unknown>[]) {
    if (!isStringArray(capability?.consumes_mime_types) || !isStringArray(capability.produces_mime_types)) {
      throw bad('each capability needs consumes_mime_types and produces_mime_types (string arrays)');
    }
  }
  const props: Record<string, string> = {};
  if (properties !== undefined && properties !== null) {
    if (typeof properties !== 'object') throw bad('properties must be an object');
    for (const [key, prop] of Object.entries(properties)) if (isString(prop)) props[key] = prop;
  }
  return {
    scanner: { name: s.name, vendor: isString(s.vendor) ? s.vendor : '', version: s.version },
    capabilities: capabilities as ScannerAdapterMetadata['capabilities'],
    properties: props,
  };
}

function validReport(value: unknown, what: string): HarborVulnerabilityReport {
  const bad = (why: string) => new ScannerAdapterError('BAD_RESPONSE', `${what}: ${why}`, 200);
  if (typeof value !== 'object' || value === null) throw bad('the report is not a JSON object');
  const report = value as Partial<HarborVulnerabilityReport>;
  const vulnerabilities = report.vulnerabilities ?? [];
  if (!Array.isArray(vulnerabilities)) throw bad('vulnerabilities must be an array');
  for (const [index, item] of vulnerabilities.entries()) {
    if (typeof item !== 'object' || item === null || !isString(item.id) || !isString(item.package)) {
      throw bad(`vulnerabilities[${index}] needs an id and a package`);
    }
  }
  return { ...(report as HarborVulnerabilityReport), vulnerabilities };
}
