import type { z } from 'zod';
import { parseSecretToken } from '../auth/index.js';
import { RegistryError } from '../registry/index.js';
import { denied, isSystemAdmin, isUser, loginOf, robotName, SYSTEM_ADMINS, unauthorized } from './access.js';
import { linkNext, pageRequest } from './pagination.js';
import { type ApiRoute, field, preamble, route } from './route.js';
import {
  CreateUserBody,
  Me,
  SetPasswordBody,
  UpdateUserBody,
  User,
  UserList,
  UsernameParams,
} from './schemas.js';
import { UserListQuery } from './system-schemas.js';

const tag = 'users';
const FOR_SYSTEM_ADMINS = preamble({ tag, gate: 'systemAdmin', access: SYSTEM_ADMINS });

export const userRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/me',
    operationId: 'getMe',
    summary: 'Who the credentials belong to',
    task: 'asking who you are',
    tag,
    gate: 'authenticated',
    access: 'any logged-in user or robot',
    success: { status: 200, description: 'The caller', schema: Me },
    async handler({ identity, options }): Promise<z.output<typeof Me>> {
      if (identity.kind === 'robot') {
        return {
          kind: 'robot',
          name: robotName(identity.name),
          login: loginOf(identity),
          permissions: identity.permissions.map((p) => ({ project: p.project, actions: [...p.actions] })),
          expiresAt: identity.expiresAt?.getTime() ?? null,
        };
      }
      if (identity.kind !== 'user') throw unauthorized();
      // A bearer token's subject may outlive its row; the identity is still what the request carries.
      const user = await options.accounts.getUser(identity.username).catch(() => undefined);
      return {
        kind: 'user',
        username: identity.username,
        systemAdmin: identity.systemAdmin === true,
        groups: [...(identity.groups ?? [])],
        email: user?.email ?? null,
        source: user?.source ?? null,
        tokenPermissions: identity.limit
          ? identity.limit.map((p) => ({ project: p.project, actions: [...p.actions] }))
          : null,
        cliSecret:
          user?.source === 'oidc' && options.accounts.cliSecretInfo
            ? await options.accounts.cliSecretInfo(identity.username)
            : null,
      };
    },
  }),
  route({
    method: 'POST',
    path: '/users',
    operationId: 'createUser',
    summary: 'Create a local user',
    task: 'creating a user',
    ...FOR_SYSTEM_ADMINS,
    body: CreateUserBody,
    success: { status: 201, description: 'The new user', schema: User },
    errors: [409],
    audit: { action: 'user.create', resource: (_params, body) => `user:${field(body, 'username')}` },
    async handler(call) {
      const { username, password, email, systemAdmin } = call.body;
      const user = await call.options.accounts.createUser({
        username,
        password,
        ...(email !== undefined && { email }),
        ...(systemAdmin !== undefined && { systemAdmin }),
      });
      call.auditDetail = { email: user.email, systemAdmin: user.systemAdmin };
      return user;
    },
  }),
  route({
    method: 'GET',
    path: '/users',
    operationId: 'listUsers',
    summary: 'List users, optionally only those whose username or e-mail address contains `q`',
    task: 'listing users',
    ...FOR_SYSTEM_ADMINS,
    query: UserListQuery,
    success: { status: 200, description: 'One page of users, by username', schema: UserList },
    async handler({ options, query, request, reply }) {
      const page = await options.accounts.listUsers({
        ...pageRequest(query),
        ...(query.q !== undefined && { search: query.q }),
      });
      linkNext(request, reply, page.next);
      return page;
    },
  }),
  route({
    method: 'GET',
    path: '/users/{username}',
    operationId: 'getUser',
    summary: 'Read a user',
    task: "reading another user's account",
    tag,
    gate: 'authenticated',
    access: 'system administrators, and the user themself',
    params: UsernameParams,
    success: { status: 200, description: 'The user', schema: User },
    errors: [404],
    async handler({ identity, params, options }) {
      if (!isUser(identity, params.username) && !isSystemAdmin(identity)) {
        throw denied("reading another user's account needs system administrator rights");
      }
      return options.accounts.getUser(params.username);
    },
  }),
  route({
    method: 'PATCH',
    path: '/users/{username}',
    operationId: 'updateUser',
    summary: 'Disable or enable a user, grant or revoke system administration, change the e-mail address',
    task: 'changing a user',
    tag,
    gate: 'systemAdmin',
    access: 'system administrators (the last enabled one cannot be disabled or demoted)',
    params: UsernameParams,
    body: UpdateUserBody,
    success: { status: 200, description: 'The user as changed', schema: User },
    errors: [404],
    audit: { action: 'user.update', resource: (params) => `user:${params.username}` },
    async handler(call) {
      const { params, body } = call;
      call.auditDetail = body;
      return call.options.accounts.updateUser(params.username, body);
    },
  }),
  route({
    method: 'DELETE',
    path: '/users/{username}',
    operationId: 'deleteUser',
    summary:
      'Delete a user: signed out everywhere, removed from every project, their tokens and CLI secret deleted',
    task: 'deleting a user',
    tag,
    gate: 'systemAdmin',
    access: 'system administrators, not themselves (the last enabled one cannot be deleted)',
    params: UsernameParams,
    success: { status: 204, description: 'Deleted' },
    errors: [404, 409],
    audit: { action: 'user.delete', resource: (params) => `user:${params.username}` },
    async handler({ identity, params, options }) {
      if (isUser(identity, params.username)) {
        throw new RegistryError('CONFLICT', {
          message: 'you cannot delete your own account: another system administrator can',
        });
      }
      await options.accounts.deleteUser(params.username);
    },
  }),
  route({
    method: 'PUT',
    path: '/users/{username}/password',
    operationId: 'setPassword',
    summary: 'Set a password',
    task: "changing another user's password",
    tag,
    gate: 'authenticated',
    access: 'the user themself, giving the current password; system administrators for anyone',
    params: UsernameParams,
    body: SetPasswordBody,
    success: { status: 204, description: 'Changed' },
    errors: [404],
    audit: { action: 'user.password', resource: (params) => `user:${params.username}` },
    async handler({ identity, params, body, options, request }) {
      if (!isSystemAdmin(identity)) {
        if (!isUser(identity, params.username)) {
          throw denied("changing another user's password needs system administrator rights");
        }
        // The password itself, not a personal access token, which also logs the user in. Throttled like a
        // login: whoever holds a session or token of the user must not get unlimited guesses here.
        const current = body.currentPassword;
        const valid =
          current !== undefined &&
          parseSecretToken(current) === null &&
          (await options.checkPassword(request, params.username, current))?.kind === 'user';
        if (!valid) throw denied('changing your password needs your current password (currentPassword)');
      }
      await options.accounts.setPassword(params.username, body.password);
    },
  }),
];
