import { z } from 'zod';
import { ACTIONS } from '../auth/index.js';
import { allows, isMember, policyOf, requireProjectAction } from './access.js';
import {
  ArtifactDetail,
  ArtifactList,
  RepositoryList,
  RepositoryListQuery,
  RepositoryParams,
} from './catalog-schemas.js';
import { pageRequest } from './pagination.js';
import { inRepository } from './repository-path.js';
import { type ApiRoute, preamble, route } from './route.js';
import { named, PageQuery, ProjectParams } from './schemas.js';
import { ArtifactParams } from './signature-schemas.js';

const tag = 'repositories';
const FOR_PULLERS = preamble({
  tag,
  gate: 'public',
  access: 'whoever may pull from the project: anyone for a public project',
});

const ProjectAccess = named(
  'ProjectAccess',
  'What the caller may do in a project (so a client offers only what the server would allow).',
  z.object({
    project: z.string(),
    actions: z.array(z.enum(ACTIONS)),
    member: z
      .boolean()
      .describe(
        'whether the caller has a role in it (or is a system administrator): what reading its settings needs',
      ),
  }),
);

/** Repositories and artifacts to browse: keyset-paged listings and one artifact's manifest, config and layers. */
export const catalogRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/projects/{name}/access',
    operationId: 'getProjectAccess',
    summary: 'What the caller may do in a project',
    task: "reading one's access to a project",
    ...FOR_PULLERS,
    params: ProjectParams,
    success: { status: 200, description: 'The actions allowed', schema: ProjectAccess },
    errors: [404],
    async handler(call) {
      const policy = await requireProjectAction(call, call.params.name, 'pull', 'reading a project');
      return {
        project: policy.name,
        actions: ACTIONS.filter((action) => allows(call, policy, action)),
        member: isMember(call, policy),
      };
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/repositories',
    operationId: 'listRepositories',
    summary: "List a project's repositories by name, with a substring search",
    task: 'listing repositories',
    ...FOR_PULLERS,
    project: 'pull',
    params: ProjectParams,
    query: RepositoryListQuery,
    success: { status: 200, description: 'One page of repositories', schema: RepositoryList },
    errors: [404],
    async handler(call) {
      const { params, query, options } = call;
      return options.catalog.repositories(params.name, {
        ...pageRequest(query),
        ...(query.q !== undefined && { search: query.q }),
      });
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/repositories/{repo}/artifacts',
    operationId: 'listArtifacts',
    summary: "List a repository's artifacts, newest push first, with tags, sizes and platforms",
    task: 'listing artifacts',
    ...FOR_PULLERS,
    project: 'pull',
    params: RepositoryParams,
    query: PageQuery,
    success: { status: 200, description: 'One page of artifacts', schema: ArtifactList },
    errors: [404],
    async handler(call) {
      const { params, query, options } = call;
      return inRepository(params.name, params.repo, async (repository) => ({
        repository,
        ...(await options.catalog.artifacts(repository, pageRequest(query))),
      }));
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/repositories/{repo}/artifacts/{reference}/manifest',
    operationId: 'getArtifactManifest',
    summary: "An artifact's manifest and config as stored, its layers and its referrers",
    task: 'reading an artifact',
    ...FOR_PULLERS,
    params: ArtifactParams,
    success: { status: 200, description: 'The artifact', schema: ArtifactDetail },
    errors: [404],
    async handler(call) {
      const { name, repo, reference } = call.params;
      await policyOf(call, name);
      await requireProjectAction(call, name, 'pull', 'reading an artifact');
      return inRepository(name, repo, (repository) => call.options.catalog.detail(repository, reference));
    },
  }),
];
