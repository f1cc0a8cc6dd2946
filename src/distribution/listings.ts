import { projectOf } from '../auth/index.js';
import { MediaType, parseDigest, type Registry } from '../registry/index.js';
import { type Call, repositoryOf } from './context.js';
import { paginate, parsePage } from './pagination.js';

/** GET /v2/ (distribution-spec "API Version Check"). */
export async function apiVersion(call: Call): Promise<unknown> {
  return call.reply.code(200).type('application/json').send({});
}

/** GET /v2/<name>/tags/list?n=&last= : tags in lexical order, paginated with Link. */
export async function listTags(call: Call): Promise<unknown> {
  const name = repositoryOf(call);
  const manifests = call.options.registry.manifests;
  const page = await paginate(parsePage(call.query), `/v2/${name}/tags/list`, (limit, last) =>
    manifests.tags(name, limit, last),
  );
  if (page.link) call.reply.header('link', page.link);
  return call.reply.code(200).type('application/json').send({ name, tags: page.items });
}

/** GET /v2/_catalog?n=&last= : only the repositories the caller may see. */
export async function catalog(call: Call): Promise<unknown> {
  const registry = call.options.registry;
  const visible = call.caller ? await call.caller.visibleProjects() : 'all';
  const page = await paginate(parsePage(call.query), '/v2/_catalog', (limit, last) =>
    visible === 'all'
      ? registry.catalog(limit, last)
      : visibleRepositories(registry, new Set(visible), limit, last),
  );
  if (page.link) call.reply.header('link', page.link);
  return call.reply.code(200).type('application/json').send({ repositories: page.items });
}

/**
 * Walks the catalog in batches, keeping the repositories of the given projects, until `limit` are found. A
 * batch that ends inside a project the caller may not see continues after that project's last possible name
 * (`<project>/~`: `~` sorts after every character a repository name may hold), so a large private project
 * costs one query, not one per thousand of its repositories.
 */
async function visibleRepositories(
  registry: Registry,
  projects: ReadonlySet<string>,
  limit: number,
  last: string | undefined,
): Promise<string[]> {
  const found: string[] = [];
  if (projects.size === 0) return found;
  const batch = 1000;
  for (let cursor = last; found.length < limit; ) {
    const names = await registry.catalog(batch, cursor);
    for (const name of names) {
      if (projects.has(projectOf(name))) found.push(name);
      if (found.length === limit) return found;
    }
    if (names.length < batch) break;
    const end = names[names.length - 1] as string;
    const project = projectOf(end);
    cursor = end.includes('/') && !projects.has(project) ? `${project}/~` : end;
  }
  return found;
}

/** GET /v2/<name>/referrers/<digest>?artifactType= (distribution-spec v1.1 "Listing Referrers"). */
export async function listReferrers(call: Call): Promise<unknown> {
  const digest = parseDigest(call.params.digest);
  const artifactType = call.query.get('artifactType') ?? undefined;
  const index = await call.options.registry.manifests.referrers(
    repositoryOf(call),
    digest.value,
    artifactType,
  );
  if (artifactType !== undefined) call.reply.header('oci-filters-applied', 'artifactType');
  return call.reply.code(200).type(MediaType.OciIndex).send(JSON.stringify(index));
}
