// A scanner adapter written from Harbor's Pluggable Scanner API spec (OpenAPI v1.1/v1.2), on a real HTTP server
// on an ephemeral loopback port: GET /api/v1/metadata, POST /api/v1/scan, GET /api/v1/scan/{id}/report. It
// records every request (so tests can see the registry URL, authorization and artifact it was handed), answers
// "not ready" (302 + Refresh-After) a set number of times before the report, and can be told to fail.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const STUB_METADATA = {
  scanner: { name: 'StubScanner', vendor: 'Berth tests', version: '1.2.3' },
  capabilities: [
    {
      type: 'vulnerability',
      consumes_mime_types: [
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ],
      produces_mime_types: [
        'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0',
        'application/vnd.security.vulnerability.report; version=1.1',
      ],
    },
  ],
  properties: { 'harbor.scanner-adapter/vulnerability-database-updated-at': '2025-03-01T00:00:00Z' },
};

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** performance.now() when it arrived. */
  at: number;
}

/** A canned answer: a status and a JSON body (or raw text), with headers. */
export interface StubAnswer {
  status: number;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

export interface StubBehaviour {
  /** The answer to /metadata. Default: 200 with STUB_METADATA. */
  metadata?: StubAnswer;
  /** Replaces the 202 {id} answer to /scan (e.g. a 422 error). */
  scan?: StubAnswer;
  /** How many report polls answer 302 before the report. Default 0. */
  pendingPolls?: number;
  /** The Refresh-After header of those 302s; null leaves it out. Default '0'. */
  refreshAfter?: string | null;
  /** The report (200); its body. Default: an empty report. */
  report?: unknown;
  /** Replaces the report answer once pending polls are done (a 500, a 404…). */
  reportAnswer?: StubAnswer;
  /** Holds every answer this long (for timeout tests). */
  delayMs?: number;
  /** When set, requests without exactly this Authorization header get 401. */
  adapterAuthorization?: string;
}

export interface ScannerAdapterStub {
  url: string;
  requests: RecordedRequest[];
  /** Changes the behaviour for the requests that follow. */
  set(behaviour: StubBehaviour): void;
  close(): Promise<void>;
}

const ERROR_TYPE = 'application/vnd.scanner.adapter.error+json; version=1.0';

export async function startScannerAdapterStub(initial: StubBehaviour = {}): Promise<ScannerAdapterStub> {
  let behaviour = initial;
  const requests: RecordedRequest[] = [];
  /** Polls left before each scan's report is ready. */
  const pending = new Map<string, number>();

  const send = (res: ServerResponse, answer: StubAnswer, type = 'application/json') => {
    const text = answer.raw ?? (answer.body === undefined ? '' : JSON.stringify(answer.body));
    res.writeHead(answer.status, { 'Content-Type': type, ...answer.headers });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, message: string) =>
    send(res, { status, body: { error: { message } } }, ERROR_TYPE);

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    if (
      behaviour.adapterAuthorization !== undefined &&
      req.headers.authorization !== behaviour.adapterAuthorization
    ) {
      return error(res, 401, 'unauthorized');
    }
    if (req.method === 'GET' && path === '/api/v1/metadata') {
      return send(
        res,
        behaviour.metadata ?? { status: 200, body: STUB_METADATA },
        'application/vnd.scanner.adapter.metadata+json; version=1.0',
      );
    }
    if (req.method === 'POST' && path === '/api/v1/scan') {
      if (behaviour.scan) return send(res, behaviour.scan);
      let request: { registry?: { url?: unknown }; artifact?: { repository?: unknown; digest?: unknown } };
      try {
        request = JSON.parse(body);
      } catch {
        return error(res, 400, 'received invalid JSON');
      }
      if (typeof request.registry?.url !== 'string' || typeof request.artifact?.digest !== 'string') {
        return error(res, 422, 'registry.url and artifact.digest are required');
      }
      const id = randomUUID();
      pending.set(id, behaviour.pendingPolls ?? 0);
      return send(
        res,
        { status: 202, body: { id } },
        'application/vnd.scanner.adapter.scan.response+json; version=1.0',
      );
    }
    const report = /^\/api\/v1\/scan\/([^/]+)\/report$/.exec(path);
    if (req.method === 'GET' && report) {
      const id = decodeURIComponent(report[1] as string);
      const left = pending.get(id);
      if (left === undefined) return send(res, { status: 404 });
      if (left > 0) {
        pending.set(id, left - 1);
        const refreshAfter = behaviour.refreshAfter === undefined ? '0' : behaviour.refreshAfter;
        res.writeHead(302, refreshAfter === null ? {} : { 'Refresh-After': refreshAfter });
        return res.end();
      }
      if (behaviour.reportAnswer) return send(res, behaviour.reportAnswer, ERROR_TYPE);
      return send(
        res,
        { status: 200, body: behaviour.report ?? { vulnerabilities: [] } },
        'application/vnd.security.vulnerability.report; version=1.1',
      );
    }
    return error(res, 404, `no route ${req.method} ${path}`);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        at: performance.now(),
      });
      const delay = behaviour.delayMs ?? 0;
      if (delay > 0) setTimeout(() => !res.destroyed && handle(req, res, body), delay).unref();
      else handle(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set(next) {
      behaviour = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
