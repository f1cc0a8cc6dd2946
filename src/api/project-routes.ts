import type { z } from 'zod';
import { AuthError, type Identity, IpAllowlist } from '../auth/index.js';
import { RegistryError } from '../registry/index.js';
import type { ProxyInput } from '../replication/proxy/index.js';
import { denied, isRestricted, isSystemAdmin, PROJECT_ADMINS, RESTRICTED, SYSTEM_ADMINS } from './access.js';
import type { ApiOptions } from './options.js';
import { linkNext, pageOf, pageRequest } from './pagination.js';
import { type ApiRoute, field, preamble, route } from './route.js';
import {
  CreateProjectBody,
  Member,
  MemberList,
  MemberParams,
  PageQuery,
  Project,
  ProjectList,
  ProjectListQuery,
  ProjectParams,
  SetMemberBody,
  UpdateProjectBody,
} from './schemas.js';

const tag = 'projects';
const FOR_ADMINS = preamble({ tag, gate: 'authenticated', access: PROJECT_ADMINS });

/** A 400 naming the bad entry, before anything is stored. */
function checkAllowlist(list: readonly string[] | null | undefined): void {
  if (!list) return;
  try {
    IpAllowlist.parse(list);
  } catch (error) {
    if (error instanceof AuthError) {
      throw new RegistryError('INVALID_REQUEST', { message: error.message, detail: error.detail });
    }
    throw error;
  }
}

/**
 * Binding a project to an upstream makes this server fetch from that URL: system administrators only. A 400
 * naming what is wrong, before anything is stored.
 */
function checkProxy(call: { identity: Identity; options: ApiOptions }, proxy: ProxyInput): void {
  if (!isSystemAdmin(call.identity)) {
    throw denied('making a project a pull-through cache needs system administrator rights');
  }
  if (!call.options.proxies) {
    throw new RegistryError('INVALID_REQUEST', {
      message: 'pull-through caching is not available on this server',
    });
  }
  call.options.proxies.check(proxy);
}

/** Groups match case-insensitively, as authorize() matches them. */
function findMember(members: readonly z.output<typeof Member>[], kind: string, name: string) {
  const wanted = kind === 'group' ? name.toLowerCase() : name;
  return members.find(
    (m) => m.kind === kind && (kind === 'group' ? m.name.toLowerCase() : m.name) === wanted,
  );
}

export const projectRoutes: ApiRoute[] = [
  route({
    method: 'POST',
    path: '/projects',
    operationId: 'createProject',
    summary: 'Create a project',
    task: 'creating a project',
    tag,
    gate: 'authenticated',
    access:
      'system administrators; any logged-in user when the server allows users to create projects (they become its project administrator)',
    body: CreateProjectBody,
    success: { status: 201, description: 'The new project', schema: Project },
    errors: [409],
    audit: { action: 'project.create', resource: (_params, body) => field(body, 'name') },
    async handler(call) {
      const { identity, body, options } = call;
      const admin = isSystemAdmin(identity);
      if (isRestricted(identity)) throw denied(`creating a project: ${RESTRICTED}`);
      if (!admin && !(options.usersCanCreateProjects && identity.kind === 'user')) {
        throw denied('creating a project needs system administrator rights');
      }
      checkAllowlist(body.pushAllowlist);
      if (body.proxy) checkProxy(call, body.proxy);
      const project = await options.accounts.createProject({
        name: body.name,
        ...(body.public !== undefined && { public: body.public }),
        ...(body.pushAllowlist !== undefined && { pushAllowlist: body.pushAllowlist }),
      });
      if (!admin && identity.kind === 'user') {
        await options.accounts.setMember(project.name, {
          kind: 'user',
          name: identity.username,
          role: 'projectAdmin',
        });
      }
      const proxy = body.proxy ? await options.proxies?.configure(project.name, body.proxy) : undefined;
      call.auditDetail = {
        public: project.public,
        pushAllowlist: project.pushAllowlist,
        ...(proxy && { proxy: proxy.url }),
      };
      return proxy ? { ...project, proxy } : project;
    },
  }),
  route({
    method: 'GET',
    path: '/projects',
    operationId: 'listProjects',
    summary: 'List the projects the caller can see',
    task: 'listing projects',
    tag,
    gate: 'public',
    access: 'anyone: anonymous callers see public projects, members also theirs, system administrators all',
    query: ProjectListQuery,
    success: { status: 200, description: 'One page of projects, by name', schema: ProjectList },
    async handler({ identity, options, query, request, reply }) {
      const page = await options.accounts.listProjects({
        ...pageRequest(query),
        visibleTo: identity,
        ...(query.q !== undefined && { search: query.q }),
      });
      linkNext(request, reply, page.next);
      return page;
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}',
    operationId: 'getProject',
    summary: 'Read a project',
    task: 'reading a project',
    tag,
    gate: 'public',
    access: 'whoever may pull from it: anyone for a public project',
    project: 'pull',
    params: ProjectParams,
    success: { status: 200, description: 'The project', schema: Project },
    errors: [401, 403, 404],
    async handler(call) {
      const project = await call.options.accounts.getProject(call.params.name);
      const proxy = await call.options.proxies?.view(project.name);
      return proxy === undefined ? project : { ...project, proxy };
    },
  }),
  route({
    method: 'PATCH',
    path: '/projects/{name}',
    operationId: 'updateProject',
    summary: 'Make a project public or private, set its push allowlist',
    task: "changing a project's settings",
    ...FOR_ADMINS,
    project: 'project:settings',
    params: ProjectParams,
    body: UpdateProjectBody,
    success: { status: 200, description: 'The project as changed', schema: Project },
    errors: [404],
    audit: { action: 'project.update', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { params, body } = call;
      checkAllowlist(body.pushAllowlist);
      const { proxy: upstream, ...changes } = body;
      if (upstream) checkProxy(call, upstream);
      else if (upstream === null && !isSystemAdmin(call.identity)) {
        throw denied('changing whether a project is a pull-through cache needs system administrator rights');
      }
      call.auditDetail = { ...changes, ...(upstream !== undefined && { proxy: upstream?.url ?? null }) };
      const project =
        Object.keys(changes).length > 0
          ? await call.options.accounts.updateProject(params.name, changes)
          : await call.options.accounts.getProject(params.name);
      if (upstream === undefined) return project;
      const proxy = await call.options.proxies?.configure(project.name, upstream);
      return { ...project, proxy: proxy ?? null };
    },
  }),
  route({
    method: 'DELETE',
    path: '/projects/{name}',
    operationId: 'deleteProject',
    summary: 'Delete a project',
    task: 'deleting a project',
    tag,
    gate: 'systemAdmin',
    access: SYSTEM_ADMINS,
    params: ProjectParams,
    success: { status: 204, description: 'Deleted' },
    errors: [404, 409],
    audit: { action: 'project.delete', resource: (params) => params.name ?? '?' },
    async handler({ params, options }) {
      await options.accounts.deleteProject(params.name);
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/members',
    operationId: 'listMembers',
    summary: "List a project's members",
    task: "listing a project's members",
    ...FOR_ADMINS,
    project: 'members:manage',
    params: ProjectParams,
    query: PageQuery,
    success: { status: 200, description: 'One page of members, by kind and name', schema: MemberList },
    errors: [404],
    async handler(call) {
      const { params, options, query, request, reply } = call;
      const members = await options.accounts.listMembers(params.name);
      const page = pageOf(members, (m) => `${m.kind}\u0000${m.name}`, pageRequest(query));
      linkNext(request, reply, page.next);
      return page;
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/members/{kind}/{member}',
    operationId: 'getMember',
    summary: "Read a member's role",
    task: "reading a project's members",
    ...FOR_ADMINS,
    project: 'members:manage',
    params: MemberParams,
    success: { status: 200, description: 'The member', schema: Member },
    errors: [404],
    async handler(call) {
      const { name, kind, member } = call.params;
      const found = findMember(await call.options.accounts.listMembers(name), kind, member);
      if (!found) {
        throw new RegistryError('NOT_FOUND', { message: `${kind} '${member}' is not a member of '${name}'` });
      }
      return found;
    },
  }),
  route({
    method: 'PUT',
    path: '/projects/{name}/members/{kind}/{member}',
    operationId: 'setMember',
    summary: 'Add a member or change their role',
    task: "managing a project's members",
    ...FOR_ADMINS,
    project: 'members:manage',
    params: MemberParams,
    body: SetMemberBody,
    success: { status: 200, description: 'The member', schema: Member },
    errors: [404],
    audit: { action: 'member.set', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name, kind, member } = call.params;
      const entry = { kind, name: member, role: call.body.role };
      call.auditDetail = entry;
      await call.options.accounts.setMember(name, entry);
      // As stored: group names are kept lowercase.
      return findMember(await call.options.accounts.listMembers(name), kind, member) ?? entry;
    },
  }),
  route({
    method: 'DELETE',
    path: '/projects/{name}/members/{kind}/{member}',
    operationId: 'removeMember',
    summary: 'Remove a member',
    task: "managing a project's members",
    ...FOR_ADMINS,
    project: 'members:manage',
    params: MemberParams,
    success: { status: 204, description: 'Removed' },
    errors: [404],
    audit: { action: 'member.remove', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name, kind, member } = call.params;
      call.auditDetail = { kind, name: member };
      await call.options.accounts.removeMember(name, kind, member);
    },
  }),
];
