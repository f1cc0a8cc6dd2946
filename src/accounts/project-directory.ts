import { DEFAULT_PROJECT, type Identity, isProjectRole, type ProjectPolicy } from '../auth/index.js';
import type { AccountsStore } from '../metadata/index.js';
import { toProject } from './account-records.js';
import {
  checkAllowlist,
  checkGroupName,
  checkProjectName,
  checkRole,
  checkUsername,
} from './account-validation.js';
import { keysetPage } from './page-cursor.js';
import { visibilityFor } from './project-visibility.js';
import { AccountError, type Member, type Page, type PageRequest, type Project } from './types.js';

const notFound = (what: string) => new AccountError('NOT_FOUND', `${what} does not exist`);

/** Projects, their members, and the policies and visibility access decisions are made from. */
export class ProjectDirectory {
  constructor(
    private readonly store: AccountsStore,
    private readonly now: () => number,
    /** With LDAP, a directory user may be given a role before their first sign-in creates their row. */
    private readonly ldapEnabled: boolean,
    /** Told once a project's row or members changed (access checks cache projects). */
    private readonly changed: (project: string) => void = () => {},
  ) {}

  async projectPolicy(name: string): Promise<ProjectPolicy | undefined> {
    const found = await this.store.projects.withMembers(name);
    if (!found) return undefined;
    return {
      name: found.project.name,
      public: found.project.public,
      // A stored role this version does not know grants nothing.
      members: found.members.flatMap((m) =>
        isProjectRole(m.role) ? [{ kind: m.kind, name: m.name, role: m.role }] : [],
      ),
      pushAllowlist: found.project.pushAllowlist,
    };
  }

  async visibleProjects(identity: Identity): Promise<string[] | 'all'> {
    const visibility = visibilityFor(identity, this.now());
    return visibility === 'all' ? 'all' : this.store.projects.visibleNames(visibility);
  }

  async createProject(input: {
    name: string;
    public?: boolean;
    pushAllowlist?: string[] | null;
  }): Promise<Project> {
    const name = checkProjectName(input.name);
    const row = await this.store.projects.insert({
      name,
      public: input.public ?? false,
      pushAllowlist: checkAllowlist(input.pushAllowlist),
      now: this.now(),
    });
    if (!row) throw new AccountError('CONFLICT', `project ${name} already exists`);
    this.changed(name);
    return toProject(row);
  }

  listProjects(page: PageRequest & { visibleTo?: Identity; search?: string }): Promise<Page<Project>> {
    const visibility = page.visibleTo ? visibilityFor(page.visibleTo, this.now()) : 'all';
    const filter = visibility === 'all' ? undefined : visibility;
    return keysetPage(
      page,
      // Project names are lowercase: the search is too, so SQLite and PostgreSQL (whose LIKE minds case) agree.
      (limit, after) => this.store.projects.list(limit, after, filter, page.search?.toLowerCase()),
      (row) => row.name,
      toProject,
    );
  }

  async getProject(name: string): Promise<Project> {
    const row = await this.store.projects.byName(name);
    if (!row) throw notFound(`project ${name}`);
    return toProject(row);
  }

  async updateProject(
    name: string,
    changes: { public?: boolean; pushAllowlist?: string[] | null },
  ): Promise<Project> {
    const row = await this.store.projects.update(name, {
      ...(changes.public === undefined ? {} : { public: changes.public }),
      ...(changes.pushAllowlist === undefined
        ? {}
        : { pushAllowlist: checkAllowlist(changes.pushAllowlist) }),
    });
    if (!row) throw notFound(`project ${name}`);
    this.changed(row.name);
    return toProject(row);
  }

  async deleteProject(name: string): Promise<void> {
    const result = await this.store.deleteProject(name, name === DEFAULT_PROJECT);
    if (result === 'not-found') throw notFound(`project ${name}`);
    if (result === 'has-repositories') {
      throw new AccountError(
        'CONFLICT',
        `project ${name} still has repositories: delete them before deleting the project`,
      );
    }
    this.changed(name);
  }

  async listMembers(project: string): Promise<Member[]> {
    const row = await this.store.projects.byName(project);
    if (!row) throw notFound(`project ${project}`);
    const members = await this.store.projects.members(row.id);
    return members.flatMap((m) =>
      isProjectRole(m.role) ? [{ kind: m.kind, name: m.name, role: m.role }] : [],
    );
  }

  async setMember(project: string, member: Member): Promise<void> {
    const role = checkRole(member.role);
    const name = await this.#memberName(member.kind, member.name);
    const row = await this.store.projects.byName(project);
    if (!row) throw notFound(`project ${project}`);
    await this.store.projects.setMember(row.id, { kind: member.kind, name, role }, this.now());
    this.changed(row.name);
  }

  async removeMember(project: string, kind: Member['kind'], name: string): Promise<void> {
    const row = await this.store.projects.byName(project);
    if (!row) throw notFound(`project ${project}`);
    const key = kind === 'group' ? name.toLowerCase() : name;
    if (!(await this.store.projects.removeMember(row.id, kind, key))) {
      throw notFound(`${kind} ${name} in project ${project}`);
    }
    this.changed(row.name);
  }

  /**
   * A member's stored name: groups lowercase (matched case-insensitively); users must exist, unless LDAP is
   * on, where a directory user may be given a role before their first login.
   */
  async #memberName(kind: string, name: string): Promise<string> {
    if (kind === 'group') return checkGroupName(name);
    if (kind !== 'user') {
      throw new AccountError('INVALID', `invalid member kind ${JSON.stringify(kind)}: user or group`);
    }
    if (name.startsWith('robot$')) {
      throw new AccountError('INVALID', 'robots are not members: they carry their own permissions');
    }
    checkUsername(name);
    if (!this.ldapEnabled && !(await this.store.users.byName(name))) throw notFound(`user ${name}`);
    return name;
  }
}
