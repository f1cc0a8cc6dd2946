import type { LinkAdmission, ManifestRow } from '../metadata/index.js';
import type { RegistryError } from './errors.js';

/**
 * The refusal to change a protected tag, or undefined when the tag may change. `manifest` is set when the
 * change is the deletion of that manifest (by digest), which would take the tag with it.
 */
export type TagProtection = (tag: string, manifest?: string) => RegistryError | undefined;

/** Who is reading, as far as a read policy cares; the /v2 handlers build it from the authenticated caller. */
export interface Reader {
  /** A username, `robot$<name>`, or `anonymous`. */
  actor: string;
  actorKind: 'user' | 'robot' | 'anonymous';
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  /** Whether the reader may pull what a policy refuses (system administrators, robots with bypass-policy). */
  mayBypass(repository: string): Promise<boolean>;
}

/**
 * What lifecycle/ plugs into the registry core (tag immutability, storage quotas). Each hook is optional and
 * called at one point; what it throws (RegistryError DENIED) reaches the client unchanged. Without hooks the
 * core refuses nothing.
 */
export interface RegistryPolicy {
  /**
   * The tag protection of a repository, or undefined when none of its tags is protected. Asked once per
   * manifest PUT with a tag, tag DELETE and manifest DELETE; the answer is then applied inside the metadata
   * transaction (a protected tag may be created, or pushed again with the same digest, never moved or deleted).
   */
  tagProtection?(repository: string): Promise<TagProtection | undefined>;
  /**
   * Early quota check: throws when the repository's project cannot take a blob of `bytes`, or, when the size is
   * not known yet (undefined), when the project is full already. Called when an upload session starts, before
   * an upload body of declared length is written (`bytes`: the blob so far plus that body), and before a
   * finished upload is committed. `digest`, when known, exempts a blob the project already holds.
   */
  admitUpload?(repository: string, bytes: number | undefined, digest?: string): Promise<void>;
  /**
   * The authoritative quota check, inside the transaction that links a blob new to the project (mounts
   * included), with the project's usage locked: throws to refuse the link.
   */
  admitLink?: LinkAdmission;
  /**
   * Pull-time policy (signatures/): throws to refuse serving a manifest (GET or HEAD, by tag or digest) that
   * the repository holds. Called by the handler once the manifest is found, before anything is sent.
   */
  admitManifestRead?(repository: string, manifest: ManifestRow, reader: Reader): Promise<void>;
  /** Pull-time policy for a blob GET of a blob linked into the repository; throws to refuse it. */
  admitBlobRead?(repository: string, digest: string, reader: Reader): Promise<void>;
}
