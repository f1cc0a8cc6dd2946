import { createSecretToken, type RobotPermission } from '../auth/index.js';
import type { AccountsStore } from '../metadata/index.js';
import { toAccessToken, toRobot } from './account-records.js';
import {
  checkDescription,
  checkExpiry,
  checkPermissions,
  checkRobotName,
  checkTokenName,
} from './account-validation.js';
import { keysetPage } from './page-cursor.js';
import { type AccessToken, AccountError, type Page, type PageRequest, type Robot } from './types.js';

const notFound = (what: string) => new AccountError('NOT_FOUND', `${what} does not exist`);
const MAX_CREATED_BY = 256;

/**
 * Robot accounts and personal access tokens: credentials for machines, `berth_<id>_<secret>`, shown once
 * and stored as a SHA-256 of the secret (see auth/secret-token.ts).
 */
export class MachineCredentials {
  constructor(
    private readonly store: AccountsStore,
    private readonly now: () => number,
  ) {}

  // --- robots ----------------------------------------------------------------------------------------------

  async createRobot(input: {
    name: string;
    description?: string;
    permissions: RobotPermission[];
    expiresAt?: number | null;
    createdBy: string;
  }): Promise<{ robot: Robot; secret: string }> {
    const name = checkRobotName(input.name);
    const description = checkDescription(input.description);
    const permissions = await this.#grants(input.permissions);
    const now = this.now();
    const expiresAt = checkExpiry(input.expiresAt, now);
    if (
      typeof input.createdBy !== 'string' ||
      input.createdBy === '' ||
      input.createdBy.length > MAX_CREATED_BY
    ) {
      throw new AccountError('INVALID', 'createdBy must name who creates the robot');
    }
    const secret = createSecretToken();
    const row = await this.store.robots.insert({
      name,
      description,
      secretId: secret.id,
      secretHash: secret.hash,
      permissions,
      expiresAt,
      createdBy: input.createdBy,
      createdAt: now,
    });
    if (!row) throw new AccountError('CONFLICT', `robot ${name} already exists`);
    return { robot: toRobot(row), secret: secret.token };
  }

  /** With `project`: the robots granted something on that project by name (not the `*` ones). */
  async listRobots(page: PageRequest & { project?: string }): Promise<Page<Robot>> {
    const { project } = page;
    if (project !== undefined && project !== '*' && !(await this.store.projects.byName(project))) {
      throw notFound(`project ${project}`);
    }
    return keysetPage(
      page,
      (limit, after) => this.store.robots.list(limit, after, project),
      (row) => row.name,
      toRobot,
    );
  }

  async getRobot(name: string): Promise<Robot> {
    const row = await this.store.robots.byName(name);
    if (!row) throw notFound(`robot ${name}`);
    return toRobot(row);
  }

  async updateRobot(
    name: string,
    changes: { disabled?: boolean; permissions?: RobotPermission[]; expiresAt?: number | null },
  ): Promise<Robot> {
    const permissions =
      changes.permissions === undefined ? undefined : await this.#grants(changes.permissions);
    const expiresAt =
      changes.expiresAt === undefined ? undefined : checkExpiry(changes.expiresAt, this.now());
    const row = await this.store.robots.update(name, {
      ...(changes.disabled === undefined ? {} : { disabled: changes.disabled }),
      ...(permissions === undefined ? {} : { permissions }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    if (!row) throw notFound(`robot ${name}`);
    return toRobot(row);
  }

  async deleteRobot(name: string): Promise<void> {
    if (!(await this.store.robots.delete(name))) throw notFound(`robot ${name}`);
  }

  async rotateRobotSecret(name: string): Promise<string> {
    const secret = createSecretToken();
    const row = await this.store.robots.update(name, { secretId: secret.id, secretHash: secret.hash });
    if (!row) throw notFound(`robot ${name}`);
    return secret.token;
  }

  // --- personal access tokens ------------------------------------------------------------------------------

  async createAccessToken(input: {
    username: string;
    name: string;
    permissions?: RobotPermission[] | null;
    expiresAt?: number | null;
  }): Promise<{ token: AccessToken; secret: string }> {
    const name = checkTokenName(input.name);
    const permissions =
      input.permissions === undefined || input.permissions === null
        ? null
        : await this.#grants(input.permissions);
    const now = this.now();
    const expiresAt = checkExpiry(input.expiresAt, now);
    const user = await this.store.users.byName(input.username);
    if (!user) throw notFound(`user ${input.username}`);
    const existing = await this.store.tokens.ofUser(user.id);
    if (existing.some((token) => token.name === name)) {
      throw new AccountError(
        'CONFLICT',
        `${user.username} already has a token named ${JSON.stringify(name)}`,
      );
    }
    const secret = createSecretToken();
    const row = await this.store.tokens.insert({
      id: secret.id,
      userId: user.id,
      name,
      secretHash: secret.hash,
      permissions,
      expiresAt,
      createdAt: now,
    });
    return { token: toAccessToken(row, user.username), secret: secret.token };
  }

  async listAccessTokens(username: string): Promise<AccessToken[]> {
    const user = await this.store.users.byName(username);
    if (!user) throw notFound(`user ${username}`);
    return (await this.store.tokens.ofUser(user.id)).map((row) => toAccessToken(row, user.username));
  }

  async revokeAccessToken(username: string, id: string): Promise<void> {
    const user = await this.store.users.byName(username);
    if (!user) throw notFound(`user ${username}`);
    if (!(await this.store.tokens.delete(user.id, id))) throw notFound(`access token ${id} of ${username}`);
  }

  /** Validated grants on projects that exist (or `*`); at least one. */
  async #grants(permissions: readonly RobotPermission[]): Promise<RobotPermission[]> {
    const checked = checkPermissions(permissions);
    if (checked.length === 0) throw new AccountError('INVALID', 'at least one permission is needed');
    const named = checked.map((p) => p.project).filter((project) => project !== '*');
    const existing = await this.store.projects.existing(named);
    const missing = named.find((project) => !existing.has(project));
    if (missing !== undefined) throw new AccountError('INVALID', `project ${missing} does not exist`);
    return checked;
  }
}
