import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  DEFAULT_PROJECT,
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  type Identity,
  type LdapConfig,
  type ProjectPolicy,
  type ScryptParams,
} from '../auth/index.js';
import type { OidcProfile } from '../auth/oidc/index.js';
import { AccountsStore, type Database, OidcRows } from '../metadata/index.js';
import { toUser } from './account-records.js';
import { checkEmail, checkPassword, checkUsername } from './account-validation.js';
import { MachineCredentials } from './machine-credentials.js';
import { type CliSecretInfo, OidcAccounts } from './oidc-accounts.js';
import { keysetPage } from './page-cursor.js';
import { ProjectDirectory } from './project-directory.js';
import { SessionRecords } from './sessions.js';
import { SignIn } from './sign-in.js';
import {
  type AccessToken,
  AccountError,
  type Accounts,
  type Member,
  type Page,
  type PageRequest,
  type Project,
  type Robot,
  type Session,
  type User,
} from './types.js';

export interface AccountServiceOptions {
  /** When set, users without a local row (and LDAP users) sign in against the directory. */
  ldap?: LdapConfig;
  /** Password hashing cost; tests pass cheap parameters. */
  scrypt?: ScryptParams;
  /** Milliseconds since the epoch; tests move time. */
  now?: () => number;
  /** Told when a user signed out everywhere (the server forgets their older tokens, on every node). */
  onSignedOut?: (subject: string, generation: number) => void;
  /** Told once a project was created or deleted, or its visibility, allowlist or members changed. */
  onProjectChanged?: (project: string) => void;
  /**
   * Told once a credential stopped working (a robot disabled, deleted or given a new secret, an access token or
   * CLI secret revoked or replaced), so that logins remembered anywhere are forgotten. `subject` is the user's
   * name or `robot$<name>`.
   */
  onCredentialsChanged?: (subject: string) => void;
}

/** How a robot is named as a subject (tokens, audit): `robot$<name>`. */
const robotSubject = (name: string) => (name.startsWith('robot$') ? name : `robot$${name}`);

/** The first administrator's name, created by bootstrap(). */
export const BOOTSTRAP_ADMIN = 'admin';

const notFound = (what: string) => new AccountError('NOT_FOUND', `${what} does not exist`);

/**
 * Accounts over the metadata database: every answer comes from a query (no in-process cache), so all nodes
 * sharing a database see a change at once.
 */
export class AccountService implements Accounts {
  private readonly store: AccountsStore;
  private readonly now: () => number;
  readonly #signIn: SignIn;
  readonly #machines: MachineCredentials;
  readonly #projects: ProjectDirectory;
  readonly #scrypt: ScryptParams;
  readonly #sessions: SessionRecords;
  readonly #oidc: OidcAccounts;
  readonly #onProjectChanged: ((project: string) => void) | undefined;
  readonly #onCredentialsChanged: (subject: string) => void;

  constructor(db: Kysely<Database>, options: AccountServiceOptions = {}) {
    this.store = new AccountsStore(db);
    this.now = options.now ?? Date.now;
    this.#scrypt = options.scrypt ?? DEFAULT_SCRYPT_PARAMS;
    this.#oidc = new OidcAccounts(this.store, new OidcRows(db), this.now);
    this.#signIn = new SignIn(this.store, {
      ldap: options.ldap,
      scrypt: this.#scrypt,
      now: this.now,
      cliSecret: (username, id, secret) => this.#oidc.authenticate(username, id, secret),
    });
    this.#machines = new MachineCredentials(this.store, this.now);
    this.#projects = new ProjectDirectory(
      this.store,
      this.now,
      this.#signIn.ldapEnabled,
      options.onProjectChanged,
    );
    this.#sessions = new SessionRecords(this.store, this.now, options.onSignedOut);
    this.#onProjectChanged = options.onProjectChanged;
    this.#onCredentialsChanged = options.onCredentialsChanged ?? (() => {});
  }

  /** Runs a change to someone's credentials, then says so (also when it failed half-way: forgetting is safe). */
  async #changingCredentials<T>(subject: string, change: Promise<T>): Promise<T> {
    try {
      return await change;
    } finally {
      this.#onCredentialsChanged(subject);
    }
  }

  // --- sign-in ---------------------------------------------------------------------------------------------

  authenticate(username: string, password: string): Promise<Identity | null> {
    return this.#signIn.authenticate(username, password);
  }

  identityOf(subject: string): Promise<Identity | undefined> {
    return this.#signIn.identityOf(subject);
  }

  /**
   * The identity a personal access token gives now, narrowed by its permissions; undefined once it is revoked,
   * expired, or its user disabled. For refresh tokens issued to a token login: identityOf(username) would
   * return the user's full rights.
   */
  identityOfAccessToken(username: string, tokenId: string): Promise<Identity | undefined> {
    return this.#signIn.identityOfAccessToken(username, tokenId);
  }

  projectPolicy(name: string): Promise<ProjectPolicy | undefined> {
    return this.#projects.projectPolicy(name);
  }

  visibleProjects(identity: Identity): Promise<string[] | 'all'> {
    return this.#projects.visibleProjects(identity);
  }

  // --- first start -----------------------------------------------------------------------------------------

  async bootstrap(
    password?: string,
  ): Promise<{ username: string; password: string; generated: boolean } | undefined> {
    if (password !== undefined) checkPassword(password);
    if (await this.store.users.anyExists()) return undefined;
    const chosen = password ?? randomBytes(18).toString('base64url');
    const now = this.now();
    const admin = await this.store.users.insertLocal({
      username: BOOTSTRAP_ADMIN,
      passwordHash: await hashPassword(chosen, this.#scrypt),
      email: null,
      systemAdmin: true,
      now,
    });
    // Another node created it first: the unique constraint decided, and that node reports the password.
    if (!admin) return undefined;
    await this.store.projects.insert({ name: DEFAULT_PROJECT, public: true, pushAllowlist: null, now });
    return { username: BOOTSTRAP_ADMIN, password: chosen, generated: password === undefined };
  }

  // --- users -----------------------------------------------------------------------------------------------

  async createUser(input: {
    username: string;
    password: string;
    email?: string;
    systemAdmin?: boolean;
  }): Promise<User> {
    const username = checkUsername(input.username);
    checkPassword(input.password);
    const email = checkEmail(input.email);
    const conflict = () => new AccountError('CONFLICT', `user ${username} already exists`);
    if (await this.store.users.byName(username)) throw conflict();
    const row = await this.store.users.insertLocal({
      username,
      passwordHash: await hashPassword(input.password, this.#scrypt),
      email,
      systemAdmin: input.systemAdmin ?? false,
      now: this.now(),
    });
    if (!row) throw conflict();
    return toUser(row);
  }

  listUsers(page: PageRequest & { search?: string }): Promise<Page<User>> {
    return keysetPage(
      page,
      (limit, after) => this.store.users.list(limit, after, page.search),
      (r) => r.username,
      toUser,
    );
  }

  async getUser(username: string): Promise<User> {
    const row = await this.store.users.byName(username);
    if (!row) throw notFound(`user ${username}`);
    return toUser(row);
  }

  async setPassword(username: string, password: string): Promise<void> {
    checkPassword(password);
    const row = await this.store.users.byName(username);
    if (!row) throw notFound(`user ${username}`);
    if (row.source !== 'local') {
      const where = row.source === 'ldap' ? 'LDAP' : 'single sign-on (OIDC)';
      throw new AccountError(
        'INVALID',
        `user ${username} signs in through ${where}: change the password there`,
      );
    }
    const passwordHash = await hashPassword(password, this.#scrypt);
    await this.store.users.update(username, { passwordHash, passwordChangedAt: this.now() });
    // Whoever held the old password may hold a session made with it: a new password ends them all.
    await this.#sessions.signOutEverywhere(username);
  }

  async updateUser(
    username: string,
    changes: { disabled?: boolean; systemAdmin?: boolean; email?: string | null },
  ): Promise<User> {
    const email = changes.email === undefined ? undefined : checkEmail(changes.email);
    const row = await this.store.users.byName(username);
    if (!row) throw notFound(`user ${username}`);
    const losesAdmin =
      row.systemAdmin && !row.disabled && (changes.disabled === true || changes.systemAdmin === false);
    if (losesAdmin && !(await this.store.users.otherActiveAdminExists(username))) {
      throw new AccountError(
        'CONFLICT',
        `${username} is the last enabled system administrator: make another one first`,
      );
    }
    const updated = await this.store.users.update(username, {
      ...(changes.disabled === undefined ? {} : { disabled: changes.disabled }),
      ...(changes.systemAdmin === undefined ? {} : { systemAdmin: changes.systemAdmin }),
      ...(email === undefined ? {} : { email }),
    });
    if (!updated) throw notFound(`user ${username}`);
    // A disabled user's refresh tokens already fail; this also voids the access tokens issued so far.
    if (changes.disabled === true && !row.disabled) await this.#sessions.signOutEverywhere(username);
    return toUser(updated);
  }

  async deleteUser(username: string): Promise<void> {
    const row = await this.store.users.byName(username);
    if (!row) throw notFound(`user ${username}`);
    if (row.systemAdmin && !row.disabled && !(await this.store.users.otherActiveAdminExists(username))) {
      throw new AccountError(
        'CONFLICT',
        `${username} is the last enabled system administrator: make another one first`,
      );
    }
    // First void the access tokens issued so far (the generation outlives the row: it is keyed by name).
    await this.#sessions.signOutEverywhere(username);
    const left = await this.store.transaction((store) => store.users.delete(username));
    if (!left) throw notFound(`user ${username}`);
    for (const project of left) this.#onProjectChanged?.(project);
  }

  // --- projects and members (ProjectDirectory) -------------------------------------------------------------

  createProject(input: Parameters<Accounts['createProject']>[0]): Promise<Project> {
    return this.#projects.createProject(input);
  }

  listProjects(page: PageRequest & { visibleTo?: Identity; search?: string }): Promise<Page<Project>> {
    return this.#projects.listProjects(page);
  }

  getProject(name: string): Promise<Project> {
    return this.#projects.getProject(name);
  }

  updateProject(name: string, changes: Parameters<Accounts['updateProject']>[1]): Promise<Project> {
    return this.#projects.updateProject(name, changes);
  }

  deleteProject(name: string): Promise<void> {
    return this.#projects.deleteProject(name);
  }

  listMembers(project: string): Promise<Member[]> {
    return this.#projects.listMembers(project);
  }

  setMember(project: string, member: Member): Promise<void> {
    return this.#projects.setMember(project, member);
  }

  removeMember(project: string, kind: Member['kind'], name: string): Promise<void> {
    return this.#projects.removeMember(project, kind, name);
  }

  // --- robots and personal access tokens (MachineCredentials) ---------------------------------------------

  createRobot(input: Parameters<Accounts['createRobot']>[0]): Promise<{ robot: Robot; secret: string }> {
    return this.#machines.createRobot(input);
  }

  listRobots(page: PageRequest & { project?: string }): Promise<Page<Robot>> {
    return this.#machines.listRobots(page);
  }

  getRobot(name: string): Promise<Robot> {
    return this.#machines.getRobot(name);
  }

  updateRobot(name: string, changes: Parameters<Accounts['updateRobot']>[1]): Promise<Robot> {
    return this.#changingCredentials(robotSubject(name), this.#machines.updateRobot(name, changes));
  }

  deleteRobot(name: string): Promise<void> {
    return this.#changingCredentials(robotSubject(name), this.#machines.deleteRobot(name));
  }

  rotateRobotSecret(name: string): Promise<string> {
    return this.#changingCredentials(robotSubject(name), this.#machines.rotateRobotSecret(name));
  }

  createAccessToken(
    input: Parameters<Accounts['createAccessToken']>[0],
  ): Promise<{ token: AccessToken; secret: string }> {
    return this.#machines.createAccessToken(input);
  }

  listAccessTokens(username: string): Promise<AccessToken[]> {
    return this.#machines.listAccessTokens(username);
  }

  revokeAccessToken(username: string, id: string): Promise<void> {
    return this.#changingCredentials(username, this.#machines.revokeAccessToken(username, id));
  }

  // --- single sign-on (OidcAccounts) -----------------------------------------------------------------------

  signInWithOidc(profile: OidcProfile, adminGroup: string): Promise<{ user: User; identity: Identity }> {
    return this.#oidc.signIn(profile, adminGroup);
  }

  createCliSecret(username: string): Promise<{ secret: string; createdAt: number }> {
    // A new secret replaces the old one.
    return this.#changingCredentials(username, this.#oidc.createCliSecret(username));
  }

  cliSecretInfo(username: string): Promise<CliSecretInfo | null> {
    return this.#oidc.cliSecretInfo(username);
  }

  revokeCliSecret(username: string): Promise<void> {
    return this.#changingCredentials(username, this.#oidc.revokeCliSecret(username));
  }

  // --- sessions (SessionRecords) ---------------------------------------------------------------------------

  openSession(input: Parameters<Accounts['openSession']>[0]): Promise<void> {
    return this.#sessions.open(input);
  }

  useSession(id: string, subject: string): Promise<boolean> {
    return this.#sessions.use(id, subject);
  }

  listSessions(username: string): Promise<Session[]> {
    return this.#sessions.list(username);
  }

  revokeSession(username: string, id: string): Promise<void> {
    return this.#sessions.revoke(username, id);
  }

  signOutEverywhere(username: string): Promise<{ revoked: number; generation: number }> {
    return this.#sessions.signOutEverywhere(username);
  }

  sessionGeneration(subject: string): Promise<number> {
    return this.#sessions.generation(subject);
  }
}
