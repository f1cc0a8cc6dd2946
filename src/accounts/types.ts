import type { Action, Identity, ProjectPolicy, ProjectRole, RobotPermission } from '../auth/index.js';
import type { OidcProfile } from '../auth/oidc/index.js';

/** A page of a listing: `next` is the cursor for the following page, absent on the last one. */
export interface Page<T> {
  items: T[];
  next?: string;
}

export interface PageRequest {
  /** At most this many items (the API caps it). */
  limit: number;
  /** The `next` of the previous page. */
  cursor?: string;
}

export interface User {
  id: number;
  username: string;
  email: string | null;
  /** 'local' (password in Berth), 'ldap' (checked against the directory) or 'oidc' (single sign-on). */
  source: 'local' | 'ldap' | 'oidc';
  systemAdmin: boolean;
  disabled: boolean;
  createdAt: number;
}

export interface Project {
  id: number;
  name: string;
  public: boolean;
  /** CIDRs allowed to push and delete; null: anywhere. */
  pushAllowlist: string[] | null;
  createdAt: number;
}

export interface Member {
  kind: 'user' | 'group';
  name: string;
  role: ProjectRole;
}

export interface Robot {
  id: number;
  /** Without the `robot$` prefix it logs in with. */
  name: string;
  description: string | null;
  permissions: RobotPermission[];
  expiresAt: number | null;
  disabled: boolean;
  createdBy: string;
  createdAt: number;
}

export interface AccessToken {
  /** The id part of the token (`berth_<id>_<secret>`). */
  id: string;
  username: string;
  name: string;
  /** What the token may do, within what its user may; null: everything the user may. */
  permissions: RobotPermission[] | null;
  expiresAt: number | null;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A refresh token handed out: a client signed in for the long run (docker login, a console). */
export interface Session {
  /** The refresh token's `jti`. */
  id: string;
  /** The username (or robot$name) it signs in. */
  subject: string;
  /** The OAuth2 client_id the client gave, if any. */
  clientId: string | null;
  userAgent: string | null;
  sourceIp: string | null;
  issuedAt: number;
  expiresAt: number;
  /** Last refresh with it (to the minute); null when never used. */
  lastUsedAt: number | null;
}

/** A refresh token about to be handed out: its `jti`, whom it signs in, and what the client said of itself. */
export interface SessionOpening {
  id: string;
  /** The username (or robot$name) it signs in. */
  subject: string;
  expiresAt: number;
  clientId?: string;
  userAgent?: string;
  sourceIp?: string;
}

/** Thrown by AccountService for expected failures; the HTTP layers map `code` to a status. */
export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    readonly code: 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'FORBIDDEN',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Users, projects, members, robots and personal access tokens: the core service behind the token endpoint,
 * the /v2 authorization checks and the /api/v1 management API. No HTTP inside; callers check permissions
 * (authorize()) before calling the management methods.
 *
 * Login names: users log in with their username; robots with `robot$<name>` and their secret; a personal
 * access token is used as the password of its user's username. Secrets look like `berth_<id>_<secret>`.
 */
export interface Accounts {
  // --- used on every login and token request ---
  /**
   * Checks credentials: a local user's password, an LDAP user's directory password (creating or updating
   * the user row, with the groups seen now), a robot's secret, or a user's personal access token. Null when
   * wrong, unknown, disabled or expired. No throttling here: the caller throttles.
   */
  authenticate(username: string, password: string): Promise<Identity | null>;
  /** The identity behind a token subject (username or robot$name) now; undefined if gone or disabled. */
  identityOf(subject: string): Promise<Identity | undefined>;
  /**
   * Added: the identity a personal access token gives now (its user narrowed by the token's permissions);
   * undefined once the token is revoked or expired or its user disabled. For refreshing a token login:
   * identityOf(username) would give the user's full rights and outlive the token.
   */
  identityOfAccessToken?(username: string, tokenId: string): Promise<Identity | undefined>;
  /** What authorize()/grantAccess() need about a project; undefined when it does not exist. */
  projectPolicy(name: string): Promise<ProjectPolicy | undefined>;
  /** Projects whose repositories the identity may list in _catalog: 'all' for system admins. */
  visibleProjects(identity: Identity): Promise<string[] | 'all'>;

  // --- first start ---
  /**
   * When there are no users: creates `admin` (system admin) with `password`, or a generated one that is
   * returned once; and the public project `library`. Returns undefined when users already exist.
   */
  bootstrap(
    password?: string,
  ): Promise<{ username: string; password: string; generated: boolean } | undefined>;

  // --- users ---
  createUser(input: {
    username: string;
    password: string;
    email?: string;
    systemAdmin?: boolean;
  }): Promise<User>;
  /** `search`: only users whose username or e-mail address contains it (case-insensitive). */
  listUsers(page: PageRequest & { search?: string }): Promise<Page<User>>;
  getUser(username: string): Promise<User>;
  setPassword(username: string, password: string): Promise<void>;
  updateUser(
    username: string,
    changes: { disabled?: boolean; systemAdmin?: boolean; email?: string | null },
  ): Promise<User>;
  /**
   * Deletes a user: signs them out everywhere, removes them from every project (a later user of the same name
   * inherits nothing) and deletes their tokens, sessions and CLI secret. CONFLICT for the last enabled system
   * administrator.
   */
  deleteUser(username: string): Promise<void>;

  // --- projects and members ---
  createProject(input: { name: string; public?: boolean; pushAllowlist?: string[] | null }): Promise<Project>;
  listProjects(page: PageRequest & { visibleTo?: Identity; search?: string }): Promise<Page<Project>>;
  getProject(name: string): Promise<Project>;
  updateProject(
    name: string,
    changes: { public?: boolean; pushAllowlist?: string[] | null },
  ): Promise<Project>;
  deleteProject(name: string): Promise<void>;
  listMembers(project: string): Promise<Member[]>;
  /** Adds or changes a member's role. */
  setMember(project: string, member: Member): Promise<void>;
  removeMember(project: string, kind: Member['kind'], name: string): Promise<void>;

  // --- robots ---
  /** The secret is returned once and stored hashed. */
  createRobot(input: {
    name: string;
    description?: string;
    permissions: RobotPermission[];
    expiresAt?: number | null;
    createdBy: string;
  }): Promise<{ robot: Robot; secret: string }>;
  listRobots(page: PageRequest & { project?: string }): Promise<Page<Robot>>;
  getRobot(name: string): Promise<Robot>;
  updateRobot(
    name: string,
    changes: { disabled?: boolean; permissions?: RobotPermission[]; expiresAt?: number | null },
  ): Promise<Robot>;
  deleteRobot(name: string): Promise<void>;
  /** A new secret (the old one stops working); returned once. */
  rotateRobotSecret(name: string): Promise<string>;

  // --- personal access tokens ---
  createAccessToken(input: {
    username: string;
    name: string;
    permissions?: RobotPermission[] | null;
    expiresAt?: number | null;
  }): Promise<{ token: AccessToken; secret: string }>;
  listAccessTokens(username: string): Promise<AccessToken[]>;
  revokeAccessToken(username: string, id: string): Promise<void>;

  // --- single sign-on (OIDC) ---
  /**
   * The user an OpenID Provider's profile signs in: created at the subject's first login, its e-mail, groups
   * and (with `adminGroup` set) system administrator flag refreshed at each. INVALID for a name Berth cannot
   * take, CONFLICT when another account holds the name, FORBIDDEN when the user is disabled.
   */
  signInWithOidc?(profile: OidcProfile, adminGroup: string): Promise<{ user: User; identity: Identity }>;
  /** A new CLI secret for an OIDC user, replacing any previous one; returned once. INVALID for other users. */
  createCliSecret?(username: string): Promise<{ secret: string; createdAt: number }>;
  /** When the user's CLI secret was made and last used; null when they have none. */
  cliSecretInfo?(username: string): Promise<{ createdAt: number; lastUsedAt: number | null } | null>;
  /** Revokes the user's CLI secret: NOT_FOUND when they have none. */
  revokeCliSecret?(username: string): Promise<void>;

  // --- sessions (refresh tokens) ---
  /** Records a refresh token (its `jti`) about to be handed out to a username or robot$name. */
  openSession(input: SessionOpening): Promise<void>;
  /** Whether the refresh token `id` of `subject` may still be used (neither revoked nor expired). */
  useSession(id: string, subject: string): Promise<boolean>;
  /** The user's live sessions, newest first. */
  listSessions(username: string): Promise<Session[]>;
  revokeSession(username: string, id: string): Promise<void>;
  /** Revokes all the user's sessions and voids the access tokens issued to them so far. */
  signOutEverywhere(username: string): Promise<{ revoked: number; generation: number }>;
  /** The subject's session generation (raised by signOutEverywhere): older access tokens are void. */
  sessionGeneration(subject: string): Promise<number>;
}

export type { Action };
