/**
 * The cost of signature enforcement on the hottest path: manifest GET by tag with wrk, on one Berth, with the
 * project's `signatures.required` off and then enforce (the image signed in cosign's tag scheme by a key the
 * project trusts), in alternating rounds; the medians are compared. Auth is off as in the other workloads,
 * so the policy hook is the only difference between the two.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { median } from './client.js';
import { startBerth } from './servers.js';
import { runWrk } from './wrk.js';

const ADMIN_PASSWORD = 'bench signatures admin';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';

export interface SignatureBench {
  rounds: number;
  seconds: number;
  connections: number;
  /** Requests per second of each round, in order. */
  offRps: number[];
  enforceRps: number[];
  offMedian: number;
  enforceMedian: number;
  /** enforce / off, of the medians. */
  ratio: number;
  offP99Ms: number[];
  enforceP99Ms: number[];
}

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function call(url: string, method: string, body?: Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, headers, ...(body && { body }) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text}`);
  return text;
}

async function pushBlob(base: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  await call(`${base}/v2/${repository}/blobs/uploads/?digest=${digest}`, 'POST', bytes, {
    'content-type': 'application/octet-stream',
  });
  return digest;
}

async function pushManifest(base: string, repository: string, reference: string, manifest: Buffer) {
  await call(`${base}/v2/${repository}/manifests/${reference}`, 'PUT', manifest, {
    'content-type': OCI_MANIFEST,
  });
}

/** An image, and a cosign tag-scheme signature of it (simple-signing payload, ECDSA P-256 over SHA-256). */
async function pushSignedImage(
  base: string,
  host: string,
  repository: string,
  privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'],
) {
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layer = Buffer.alloc(4096, 7);
  const image = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: await pushBlob(base, repository, config),
      size: config.length,
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: await pushBlob(base, repository, layer),
        size: layer.length,
      },
    ],
  });
  await pushManifest(base, repository, 'latest', image);
  const digest = digestOf(image);
  const payload = json({
    critical: {
      identity: { 'docker-reference': `${host}/${repository}` },
      image: { 'docker-manifest-digest': digest },
      type: 'cosign container image signature',
    },
    optional: null,
  });
  const signature = sign('sha256', payload, privateKey).toString('base64');
  const sigConfig = json({
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: [{ created: '0001-01-01T00:00:00Z' }],
    os: '',
    rootfs: { type: 'layers', diff_ids: [digestOf(payload)] },
    config: {},
  });
  const signatureManifest = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: await pushBlob(base, repository, sigConfig),
      size: sigConfig.length,
    },
    layers: [
      {
        mediaType: SIMPLE_SIGNING,
        digest: await pushBlob(base, repository, payload),
        size: payload.length,
        annotations: { 'dev.cosignproject.cosign/signature': signature },
      },
    ],
  });
  await pushManifest(base, repository, `${digest.replace(':', '-')}.sig`, signatureManifest);
}

export async function benchSignatures(options: {
  wrk: string;
  quick: boolean;
  log: (line: string) => void;
}): Promise<SignatureBench> {
  const rounds = options.quick ? 2 : 3;
  const seconds = options.quick ? 3 : 10;
  const connections = 32;
  const server = await startBerth(undefined, { BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
  options.log(`bench: signature enforcement on Berth at ${server.url}, pid ${server.pid}`);
  const admin = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` };
  const api = (method: string, path: string, body: unknown) =>
    call(`${server.url}/api/v1${path}`, method, json(body), { ...admin, 'content-type': 'application/json' });
  try {
    await api('POST', '/projects', { name: 'signed' });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await api('POST', '/projects/signed/trust/keys', {
      name: 'bench',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    await pushSignedImage(server.url, new URL(server.url).host, 'signed/app', privateKey);
    const url = `${server.url}/v2/signed/app/manifests/latest`;
    const headers = { Accept: OCI_MANIFEST };
    const result: SignatureBench = {
      rounds,
      seconds,
      connections,
      offRps: [],
      enforceRps: [],
      offMedian: 0,
      enforceMedian: 0,
      ratio: 0,
      offP99Ms: [],
      enforceP99Ms: [],
    };
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so a machine warming up or slowing down favours neither.
      const order: ('off' | 'enforce')[] = round % 2 === 0 ? ['off', 'enforce'] : ['enforce', 'off'];
      for (const mode of order) {
        await api('PUT', '/projects/signed/trust/policy', { required: mode });
        // Warm up (JIT, caches, the first verification under enforce), unmeasured.
        await runWrk(options.wrk, url, { connections, seconds: 1, headers });
        const run = await runWrk(options.wrk, url, { connections, seconds, headers });
        if (run.non2xx > 0) throw new Error(`${run.command}: ${run.non2xx} non-2xx responses under ${mode}`);
        (mode === 'off' ? result.offRps : result.enforceRps).push(run.requestsPerSecond);
        (mode === 'off' ? result.offP99Ms : result.enforceP99Ms).push(run.p99);
        options.log(
          `bench: manifest GET, signatures.required=${mode}: ${run.requestsPerSecond.toFixed(0)} req/s`,
        );
      }
    }
    result.offMedian = median(result.offRps);
    result.enforceMedian = median(result.enforceRps);
    result.ratio = result.enforceMedian / result.offMedian;
    return result;
  } finally {
    await server.stop();
  }
}
