import type { Kysely } from 'kysely';
import { AccessTokenRows } from './access-token-rows.js';
import type { Db } from './account-columns.js';
import { ProjectRows } from './project-rows.js';
import { RobotRows } from './robot-rows.js';
import type { Database } from './schema.js';
import { SessionRows } from './session-rows.js';
import { UserRows } from './user-rows.js';

export type { AccessTokenRow } from './access-token-rows.js';
export type { PermissionRow } from './account-columns.js';
export type { MemberRow, ProjectRow, ProjectVisibility } from './project-rows.js';
export type { RobotChanges, RobotRow } from './robot-rows.js';
export type { SessionRow } from './session-rows.js';
export type { NewUserRow, UserChanges, UserRow } from './user-rows.js';

/**
 * Rows of users, projects, members, robots and personal access tokens (migration 0002), one helper per table.
 * The same queries run on SQLite and PostgreSQL: booleans are 0/1, lists are JSON text, names compare
 * bytewise, and uniqueness is decided by the database (ON CONFLICT DO NOTHING), so several nodes may race.
 */
export class AccountsStore {
  readonly users: UserRows;
  readonly projects: ProjectRows;
  readonly robots: RobotRows;
  readonly tokens: AccessTokenRows;
  /** Refresh tokens (sessions) and session generations. */
  readonly sessions: SessionRows;

  constructor(private readonly db: Db) {
    this.users = new UserRows(db);
    this.projects = new ProjectRows(db);
    this.robots = new RobotRows(db);
    this.tokens = new AccessTokenRows(db);
    this.sessions = new SessionRows(db);
  }

  /** Runs `work` in one transaction, with a store bound to it. */
  transaction<T>(work: (store: AccountsStore) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return work(this);
    return (this.db as Kysely<Database>).transaction().execute((trx) => work(new AccountsStore(trx)));
  }

  /**
   * Deletes a project with its members, and takes the project out of every robot's and access token's
   * grants, so that a project created later under the same name does not inherit them. Refuses while
   * repositories live in it (`topLevel`: the default project also owns names without a slash).
   */
  deleteProject(name: string, topLevel: boolean): Promise<'deleted' | 'not-found' | 'has-repositories'> {
    return this.transaction(async (store) => {
      const project = await store.projects.byName(name);
      if (!project) return 'not-found';
      if (await store.projects.hasRepositories(name, topLevel)) return 'has-repositories';
      await store.projects.delete(project.id);
      for (const robot of await store.robots.grantingProject(name)) {
        const permissions = robot.permissions.filter((permission) => permission.project !== name);
        await store.robots.update(robot.name, { permissions });
      }
      for (const token of await store.tokens.grantingProject(name)) {
        const permissions = (token.permissions ?? []).filter((permission) => permission.project !== name);
        await store.tokens.setPermissions(token.id, permissions);
      }
      return 'deleted';
    });
  }
}
