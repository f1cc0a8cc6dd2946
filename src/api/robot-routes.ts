import { RegistryError } from '../registry/index.js';
import {
  administersAnyOf,
  denied,
  isSystemAdmin,
  loginOf,
  requireProjectAction,
  requireRobotAuthority,
  robotName,
} from './access.js';
import { linkNext, pageRequest } from './pagination.js';
import { type ApiRoute, field, preamble, route } from './route.js';
import {
  CreatedRobot,
  CreateRobotBody,
  Robot,
  RobotList,
  RobotListQuery,
  RobotParams,
  RobotSecret,
  UpdateRobotBody,
} from './schemas.js';

const tag = 'robots';
const MANAGERS =
  'system administrators; project administrators when every permission of the robot is on a project they administer';
const FOR_MANAGERS = preamble({ tag, gate: 'authenticated', access: MANAGERS });

/** Refuses an expiry that has already passed (the account would be dead on arrival). */
export function checkExpiry(expiresAt: number | null | undefined): void {
  if (typeof expiresAt === 'number' && expiresAt <= Date.now()) {
    throw new RegistryError('INVALID_REQUEST', {
      message: 'invalid request: body.expiresAt: must be in the future',
      detail: { expiresAt },
    });
  }
}

const robotResource = (params: Record<string, string>) =>
  `robot:${(params.name ?? '?').replace(/^robot\$/, '')}`;

export const robotRoutes: ApiRoute[] = [
  route({
    method: 'POST',
    path: '/robots',
    operationId: 'createRobot',
    summary: 'Create a robot account; its secret is in the answer, and only there',
    task: 'creating a robot',
    ...FOR_MANAGERS,
    body: CreateRobotBody,
    success: { status: 201, description: 'The robot, its login name and its secret', schema: CreatedRobot },
    errors: [404, 409],
    audit: { action: 'robot.create', resource: (_params, body) => `robot:${field(body, 'name')}` },
    async handler(call) {
      const { body, identity, options } = call;
      await requireRobotAuthority(call, body.permissions, 'creating a robot', true);
      checkExpiry(body.expiresAt);
      const { robot, secret } = await options.accounts.createRobot({
        name: body.name,
        ...(body.description !== undefined && { description: body.description }),
        permissions: body.permissions,
        expiresAt: body.expiresAt ?? null,
        createdBy: loginOf(identity),
      });
      call.auditDetail = { permissions: robot.permissions, expiresAt: robot.expiresAt };
      return { robot, login: `robot$${robot.name}`, secret };
    },
  }),
  route({
    method: 'GET',
    path: '/robots',
    operationId: 'listRobots',
    summary: 'List robot accounts',
    task: 'listing robots',
    tag,
    gate: 'authenticated',
    access: 'system administrators; project administrators with ?project= naming a project they administer',
    query: RobotListQuery,
    success: { status: 200, description: 'One page of robots, by name', schema: RobotList },
    errors: [404],
    async handler(call) {
      const { query, options, request, reply } = call;
      if (!isSystemAdmin(call.identity)) {
        if (query.project === undefined) {
          throw denied(
            'listing every robot needs system administrator rights; project administrators add ?project=<name>',
          );
        }
        await requireProjectAction(call, query.project, 'members:manage', "listing a project's robots");
      }
      const page = await options.accounts.listRobots({
        ...pageRequest(query),
        ...(query.project !== undefined && { project: query.project }),
      });
      linkNext(request, reply, page.next);
      return page;
    },
  }),
  route({
    method: 'GET',
    path: '/robots/{name}',
    operationId: 'getRobot',
    summary: 'Read a robot account',
    task: 'reading a robot',
    tag,
    gate: 'authenticated',
    access:
      'system administrators; project administrators of a project the robot has a permission on; the robot itself',
    params: RobotParams,
    success: { status: 200, description: 'The robot', schema: Robot },
    errors: [404],
    async handler(call) {
      const robot = await call.options.accounts.getRobot(call.params.name);
      const itself = call.identity.kind === 'robot' && robotName(call.identity.name) === robot.name;
      if (!itself && !(await administersAnyOf(call, robot.permissions))) {
        throw denied(
          `reading robot '${robot.name}' needs the projectAdmin role in one of its projects, or system administrator rights`,
        );
      }
      return robot;
    },
  }),
  route({
    method: 'PATCH',
    path: '/robots/{name}',
    operationId: 'updateRobot',
    summary: 'Disable or enable a robot, change its permissions or expiry',
    task: 'changing a robot',
    tag,
    gate: 'authenticated',
    access: `${MANAGERS} (for its permissions both before and after the change)`,
    params: RobotParams,
    body: UpdateRobotBody,
    success: { status: 200, description: 'The robot as changed', schema: Robot },
    errors: [404],
    audit: { action: 'robot.update', resource: robotResource },
    async handler(call) {
      const { params, body, options } = call;
      const robot = await options.accounts.getRobot(params.name);
      await requireRobotAuthority(call, robot.permissions, `changing robot '${robot.name}'`, false);
      if (body.permissions) {
        await requireRobotAuthority(call, body.permissions, `changing robot '${robot.name}'`, true);
      }
      checkExpiry(body.expiresAt);
      call.auditDetail = body;
      return options.accounts.updateRobot(robot.name, body);
    },
  }),
  route({
    method: 'DELETE',
    path: '/robots/{name}',
    operationId: 'deleteRobot',
    summary: 'Delete a robot account',
    task: 'deleting a robot',
    ...FOR_MANAGERS,
    params: RobotParams,
    success: { status: 204, description: 'Deleted' },
    errors: [404],
    audit: { action: 'robot.delete', resource: robotResource },
    async handler(call) {
      const robot = await call.options.accounts.getRobot(call.params.name);
      await requireRobotAuthority(call, robot.permissions, `deleting robot '${robot.name}'`, false);
      await call.options.accounts.deleteRobot(robot.name);
    },
  }),
  route({
    method: 'POST',
    path: '/robots/{name}/secret',
    operationId: 'rotateRobotSecret',
    summary:
      'Give a robot a new secret (the old one stops working); the secret is in the answer, and only there',
    task: 'rotating a robot secret',
    ...FOR_MANAGERS,
    params: RobotParams,
    success: { status: 200, description: 'The new secret', schema: RobotSecret },
    errors: [404],
    audit: { action: 'robot.secret', resource: robotResource },
    async handler(call) {
      const robot = await call.options.accounts.getRobot(call.params.name);
      await requireRobotAuthority(call, robot.permissions, `rotating robot '${robot.name}'s secret`, false);
      const secret = await call.options.accounts.rotateRobotSecret(robot.name);
      return { login: `robot$${robot.name}`, secret };
    },
  }),
];
