import { pipeline, Readable, Transform } from 'node:stream';
import type { RetryPolicy } from 'cockatiel';
import { digestOf, MediaType, tryParseDigest } from '../../registry/index.js';
import { Authenticator, type Credentials } from './authenticator.js';
import { ChunkReader } from './chunk-reader.js';
import { ContentMismatchError, isTransient, printableUrl, RemoteRegistryError } from './errors.js';
import { nextLink } from './link-header.js';
import { remoteError } from './remote-error-body.js';
import { type RetryOptions, retryPolicy } from './retry-policy.js';
import { type Answer, exchange, type Timeouts } from './transport.js';
import type { Descriptor, Manifest, ManifestHead, Referrers } from './types.js';
import { type BlobPrefix, UploadSession } from './upload-session.js';
import { VerifiedStream } from './verified-stream.js';

export interface RegistryClientOptions {
  /** The registry's base URL: `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  url: string;
  /** Omitted: anonymous (a Bearer challenge still gets an anonymous token). */
  credentials?: Credentials | undefined;
  /** The token scopes asked for: `pull` for a source, `push` (pull and push) for a target. Default pull. */
  access?: 'pull' | 'push';
  timeouts?: Partial<Timeouts>;
  retry?: RetryOptions;
  /** Blobs larger than this go up in PATCH chunks of this size; unset, in one PUT. */
  chunkSize?: number | undefined;
  /** Manifests larger than this are refused (Distribution's own limit is 4 MiB). */
  maxManifestBytes?: number;
  userAgent?: string;
}

/** Every manifest and index type, in the order we prefer them. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

const KNOWN_MANIFEST_TYPES: ReadonlySet<string> = new Set(MANIFEST_ACCEPT.split(', '));

interface Call {
  method: string;
  /** A path under the base URL, or an absolute URL (an upload's Location). */
  target: string | URL;
  repository?: string;
  /** Another repository the request reads (a mount's `from`): pull on it joins the token's scopes. */
  alsoPull?: string;
  /** The token scopes asked for, instead of those of `repository` (the catalog's, a delete's). */
  scopes?: string[];
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Statuses handed back to the caller; any other is thrown as a RemoteRegistryError. */
  ok: number[];
  /** Retry transient failures here. Off for streamed bodies, which cannot be sent twice. */
  retry?: boolean;
  signal?: AbortSignal | undefined;
}

/**
 * The client side of the OCI Distribution API against one registry: manifests (exact bytes, digest verified
 * here), tags, referrers (API or tag schema), blobs streamed and verified, uploads (monolithic, chunked, mount),
 * with auth, timeouts and retries. Knows nothing of copying: that is copy/.
 */
export class RegistryClient {
  readonly base: URL;
  private readonly auth: Authenticator;
  private readonly policy: RetryPolicy;
  private readonly timeouts: Timeouts;
  private readonly access: 'pull' | 'push';
  private readonly chunkSize: number | undefined;
  private readonly maxManifestBytes: number;
  private readonly userAgent: string;
  /** getBlob checks the bytes against the digest: a read from an offset needs the hash of the bytes before. */
  readonly verifiesBlobs: boolean = true;

  constructor(options: RegistryClientOptions) {
    this.base = new URL(options.url);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new Error(`registry URL must be http(s): ${printableUrl(this.base)}`);
    }
    if (this.base.username || this.base.password) {
      throw new Error('registry URL must not carry credentials: pass them as credentials');
    }
    this.timeouts = { headersTimeoutMs: 30_000, idleTimeoutMs: 60_000, ...options.timeouts };
    this.policy = retryPolicy(options.retry);
    this.access = options.access ?? 'pull';
    this.chunkSize = options.chunkSize;
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.userAgent = options.userAgent ?? 'berth-replication';
    this.auth = new Authenticator(options.credentials, this.timeouts, this.policy, this.userAgent);
  }

  /** A printable name for logs and errors: the base URL. */
  toString(): string {
    return printableUrl(this.base);
  }

  /** GET /v2/: checks the registry answers and the credentials pass. */
  async ping(signal?: AbortSignal): Promise<void> {
    const answer = await this.call({ method: 'GET', target: '/v2/', ok: [200], signal });
    await answer.discard();
  }

  // ----------------------------------------------------------------------------------------------- manifests

  async headManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<ManifestHead | undefined> {
    const answer = await this.call({
      method: 'HEAD',
      target: this.path(repository, 'manifests', reference),
      repository,
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200, 404],
      signal,
    });
    await answer.discard();
    if (answer.status === 404) return undefined;
    const length = answer.headers.get('content-length');
    return {
      digest: answer.headers.get('docker-content-digest') ?? undefined,
      mediaType: bareType(answer.headers.get('content-type')),
      size: length === null ? undefined : Number(length),
    };
  }

  /**
   * The manifest's exact bytes, or undefined when the registry does not have it. The digest is computed from
   * the bytes: a digest reference or a Docker-Content-Digest header they do not match is a ContentMismatchError.
   */
  async getManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<Manifest | undefined> {
    const answer = await this.call({
      method: 'GET',
      target: this.path(repository, 'manifests', reference),
      repository,
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200, 404],
      signal,
    });
    if (answer.status === 404) {
      await answer.discard();
      return undefined;
    }
    const bytes = await answer.read(this.maxManifestBytes);
    const header = answer.headers.get('docker-content-digest');
    const expected = tryParseDigest(reference)?.value ?? (header && tryParseDigest(header)?.value);
    const digest = digestOf(bytes, expected ? (tryParseDigest(expected)?.algorithm ?? 'sha256') : 'sha256');
    const what = `manifest ${repository}@${reference} from ${this}`;
    if (expected && digest !== expected) {
      throw new ContentMismatchError(
        `${what}: the bytes hash to ${digest}, not ${expected}`,
        { digest: expected },
        {
          digest,
        },
      );
    }
    return { bytes, digest, mediaType: manifestType(answer.headers.get('content-type'), bytes) };
  }

  /** PUT of the exact bytes under a tag or their digest; returns the digest and the OCI-Subject the registry echoed. */
  async putManifest(
    repository: string,
    reference: string,
    manifest: { bytes: Buffer; mediaType: string },
    signal?: AbortSignal,
  ): Promise<{ digest: string; subject: string | undefined }> {
    const answer = await this.call({
      method: 'PUT',
      target: this.path(repository, 'manifests', reference),
      repository,
      headers: { 'content-type': manifest.mediaType },
      body: manifest.bytes,
      ok: [200, 201, 202, 204],
      signal,
    });
    await answer.discard();
    const ours = digestOf(manifest.bytes);
    const theirs = answer.headers.get('docker-content-digest');
    if (theirs?.startsWith('sha256:') && theirs !== ours) {
      throw new ContentMismatchError(
        `${this} stored manifest ${repository}:${reference} as ${theirs}, not ${ours} (re-serialised?)`,
        { digest: ours },
        { digest: theirs },
      );
    }
    return { digest: ours, subject: answer.headers.get('oci-subject') ?? undefined };
  }

  /** DELETE of a tag or (by digest) a manifest; false when the registry does not have it. */
  async deleteManifest(repository: string, reference: string, signal?: AbortSignal): Promise<boolean> {
    const answer = await this.call({
      method: 'DELETE',
      target: this.path(repository, 'manifests', reference),
      repository,
      scopes: [`repository:${repository}:pull,push,delete`],
      ok: [200, 202, 204, 404],
      signal,
    });
    await answer.discard();
    return answer.status !== 404;
  }

  // ---------------------------------------------------------------------------------------------------- tags

  /** Every repository the registry lists (GET /v2/_catalog, page by page); many public registries refuse it. */
  async *catalog(options: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<string> {
    let target: string | URL = `/v2/_catalog?n=${options.pageSize ?? 1000}`;
    for (;;) {
      const answer = await this.call({
        method: 'GET',
        target,
        scopes: ['registry:catalog:*'],
        ok: [200],
        signal: options.signal,
      });
      const body = parseJson(await answer.read(16 * 1024 * 1024), 'catalog') as {
        repositories?: string[] | null;
      };
      yield* body.repositories ?? [];
      const next = nextLink(answer.headers.get('link'), answer.url);
      if (!next) return;
      target = next;
    }
  }

  /** Every tag of a repository, page by page (Link rel="next"); a repository the registry does not know throws. */
  async *tags(
    repository: string,
    options: { pageSize?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<string> {
    let target: string | URL = `${this.path(repository, 'tags', 'list')}?n=${options.pageSize ?? 1000}`;
    for (;;) {
      const answer = await this.call({
        method: 'GET',
        target,
        repository,
        ok: [200],
        signal: options.signal,
      });
      const body = JSON.parse((await answer.read(16 * 1024 * 1024)).toString('utf8')) as {
        tags?: string[] | null;
      };
      yield* body.tags ?? [];
      const next = nextLink(answer.headers.get('link'), answer.url);
      if (!next) return;
      target = next;
    }
  }

  // ----------------------------------------------------------------------------------------------- referrers

  /**
   * The referrers of a manifest (distribution-spec v1.1 "Listing Referrers"), all pages; a registry without the
   * API (404) is asked for the fallback tag `sha256-<hex>` instead, whose index lists them.
   */
  async referrers(
    repository: string,
    digest: string,
    options: { artifactType?: string; signal?: AbortSignal } = {},
  ): Promise<Referrers> {
    const query = options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : '';
    let target: string | URL = `${this.path(repository, 'referrers', digest)}${query}`;
    const manifests: Descriptor[] = [];
    for (;;) {
      const answer = await this.call({
        method: 'GET',
        target,
        repository,
        headers: { accept: MediaType.OciIndex },
        ok: [200, 404],
        signal: options.signal,
      });
      if (answer.status === 404) {
        await answer.discard();
        if (manifests.length > 0) break;
        return {
          manifests: filterType(await this.referrersByTag(repository, digest, options.signal), options),
          via: 'tag-schema',
        };
      }
      const index = parseJson(await answer.read(this.maxManifestBytes), `referrers of ${digest}`) as {
        manifests?: Descriptor[];
      };
      const filtered = answer.headers.get('oci-filters-applied')?.includes('artifactType');
      manifests.push(...(filtered ? (index.manifests ?? []) : filterType(index.manifests ?? [], options)));
      const next = nextLink(answer.headers.get('link'), answer.url);
      if (!next) break;
      target = next;
    }
    return { manifests, via: 'api' };
  }

  private async referrersByTag(
    repository: string,
    digest: string,
    signal?: AbortSignal,
  ): Promise<Descriptor[]> {
    const index = await this.getManifest(repository, referrersTag(digest), signal);
    if (
      !index ||
      (index.mediaType !== MediaType.OciIndex && index.mediaType !== MediaType.DockerManifestList)
    ) {
      return [];
    }
    return (
      (parseJson(index.bytes, `referrers tag of ${digest}`) as { manifests?: Descriptor[] }).manifests ?? []
    );
  }

  // --------------------------------------------------------------------------------------------------- blobs

  /** The size of a blob the repository holds, or undefined. */
  async headBlob(
    repository: string,
    digest: string,
    signal?: AbortSignal,
  ): Promise<{ size: number } | undefined> {
    const answer = await this.call({
      method: 'HEAD',
      target: this.path(repository, 'blobs', digest),
      repository,
      ok: [200, 404],
      signal,
    });
    await answer.discard();
    if (answer.status === 404) return undefined;
    return { size: Number(answer.headers.get('content-length') ?? Number.NaN) };
  }

  /**
   * A blob's bytes as a stream that fails (ContentMismatchError) if they do not hash to `digest` or do not
   * count `size`; the last chunk is released only once they do. A blob the registry lacks throws. With `from`
   * (a resumed upload's source), the bytes from `from.offset` on: asked with `Range: bytes=<offset>-` and
   * hashed on from the prefix's hash state; without that hash, or from a registry that ignores the Range
   * (200), read whole, verified whole, and the prefix left out.
   */
  async getBlob(
    repository: string,
    blob: { digest: string; size?: number | undefined },
    signal?: AbortSignal,
    from?: BlobPrefix,
  ): Promise<Readable> {
    const offset = from?.offset ?? 0;
    const prefix = from?.hash && { offset, hash: from.hash };
    const answer = await this.call({
      method: 'GET',
      target: this.path(repository, 'blobs', blob.digest),
      repository,
      ...(offset > 0 && prefix && { headers: { range: `bytes=${offset}-` } }),
      ok: offset > 0 && prefix ? [200, 206] : [200],
      signal,
    });
    const length = answer.headers.get('content-length');
    const what = `blob ${repository}@${blob.digest} from ${this}`;
    const ranged = answer.status === 206;
    if (ranged) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(answer.headers.get('content-range')?.trim() ?? '');
      const ends = blob.size === undefined ? undefined : blob.size - 1;
      if (
        !range ||
        Number(range[1]) !== offset ||
        (ends !== undefined &&
          (Number(range[2]) !== ends || (range[3] !== '*' && Number(range[3]) !== blob.size)))
      ) {
        await answer.discard();
        throw new ContentMismatchError(
          `${what}: asked for bytes ${offset}-, served ${answer.headers.get('content-range') ?? 'no Content-Range'}`,
          blob,
          {},
        );
      }
    }
    const expected = blob.size === undefined ? undefined : ranged ? blob.size - offset : blob.size;
    if (expected !== undefined && length !== null && Number(length) !== expected) {
      await answer.discard();
      throw new ContentMismatchError(`${what}: ${length} bytes served, not ${expected}`, blob, {
        size: Number(length) + (ranged ? offset : 0),
      });
    }
    const verified = new VerifiedStream(blob, what, ranged ? prefix || undefined : undefined);
    if (ranged || offset === 0) {
      pipeline(answer.body(), verified, () => {});
      return verified;
    }
    const tail = skipBytes(offset);
    pipeline(answer.body(), verified, tail, () => {});
    return tail;
  }

  /**
   * Puts a blob into `repository`: mounted from `mountFrom` when the registry can (201), else uploaded from
   * `open()` — in one PUT, or in PATCH chunks when chunkSize is set. A transient failure (network, timeout,
   * 408/429/502/503/504) is tried again under the retry policy: a chunked upload first asks the registry where
   * its session stands (GET <location>, `Range: 0-<end>`) and goes on from the next byte, with the source
   * reopened there (`resumeFrom`, given the hash state of the bytes before it; without it, `open()` again with
   * the bytes before skipped); a lost session (404) or a status it cannot trust starts a new session, as does a
   * failed one-PUT upload.
   */
  async pushBlob(
    repository: string,
    blob: { digest: string; size: number },
    open: () => Promise<Readable>,
    options: {
      mountFrom?: string | undefined;
      signal?: AbortSignal | undefined;
      /** The blob's bytes from `from.offset` on (getBlob's `from`), to resume a chunked upload with. */
      resumeFrom?: ((from: BlobPrefix) => Promise<Readable>) | undefined;
      /**
       * resumeFrom verifies the digest (a registry's getBlob), so it is given the hash of the bytes before the
       * offset (those sent are hashed here as they go). False for a trusted source (this Berth's own store).
       * Default true.
       */
      resumeVerifies?: boolean | undefined;
    } = {},
  ): Promise<'mounted' | 'uploaded'> {
    let interrupted: UploadSession | undefined;
    const attempt = async (): Promise<'mounted' | 'uploaded'> => {
      const previous = interrupted;
      interrupted = undefined;
      let session: UploadSession | undefined;
      let offset = 0;
      if (previous) {
        const status = await this.uploadStatus(repository, previous, options.signal).catch(
          (error: unknown) => {
            if (isTransient(error)) interrupted = previous;
            else this.cancelUpload(repository, previous.location);
            throw error;
          },
        );
        if (status) {
          session = previous;
          session.location = status.location;
          offset = status.offset;
        } else {
          this.cancelUpload(repository, previous.location);
          // The closing PUT may have landed before its answer was lost.
          const landed = previous.closing && (await this.headBlob(repository, blob.digest, options.signal));
          if (landed && landed.size === blob.size) return 'uploaded';
        }
      }
      if (!session) {
        const started = await this.startUpload(repository, blob, options);
        if (started === 'mounted') return 'mounted';
        // A registry may ask for chunks of at least OCI-Chunk-Min-Length (distribution-spec 1.1), the last excepted.
        const chunkSize = this.chunkSize && Math.max(this.chunkSize, started.minChunk);
        if (!chunkSize || blob.size <= chunkSize) {
          await this.uploadWhole(repository, blob, started.location, open, options.signal);
          return 'uploaded';
        }
        const hashed = options.resumeFrom && options.resumeVerifies !== false;
        const algorithm = hashed ? tryParseDigest(blob.digest)?.algorithm : undefined;
        session = new UploadSession(started.location, chunkSize, algorithm);
      }
      try {
        await this.uploadChunks(repository, blob, session, offset, open, options);
        return 'uploaded';
      } catch (error) {
        if (isTransient(error)) interrupted = session;
        else this.cancelUpload(repository, session.location);
        throw error;
      }
    };
    try {
      return await this.policy.execute(attempt, options.signal);
    } catch (error) {
      // Out of tries (or aborted while waiting for the next one): the session left for a resume goes too.
      if (interrupted) this.cancelUpload(repository, interrupted.location);
      throw error;
    }
  }

  /** POST of a new upload session (or a mount): its Location and smallest chunk, or 'mounted'. */
  private async startUpload(
    repository: string,
    blob: { digest: string },
    options: { mountFrom?: string | undefined; signal?: AbortSignal | undefined },
  ): Promise<{ location: URL; minChunk: number } | 'mounted'> {
    const { signal, mountFrom } = options;
    const query = mountFrom
      ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(mountFrom)}`
      : '';
    const started = await this.call({
      method: 'POST',
      target: `${this.path(repository, 'blobs', 'uploads')}/${query}`,
      repository,
      alsoPull: mountFrom,
      headers: { 'content-length': '0' },
      ok: [201, 202],
      retry: false,
      signal,
    });
    await started.discard();
    if (started.status === 201 && mountFrom) return 'mounted';
    const minChunk = Number(started.headers.get('oci-chunk-min-length') ?? 0);
    return {
      location: this.location(started),
      minChunk: Number.isSafeInteger(minChunk) && minChunk > 0 ? minChunk : 0,
    };
  }

  /** The whole blob in the closing PUT; a failure cancels the session (the next try starts a new one). */
  private async uploadWhole(
    repository: string,
    blob: { digest: string; size: number },
    location: URL,
    open: () => Promise<Readable>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let source: Readable | undefined;
    try {
      source = await open();
      await this.finishUpload(repository, location, blob.digest, source, blob.size, signal);
    } catch (error) {
      source?.destroy();
      this.cancelUpload(repository, location);
      throw error;
    }
  }

  /**
   * PATCH chunks from `offset` (where the session stands) to the end, then the closing PUT. The source is
   * opened at the start, or for a resume reopened at the hashed point at or before `offset`.
   */
  private async uploadChunks(
    repository: string,
    blob: { digest: string; size: number },
    session: UploadSession,
    offset: number,
    open: () => Promise<Readable>,
    options: {
      signal?: AbortSignal | undefined;
      resumeFrom?: ((from: BlobPrefix) => Promise<Readable>) | undefined;
    },
  ): Promise<void> {
    const { signal, resumeFrom } = options;
    const chunkSize = session.chunkSize;
    let source: Readable | undefined;
    try {
      let reader: ChunkReader | undefined;
      if (offset < blob.size) {
        const mark = offset > 0 && resumeFrom ? session.reopenAt(offset) : undefined;
        source = mark && resumeFrom ? await resumeFrom(mark) : await open();
        reader = new ChunkReader(source);
        await session.resume(offset, mark, reader);
      }
      for (let at = offset; reader && at < blob.size; at += chunkSize) {
        const length = Math.min(chunkSize, blob.size - at);
        const patched = await this.call({
          method: 'PATCH',
          target: session.location,
          repository,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(length),
            'content-range': `${at}-${at + length - 1}`,
          },
          body: Readable.from(session.send(reader.take(length), length), { objectMode: false }),
          ok: [202],
          retry: false,
          signal,
        });
        await patched.discard();
        session.acknowledge(at + length, this.location(patched));
      }
      session.closing = true;
      await this.finishUpload(repository, session.location, blob.digest, Buffer.alloc(0), 0, signal);
    } catch (error) {
      source?.destroy();
      throw error;
    }
  }

  /**
   * Where an interrupted session stands (GET <location>: 204 with `Range: 0-<end>`), or undefined when the
   * registry lost it (404), refuses it (Distribution answers 400 to a Location whose state is behind the
   * upload) or answers a Range this side cannot trust. A transient failure throws: the next try asks again.
   */
  private async uploadStatus(
    repository: string,
    session: UploadSession,
    signal: AbortSignal | undefined,
  ): Promise<{ location: URL; offset: number } | undefined> {
    let answer: Answer;
    try {
      answer = await this.call({
        method: 'GET',
        target: session.location,
        repository,
        ok: [200, 204],
        retry: false,
        signal,
      });
    } catch (error) {
      if (error instanceof RemoteRegistryError && !isTransient(error)) return undefined;
      throw error;
    }
    await answer.discard();
    const offset = session.resumable(answer.headers.get('range'));
    if (offset === undefined) return undefined;
    return { location: answer.headers.get('location') ? this.location(answer) : session.location, offset };
  }

  /** Best effort: the registry would expire the session anyway. */
  private cancelUpload(repository: string, location: URL): void {
    this.call({ method: 'DELETE', target: location, repository, ok: [204, 404], retry: false })
      .then((answer) => answer.discard())
      .catch(() => {});
  }

  private async finishUpload(
    repository: string,
    location: URL,
    digest: string,
    body: Buffer | Readable,
    length: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const target = new URL(location);
    target.searchParams.set('digest', digest);
    const answer = await this.call({
      method: 'PUT',
      target,
      repository,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
      body,
      ok: [201, 204],
      retry: false,
      signal,
    });
    await answer.discard();
  }

  /** An upload's next URL, from the Location it answered (relative or absolute). */
  private location(answer: Answer): URL {
    const location = answer.headers.get('location');
    if (!location) {
      throw new RemoteRegistryError('POST', printableUrl(answer.url), answer.status, [
        { code: 'BLOB_UPLOAD_INVALID', message: 'upload answer without a Location' },
      ]);
    }
    return new URL(location, answer.url);
  }

  // ------------------------------------------------------------------------------------------------ requests

  private path(repository: string, kind: string, reference: string): string {
    return `/v2/${repository}/${kind}/${reference}`;
  }

  private scopes(call: Call): string[] {
    if (call.scopes) return call.scopes;
    if (!call.repository) return [];
    const scopes = [`repository:${call.repository}:${this.access === 'push' ? 'pull,push' : 'pull'}`];
    if (call.alsoPull && call.alsoPull !== call.repository) scopes.push(`repository:${call.alsoPull}:pull`);
    return scopes;
  }

  /** One request with auth (a 401 is answered once), timeouts, and retries of transient failures when allowed. */
  private call(call: Call): Promise<Answer> {
    const url = typeof call.target === 'string' ? new URL(call.target, this.base) : call.target;
    const scopes = this.scopes(call);
    const replayable = !(call.body instanceof Readable);
    const once = async (): Promise<Answer> => {
      // Credentials go only to the registry's own origin, never to a Location elsewhere.
      const ownOrigin = url.origin === this.base.origin;
      let authorization = ownOrigin ? await this.auth.authorization(scopes, call.signal) : undefined;
      for (let challenged = false; ; challenged = true) {
        const headers: Record<string, string> = { 'user-agent': this.userAgent, ...call.headers };
        if (authorization) headers.authorization = authorization;
        const answer = await exchange({
          method: call.method,
          url,
          headers,
          body: call.body,
          timeouts: this.timeouts,
          signal: call.signal,
        });
        if (
          answer.status === 401 &&
          ownOrigin &&
          replayable &&
          !challenged &&
          this.auth.challenged(answer.headers.get('www-authenticate'), scopes, authorization)
        ) {
          await answer.discard();
          authorization = await this.auth.authorization(scopes, call.signal);
          continue;
        }
        if (call.ok.includes(answer.status)) return answer;
        throw await remoteError(call.method, answer);
      }
    };
    return call.retry === false || !replayable ? once() : this.policy.execute(once, call.signal);
  }
}

/** The tag the referrers tag schema uses for a digest: `sha256:abc…` → `sha256-abc…`. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

function bareType(header: string | null): string | undefined {
  const bare = header?.split(';')[0]?.trim().toLowerCase();
  return bare || undefined;
}

/** The served Content-Type, or the body's own `mediaType` when the server sent something generic. */
function manifestType(header: string | null, bytes: Buffer): string {
  const served = bareType(header);
  if (served && KNOWN_MANIFEST_TYPES.has(served)) return served;
  try {
    const own = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof own === 'string') return own;
  } catch {
    // not JSON: keep what the server said
  }
  return served ?? 'application/octet-stream';
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error(`${what}: not JSON`);
  }
}

/** Drops the first `count` bytes of a stream (a whole blob served where only its tail was asked for). */
function skipBytes(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (left >= chunk.length) {
        left -= chunk.length;
        callback();
      } else {
        const rest = left > 0 ? chunk.subarray(left) : chunk;
        left = 0;
        callback(null, rest);
      }
    },
  });
}

function filterType(manifests: Descriptor[], options: { artifactType?: string }): Descriptor[] {
  return options.artifactType ? manifests.filter((m) => m.artifactType === options.artifactType) : manifests;
}
