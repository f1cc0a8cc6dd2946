import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { projectOf } from '../../auth/index.js';
import { BoundedLru } from '../../cache/bounded-lru.js';
import { type FillLocks, LocalFillLocks } from '../../cluster/index.js';
import type { ManifestRow } from '../../metadata/index.js';
import {
  type Digest,
  negotiate,
  parseManifest,
  parseReference,
  type Registry,
  RegistryError,
  UPLOADS_PREFIX,
} from '../../registry/index.js';
import { type Manifest, RegistryClient, type RetryOptions } from '../client/index.js';
import { decryptSecret, encryptSecret, type SecretKeyring, secretKeyring } from '../secrets.js';
import { teeIntoStore } from './blob-tee.js';
import { type FillTurn, fillLockKey, takeFillTurn } from './fill-turn.js';
import { PendingManifests } from './pending-manifests.js';
import { ProxySettingsStore, type StoredUpstream } from './proxy-settings-store.js';
import { SingleFlight } from './single-flight.js';
import { TagFreshness } from './tag-freshness.js';
import { isUpstreamFailure, upstreamError, upstreamReason } from './upstream-errors.js';
import { upstreamRepository } from './upstream-name.js';

/** Where the cache tells of stale answers and of what it fetched (a request's logger, or the server's). */
export interface ProxyLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface ProxyCacheOptions {
  registry: Registry;
  /**
   * replication.secretKey (`<id>:<base64 of 32 bytes>`) and the previous keys that still decrypt; empty:
   * upstream credentials are refused (anonymous upstreams work). A malformed key throws SecretKeyError.
   */
  secretKey: string;
  previousSecretKeys?: string[];
  /** A tag confirmed against the upstream is served without asking again for this long. */
  tagTtlMs: number;
  /** The upstream must start answering (and keep sending) within this. */
  upstreamTimeoutMs: number;
  log: ProxyLog;
  /** Retries of transient upstream failures: few and short, since a client is waiting (and stale may do). */
  retry?: RetryOptions;
  /**
   * Which process of the cluster fetches a blob while the others wait for it to be stored (backends' fills);
   * by default this process alone.
   */
  fillLocks?: FillLocks;
  /** How long a process waits for another's fetch of a blob before fetching it too (default 120 s). */
  fillWaitMs?: number;
}

/** A proxy project's upstream as the API shows it: never the password. */
export interface ProxyView {
  url: string;
  username: string | null;
  /** Whether a password is stored (sealed). */
  credentials: boolean;
}

export interface ProxyInput {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
}

/** A manifest the cache answers with; `stale` names why the upstream could not confirm it. */
export interface ServedManifest extends ManifestRow {
  stale?: string;
}

/**
 * A blob the repository did not hold: `stored` (now it does: serve it as usual), `head` (its size, from the
 * upstream), or `stream` (the bytes as they arrive, tee'd into storage).
 */
export type ProxiedBlob =
  | { kind: 'stored' }
  | { kind: 'head'; size: number }
  | { kind: 'stream'; size: number; body: Readable };

interface Upstream {
  project: string;
  url: string;
  base: URL;
  client: RegistryClient;
  updatedAt: number;
}

type Found = { row: ManifestRow; stale?: string };

/** How long a project's proxy settings are remembered; a change elsewhere applies here after this at most. */
const SETTINGS_TTL_MS = 5_000;
const DEFAULT_FILL_WAIT_MS = 120_000;
const DEFAULT_RETRY: RetryOptions = {
  retries: 1,
  initialDelayMs: 100,
  maxDelayMs: 1000,
  maxRetryAfterMs: 1000,
};

/**
 * Pull-through caching for proxy projects: a project bound to an upstream registry serves what it holds and
 * fetches the rest from there, storing it through the registry core (so quotas, retention and GC apply).
 * Tags are revalidated with a HEAD after `tagTtlMs`; digests are content and never asked again; blobs are
 * streamed to the client and into storage at once, fetched once however many clients wait, on whichever
 * process of the cluster (the others wait for it to be stored); when the upstream fails, what is cached is
 * served anyway (stale-if-error).
 */
export class ProxyCache {
  private readonly settings: ProxySettingsStore;
  private readonly lookups = new BoundedLru<string, { upstream: StoredUpstream | null }>({
    max: 10_000,
    ttl: SETTINGS_TTL_MS,
  });
  private readonly clients = new Map<string, Upstream>();
  private readonly freshness: TagFreshness;
  private readonly pending = new PendingManifests();
  private readonly fills = new SingleFlight<void>();
  private readonly resolving = new SingleFlight<{ row: ManifestRow } | 'missing'>();
  /** Blob sizes from the manifests fetched, so a blob GET needs no HEAD upstream first. */
  private readonly sizes = new BoundedLru<string, number>({ max: 100_000 });
  private readonly registry: Registry;
  private readonly keyring: SecretKeyring | undefined;
  private readonly fillLocks: FillLocks;

  constructor(private readonly options: ProxyCacheOptions) {
    this.registry = options.registry;
    this.fillLocks = options.fillLocks ?? new LocalFillLocks();
    this.keyring = options.secretKey
      ? secretKeyring(options.secretKey, options.previousSecretKeys)
      : undefined;
    this.settings = new ProxySettingsStore(options.registry.meta.db);
    this.freshness = new TagFreshness(options.tagTtlMs);
  }

  // ------------------------------------------------------------------------------------------------ settings

  async view(project: string): Promise<ProxyView | null> {
    const stored = await this.settings.get(project);
    return stored ? viewOf(stored) : null;
  }

  /** Throws INVALID_REQUEST naming what is wrong with `input` (also a password while no key is configured). */
  check(input: ProxyInput): URL {
    const invalid = (message: string) => new RegistryError('INVALID_REQUEST', { message });
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw invalid(`proxy.url is not a URL: ${input.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw invalid('proxy.url must be an http:// or https:// URL');
    }
    if (url.username || url.password) {
      throw invalid('proxy.url must not carry credentials: give proxy.username and proxy.password');
    }
    if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
      throw invalid(
        "proxy.url must be the registry's base URL (it serves /v2/ at its root), without path or query",
      );
    }
    if (((input.username ?? '') === '') !== ((input.password ?? '') === '')) {
      throw invalid('give both proxy.username and proxy.password, or neither (anonymous)');
    }
    if (input.password && !this.keyring) {
      throw invalid(
        'replication.secretKey is not set: upstream credentials cannot be stored (they are encrypted at rest); set it to <id>:<base64 of 32 bytes>, e.g. k1:$(openssl rand -base64 32), or use an anonymous upstream',
      );
    }
    return url;
  }

  /** Binds the project to an upstream (null: makes it an ordinary project again). NOT_FOUND without the project. */
  async configure(project: string, input: ProxyInput | null): Promise<ProxyView | null> {
    try {
      if (input === null) {
        await this.settings.remove(project);
        return null;
      }
      const url = this.check(input);
      const password = input.password
        ? encryptSecret(this.keyring as SecretKeyring, input.password, sealContext(project))
        : null;
      const stored = {
        url: url.origin,
        username: input.username || null,
        sealedPassword: password,
      };
      if (!(await this.settings.set(project, stored))) {
        throw new RegistryError('NOT_FOUND', { message: `no project ${project}` });
      }
      return viewOf({ ...stored, updatedAt: 0 });
    } finally {
      this.lookups.delete(project);
      this.clients.delete(project);
    }
  }

  /** Every proxy project and its upstream URL, by name (read afresh: callers cache). */
  proxyProjects(): Promise<{ project: string; url: string }[]> {
    return this.settings.all();
  }

  // --------------------------------------------------------------------------------------------------- /v2

  /** The refusal of a push into a proxy project; undefined for other projects. */
  async refuseWrite(repository: string): Promise<RegistryError | undefined> {
    const project = projectOf(repository);
    const stored = await this.lookup(project);
    if (!stored) return undefined;
    return new RegistryError('DENIED', {
      message: `project ${project} is a pull-through cache of ${stored.url}: pushes are refused; push to another project`,
    });
  }

  /**
   * The manifest to answer a GET/HEAD with in a proxy project (undefined: not one). By digest: the cached copy,
   * else the upstream's. By tag: the cached copy while confirmed within the TTL, else after a HEAD upstream
   * (fetched when the digest moved), else — the upstream failing — the cached copy marked stale.
   */
  async manifest(
    repository: string,
    reference: string,
    accept: string | undefined,
    log: ProxyLog = this.options.log,
  ): Promise<ServedManifest | undefined> {
    const upstream = await this.upstreamOf(repository);
    if (!upstream) return undefined;
    const ref = parseReference(reference, false);
    const found =
      ref.kind === 'digest'
        ? await this.byDigest(upstream, repository, ref.digest)
        : await this.byTag(upstream, repository, ref.tag, log);
    const served = await this.negotiated(upstream, repository, found, accept);
    return served.stale === undefined ? served.row : { ...served.row, stale: served.stale };
  }

  /**
   * For a blob GET/HEAD of a blob the repository does not hold (undefined: not a proxy project). A HEAD asks the
   * upstream for the size. A GET fetches the blob: the first request streams it as it arrives while it is
   * stored (`stream`); requests arriving meanwhile, and ranged ones, wait for it to be stored (`stored`).
   */
  async blob(
    repository: string,
    digest: Digest,
    method: 'GET' | 'HEAD',
    ranged: boolean,
    log: ProxyLog = this.options.log,
  ): Promise<ProxiedBlob | undefined> {
    const upstream = await this.upstreamOf(repository);
    if (!upstream) return undefined;
    const name = upstreamRepository(upstream.base, repository);
    const unknown = () => new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.value } });
    try {
      if (method === 'HEAD') {
        const head = await upstream.client.headBlob(name, digest.value);
        if (!head || Number.isNaN(head.size)) throw unknown();
        return { kind: 'head', size: head.size };
      }
      if (await this.linkHeld(upstream, name, repository, digest)) return { kind: 'stored' };
      const key = `${repository}@${digest.value}`;
      const fillAlone = () => this.fill(upstream, name, repository, digest, undefined, log);
      if (ranged || this.fills.has(key)) {
        await this.storedAfterFill(key, fillAlone);
        return { kind: 'stored' };
      }
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      let announce: (size: number | undefined) => void = () => {};
      const ready = new Promise<number | undefined>((resolve) => {
        announce = resolve;
      });
      const { promise, started } = this.fills.run(key, () =>
        this.fill(upstream, name, repository, digest, { body, announce }, log),
      );
      if (!started) {
        await this.storedAfterFill(key, fillAlone, promise);
        return { kind: 'stored' };
      }
      // The client learns of a failure mid-body by its stream failing; here it is logged.
      promise.catch((error: unknown) =>
        log.warn(
          { repository, digest: digest.value, upstream: upstream.url, err: error },
          'pull-through: blob not cached',
        ),
      );
      const size = await Promise.race([ready, promise.then(() => undefined)]);
      if (size === undefined) {
        body.destroy();
        return { kind: 'stored' };
      }
      return { kind: 'stream', size, body };
    } catch (error) {
      throw upstreamError(upstream.url, error, unknown);
    }
  }

  /**
   * Waits until the blob is stored by the fill in progress (`joined`, or one started or joined here). When a
   * fill this request only joined fails, it fills once more itself: a client arriving while another client's
   * fetch was failing (an upstream cut off mid-blob) is not failed by it.
   */
  private async storedAfterFill(
    key: string,
    fill: () => Promise<void>,
    joined?: Promise<void>,
  ): Promise<void> {
    let started = false;
    let promise = joined;
    if (!promise) ({ promise, started } = this.fills.run(key, fill));
    try {
      await promise;
    } catch (error) {
      if (started) throw error;
      await this.fills.run(key, fill).promise;
    }
  }

  // ------------------------------------------------------------------------------------------------ manifests

  private async byDigest(upstream: Upstream, repository: string, digest: string): Promise<Found> {
    const local = await this.registry.meta.manifestByDigest(repository, digest);
    if (local) return { row: local };
    const pending = this.pending.get(repository, digest);
    if (pending) return { row: rowOf(pending) };
    const unknown = () => new RegistryError('MANIFEST_UNKNOWN', { detail: { digest } });
    try {
      const fetched = await this.resolving.run(`${repository}@${digest}`, async () => {
        const manifest = await upstream.client.getManifest(
          upstreamRepository(upstream.base, repository),
          digest,
        );
        if (!manifest) return 'missing';
        await this.adopt(repository, manifest, undefined);
        return { row: rowOf(manifest) };
      }).promise;
      if (fetched === 'missing') throw missingUpstream(unknown(), upstream);
      return fetched;
    } catch (error) {
      throw upstreamError(upstream.url, error, unknown);
    }
  }

  private async byTag(upstream: Upstream, repository: string, tag: string, log: ProxyLog): Promise<Found> {
    const confirmed = this.freshness.fresh(repository, tag);
    if (confirmed) {
      const local = await this.registry.meta.manifestByDigest(repository, confirmed);
      const pending = local ? undefined : this.pending.get(repository, confirmed);
      if (local) return { row: local };
      if (pending) return { row: rowOf(pending) };
    }
    const local = await this.registry.meta.manifestByTag(repository, tag);
    const unknown = () => new RegistryError('MANIFEST_UNKNOWN', { detail: { tag } });
    let resolved: { row: ManifestRow } | 'missing';
    try {
      resolved = await this.resolving.run(`${repository}:${tag}`, () =>
        this.revalidate(upstream, repository, tag, local),
      ).promise;
    } catch (error) {
      if (local && isUpstreamFailure(error)) {
        const reason = `upstream ${upstreamReason(error)}`;
        log.warn(
          { repository, tag, digest: local.digest, upstream: upstream.url, reason, err: error },
          'pull-through: upstream failed; serving the cached manifest (stale)',
        );
        return { row: local, stale: reason };
      }
      throw upstreamError(upstream.url, error, unknown);
    }
    if (resolved === 'missing') throw missingUpstream(unknown(), upstream);
    return resolved;
  }

  /** HEAD upstream; the cached manifest when the digest did not move, else the upstream's (fetched, adopted). */
  private async revalidate(
    upstream: Upstream,
    repository: string,
    tag: string,
    local: ManifestRow | undefined,
  ): Promise<{ row: ManifestRow } | 'missing'> {
    const name = upstreamRepository(upstream.base, repository);
    // Nothing cached: a HEAD first would only add a round trip.
    if (local) {
      const head = await upstream.client.headManifest(name, tag);
      if (!head) return 'missing';
      if (head.digest === local.digest) {
        this.freshness.confirm(repository, tag, local.digest);
        return { row: local };
      }
    }
    const manifest = await upstream.client.getManifest(name, tag);
    if (!manifest) return 'missing';
    await this.adopt(repository, manifest, tag);
    this.freshness.confirm(repository, tag, manifest.digest);
    return { row: rowOf(manifest) };
  }

  /** Accept negotiation as the core does it, on what the cache found (an index's linux/amd64 image for old clients). */
  private async negotiated(
    upstream: Upstream,
    repository: string,
    found: Found,
    accept: string | undefined,
  ): Promise<Found> {
    const decision = negotiate(found.row.mediaType, accept);
    if (decision === 'serve') return found;
    if (decision === 'platform') {
      const child = parseManifest(found.row.content, found.row.mediaType).manifests.find(
        (d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64',
      );
      if (child) {
        const image = await this.byDigest(upstream, repository, child.digest);
        if (negotiate(image.row.mediaType, accept) === 'serve') {
          return found.stale === undefined ? image : { ...image, stale: found.stale };
        }
      }
    }
    throw new RegistryError('MANIFEST_UNKNOWN', {
      message: `the manifest is a ${found.row.mediaType}, which the Accept header does not allow`,
      detail: { mediaType: found.row.mediaType, accept },
    });
  }

  /**
   * Stores an upstream manifest (exact bytes) through the core, with its tag, once the repository holds what it
   * references; until then it waits among the pending ones. One the core refuses is served but not cached.
   */
  private async adopt(repository: string, manifest: Manifest, tag: string | undefined): Promise<void> {
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(manifest.bytes, manifest.mediaType);
    } catch (error) {
      this.options.log.warn(
        { repository, digest: manifest.digest, err: error },
        'pull-through: upstream manifest not cached (the registry would refuse it)',
      );
      return;
    }
    for (const blob of parsed.blobs) this.sizes.set(blob.digest, blob.size);
    this.pending.add(
      { repository, digest: manifest.digest, mediaType: manifest.mediaType, bytes: manifest.bytes },
      tag,
    );
    await this.settle(repository);
  }

  /** Stores the repository's pending manifests that are complete now, children before their indexes. */
  private async settle(repository: string): Promise<void> {
    for (let progress = true; progress; ) {
      progress = false;
      for (const entry of this.pending.of(repository)) {
        if (await this.store(entry.repository, entry.digest, entry.mediaType, entry.bytes, entry.tags)) {
          progress = true;
        }
      }
    }
  }

  private async store(
    repository: string,
    digest: string,
    mediaType: string,
    bytes: Buffer,
    tags: Set<string>,
  ): Promise<boolean> {
    try {
      const references = tags.size === 0 ? [digest] : [...tags];
      for (const reference of references) {
        await this.registry.manifests.put(repository, reference, bytes, mediaType);
      }
      this.pending.delete(repository, digest);
      this.options.log.info({ repository, digest, tags: [...tags] }, 'pull-through: manifest cached');
      return true;
    } catch (error) {
      if (error instanceof RegistryError && error.code === 'MANIFEST_BLOB_UNKNOWN') return false;
      this.pending.delete(repository, digest);
      this.options.log.warn(
        { repository, digest, err: error },
        'pull-through: upstream manifest not cached (the registry refused it)',
      );
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------------- blobs

  /**
   * Bytes this registry stores already for another repository are linked here (no transfer) once the upstream
   * confirms this repository has the blob: the upstream, not our other tenants, decides who may read it.
   */
  private async linkHeld(
    upstream: Upstream,
    name: string,
    repository: string,
    digest: Digest,
  ): Promise<boolean> {
    if ((await this.registry.meta.blobSize(digest.value)) === undefined) return false;
    if (!(await upstream.client.headBlob(name, digest.value))) return false;
    if (!(await this.registry.blobs.mount(repository, digest, undefined, () => true))) return false;
    await this.settle(repository);
    return true;
  }

  /**
   * Fetches a blob into storage (verified against its digest, linked only when complete), handing the bytes to
   * `reader` as they come. Runs to the end whatever the reader does. Across processes, one fetches while the
   * others wait for it and then serve the stored blob (`reader` then never hears of a size).
   */
  private async fill(
    upstream: Upstream,
    name: string,
    repository: string,
    digest: Digest,
    reader: { body: PassThrough; announce: (size: number | undefined) => void } | undefined,
    log: ProxyLog,
  ): Promise<void> {
    const turn = await this.fillTurn(upstream, name, repository, digest, log);
    if (turn.kind === 'stored') return;
    try {
      await this.fetchInto(upstream, name, repository, digest, reader, log);
    } finally {
      turn.lease?.release();
    }
    await this.settle(repository);
  }

  /** Waits for this process's turn to fetch the blob (fill-turn.ts), telling the log why it waited or did not. */
  private async fillTurn(
    upstream: Upstream,
    name: string,
    repository: string,
    digest: Digest,
    log: ProxyLog,
  ): Promise<FillTurn> {
    const fields = { repository, digest: digest.value, upstream: upstream.url };
    const started = Date.now();
    let waited = false;
    const turn = await takeFillTurn({
      locks: this.fillLocks,
      key: fillLockKey(upstream.url, digest.value),
      waitMs: this.options.fillWaitMs ?? DEFAULT_FILL_WAIT_MS,
      stored: () => this.held(upstream, name, repository, digest),
      onWait: () => {
        waited = true;
        log.info(fields, 'pull-through: another process is fetching the blob; waiting until it is stored');
      },
    });
    const ms = Date.now() - started;
    if (turn.kind === 'stored') {
      if (waited) log.info({ ...fields, ms }, 'pull-through: blob stored by another process');
    } else if (turn.reason === 'timeout') {
      log.warn(
        { ...fields, ms },
        'pull-through: another process is still fetching the blob; fetching it too',
      );
    } else if (turn.reason === 'unavailable') {
      log.warn(
        { ...fields, err: turn.error },
        'pull-through: cannot tell whether another process is fetching the blob; fetching it',
      );
    } else if (waited) {
      log.info({ ...fields, ms }, 'pull-through: the other process did not store the blob; fetching it');
    }
    return turn;
  }

  /** Whether the repository holds the blob now, linking bytes stored for another repository (linkHeld). */
  private async held(upstream: Upstream, name: string, repository: string, digest: Digest): Promise<boolean> {
    if ((await this.registry.meta.linkedBlobSize(repository, digest.value)) !== undefined) {
      await this.settle(repository);
      return true;
    }
    return this.linkHeld(upstream, name, repository, digest);
  }

  private async fetchInto(
    upstream: Upstream,
    name: string,
    repository: string,
    digest: Digest,
    reader: { body: PassThrough; announce: (size: number | undefined) => void } | undefined,
    log: ProxyLog,
  ): Promise<void> {
    let size = this.sizes.get(digest.value);
    if (size === undefined) {
      const head = await upstream.client.headBlob(name, digest.value);
      if (!head) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.value } });
      if (!Number.isNaN(head.size)) size = head.size;
    }
    await this.registry.policy.admitUpload?.(repository, size, digest.value);
    const source = await upstream.client.getBlob(name, { digest: digest.value, size });
    const tempKey = `${UPLOADS_PREFIX}/proxy-${randomUUID()}`;
    const started = Date.now();
    if (reader && size !== undefined) reader.announce(size);
    const stored = await teeIntoStore(
      source,
      this.registry.store,
      tempKey,
      size === undefined ? undefined : reader?.body,
      (failure) => clientErrorOf(upstream.url, failure, digest.value),
    );
    await this.registry.blobs.commit(repository, tempKey, digest, stored);
    log.info(
      { repository, digest: digest.value, bytes: stored, ms: Date.now() - started, upstream: upstream.url },
      'pull-through: blob cached',
    );
  }

  // ------------------------------------------------------------------------------------------------ upstreams

  private async lookup(project: string): Promise<StoredUpstream | null> {
    const cached = this.lookups.get(project);
    if (cached) return cached.upstream;
    const upstream = (await this.settings.get(project)) ?? null;
    this.lookups.set(project, { upstream });
    return upstream;
  }

  /** The upstream of the repository's project, or undefined when it is not a proxy project. */
  private async upstreamOf(repository: string): Promise<Upstream | undefined> {
    const project = projectOf(repository);
    const stored = await this.lookup(project);
    if (!stored) return undefined;
    const known = this.clients.get(project);
    if (known && known.updatedAt === stored.updatedAt && known.url === stored.url) return known;
    let credentials: { username: string; password: string } | undefined;
    if (stored.username && stored.sealedPassword) {
      if (!this.keyring) {
        throw new RegistryError('UNAVAILABLE', {
          message: `project ${project} has upstream credentials but replication.secretKey is not set: cannot decrypt them`,
        });
      }
      try {
        credentials = {
          username: stored.username,
          password: decryptSecret(this.keyring, stored.sealedPassword, sealContext(project)),
        };
      } catch (error) {
        throw new RegistryError('UNAVAILABLE', {
          message: `cannot decrypt the upstream credentials of project ${project}: ${(error as Error).message}`,
        });
      }
    }
    const timeout = this.options.upstreamTimeoutMs;
    const upstream: Upstream = {
      project,
      url: stored.url,
      base: new URL(stored.url),
      updatedAt: stored.updatedAt,
      client: new RegistryClient({
        url: stored.url,
        credentials,
        access: 'pull',
        timeouts: { headersTimeoutMs: timeout, idleTimeoutMs: timeout },
        retry: this.options.retry ?? DEFAULT_RETRY,
        userAgent: 'berth-proxy',
      }),
    };
    this.clients.set(project, upstream);
    return upstream;
  }
}

/**
 * What a client streaming a blob being fetched is failed with: an upstream's failure is a 503 naming it (the
 * answer, when no byte has gone out yet), anything else (the store's failure) itself.
 */
function clientErrorOf(upstream: string, failure: unknown, digest: string): Error {
  if (!isUpstreamFailure(failure)) return failure as Error;
  return upstreamError(upstream, failure, () => new RegistryError('BLOB_UNKNOWN', { detail: { digest } }));
}

/** Authenticated with each sealed password: a password sealed for one project never opens for another. */
function sealContext(project: string): string {
  return `proxy:${project}`;
}

function viewOf(stored: Omit<StoredUpstream, 'updatedAt'> & { updatedAt: number }): ProxyView {
  return { url: stored.url, username: stored.username, credentials: stored.sealedPassword !== null };
}

function rowOf(manifest: { digest: string; mediaType: string; bytes: Buffer }): ManifestRow {
  return {
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    size: manifest.bytes.byteLength,
    content: manifest.bytes,
  };
}

function missingUpstream(base: RegistryError, upstream: Upstream): RegistryError {
  return new RegistryError(base.code, {
    message: `${base.message}: upstream ${upstream.url} does not have it`,
    detail: base.detail,
  });
}
