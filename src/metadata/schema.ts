import type { Generated } from 'kysely';

/** Row types of the metadata database; times are milliseconds since the epoch. */
export interface Database {
  repositories: { id: Generated<number>; name: string; created_at: number };
  /** One row per stored blob, whatever the number of repositories linking it. */
  blobs: {
    digest: string;
    size: number;
    created_at: number;
    /** When a push or mount last relied on it; garbage collection spares it for a grace window after. */
    touched_at: Generated<number>;
    /** Garbage collection's claim while it deletes the bytes; pushes of the blob wait for it to end. */
    deleting_until: Generated<number | null>;
  };
  /** A repository sees a blob only through a link: pushed or mounted there. */
  repository_blobs: { repository_id: number; digest: string; created_at: number };
  manifests: {
    repository_id: number;
    digest: string;
    media_type: string;
    size: number;
    /** The exact bytes pushed; never re-serialised. */
    content: Buffer;
    subject: string | null;
    artifact_type: string | null;
    /** JSON of the manifest's annotations, for referrers responses. */
    annotations: string | null;
    created_at: number;
    /** Written in batches: within a few seconds of the pull. */
    last_pulled_at: Generated<number | null>;
  };
  /** What a manifest needs: its blobs (kind 'blob') and, for an index, its child manifests (kind 'manifest'). */
  manifest_references: { repository_id: number; manifest_digest: string; child_digest: string; kind: string };
  tags: { repository_id: number; name: string; manifest_digest: string; updated_at: number };
  uploads: {
    id: string;
    repository: string;
    offset: number;
    started_at: number;
    updated_at: number;
    /** The request writing to the session now, and until when its lease holds unless renewed. */
    writer: string | null;
    lease_until: number | null;
    /** How many times a writer claimed the session. */
    generation: Generated<number>;
  };
  users: {
    id: Generated<number>;
    username: string;
    password_hash: string | null;
    email: string | null;
    source: string;
    system_admin: number;
    disabled: number;
    ldap_groups: string | null;
    created_at: number;
    password_changed_at: number;
  };
  projects: {
    id: Generated<number>;
    name: string;
    public: number;
    push_allowlist: string | null;
    created_at: number;
  };
  project_members: { project_id: number; kind: string; name: string; role: string; created_at: number };
  robots: {
    id: Generated<number>;
    name: string;
    description: string | null;
    secret_id: string;
    secret_hash: string;
    permissions: string;
    expires_at: number | null;
    disabled: number;
    created_by: string;
    created_at: number;
  };
  access_tokens: {
    id: string;
    user_id: number;
    name: string;
    secret_hash: string;
    permissions: string | null;
    expires_at: number | null;
    created_at: number;
    last_used_at: number | null;
  };
  audit_events: {
    id: Generated<number>;
    time: number;
    actor: string;
    actor_kind: string;
    source_ip: string | null;
    user_agent: string | null;
    action: string;
    resource: string;
    result: string;
    detail: string | null;
  };
  signing_keys: { name: string; jwk: string; created_at: number };
  /** Under a matching rule, a tag once pushed is never moved or deleted. */
  immutability_rules: {
    id: Generated<number>;
    project_id: number;
    repository_pattern: string;
    tag_pattern: string;
    created_at: number;
  };
  project_quotas: { project_id: number; limit_bytes: number };
  /** Bytes of the distinct blobs linked into a project's repositories, kept with the links. */
  project_usage: { project: string; used_bytes: number };
  /** Garbage collection and retention runs: the history, and the one running per kind and scope. */
  job_runs: {
    id: Generated<number>;
    kind: string;
    scope: string;
    trigger: string;
    dry_run: number;
    status: string;
    requested_by: string | null;
    started_at: number;
    heartbeat_at: number;
    finished_at: number | null;
    progress: string | null;
    summary: string | null;
    error: string | null;
  };
  retention_policies: { project_id: number; rules: string; schedule: string | null; updated_at: number };
  /** Login attempts counted against a throttle key (migration 0006). */
  login_failures: { key: string; failed_at: number; attempt: string; pending: number };
  /** Refresh tokens handed out, by `jti`: a client's session. */
  refresh_tokens: {
    id: string;
    subject: string;
    user_id: number | null;
    robot_id: number | null;
    client_id: string | null;
    user_agent: string | null;
    source_ip: string | null;
    issued_at: number;
    expires_at: number;
    last_used_at: number | null;
  };
  /** Raised by "sign out everywhere": tokens issued under an older generation are refused. */
  session_generations: { subject: string; generation: number };
  /** OIDC login attempts begun (migration-oidc.ts), keyed by `state`; deleted as the callback reads them. */
  oidc_logins: {
    state: string;
    nonce: string;
    code_verifier: string;
    next: string;
    created_at: number;
    expires_at: number;
  };
  /** The user an OpenID Provider's subject signs in. */
  oidc_identities: { user_id: number; issuer: string; subject: string; last_login_at: number };
  /** OIDC users' CLI secrets: at most one per user. */
  cli_secrets: {
    id: string;
    user_id: number;
    secret_hash: string;
    created_at: number;
    last_used_at: number | null;
  };
}
