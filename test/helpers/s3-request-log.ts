// An HTTP proxy in front of a real S3 endpoint (Swift's s3api) that forwards every request untouched and
// records which S3 operation it was: how many object-store requests a push costs, counted on the wire.
import { createServer, request, type Server } from 'node:http';

export interface S3Request {
  /** The S3 operation, told from the method, query and headers (PutObject, HeadObject, ListObjectsV2…). */
  operation: string;
  /** The object name (or bucket) the request is about, without the bucket for path-style URLs. */
  key: string;
  status: number;
  /** The SDK's attempt number (amz-sdk-request): above 1 for a retry. */
  attempt: number;
}

/** The S3 operation of a request as the AWS SDK sends it, path-style. */
export function operationOf(method: string, url: URL, headers: Record<string, unknown>): string {
  const query = url.searchParams;
  const objectPath = url.pathname.split('/').filter(Boolean).length > 1;
  switch (method) {
    case 'HEAD':
      return objectPath ? 'HeadObject' : 'HeadBucket';
    case 'GET':
      if (!objectPath) {
        if (query.has('uploads')) return 'ListMultipartUploads';
        return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      }
      return 'GetObject';
    case 'PUT':
      if (!objectPath) return 'CreateBucket';
      if (query.has('partNumber')) return headers['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart';
      return headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      return query.has('delete') ? 'DeleteObjects' : 'POST';
    case 'DELETE':
      if (!objectPath) return 'DeleteBucket';
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return method;
  }
}

/** Forwards to `target` (http://host:port) and keeps a log of the requests that went through. */
export class S3RequestLog {
  readonly requests: S3Request[] = [];

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<S3RequestLog> {
    const upstream = new URL(target);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('proxy has no port');
    const log = new S3RequestLog(server, `http://127.0.0.1:${address.port}`);
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const operation = operationOf(req.method ?? 'GET', url, req.headers);
      const attempt = Number(/attempt=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''))?.[1] ?? 1);
      const key =
        decodeURIComponent(url.pathname.replace(/^\/[^/]+\/?/, '')) || (url.searchParams.get('prefix') ?? '');
      // Headers go as they came, Host included: the request's signature covers it.
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          log.requests.push({ operation, key, status: answer.statusCode ?? 0, attempt });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.on('error', () => forward.destroy());
      req.pipe(forward);
    });
    return log;
  }

  /** Forgets what was logged so far. */
  clear(): void {
    this.requests.length = 0;
  }

  /** First attempts only (a retry after a failure on the store's side is not the driver's doing). */
  firstAttempts(): S3Request[] {
    return this.requests.filter((r) => r.attempt === 1);
  }

  /** Requests by operation: { PutObject: 1, … }. */
  counts(requests = this.firstAttempts()): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const { operation } of requests) counts[operation] = (counts[operation] ?? 0) + 1;
    return counts;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
