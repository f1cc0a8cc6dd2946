/** Hosts that serve Docker Hub, whose official images live under `library/`. */
const DOCKER_HUB_HOSTS = new Set([
  'registry-1.docker.io',
  'docker.io',
  'index.docker.io',
  'registry.hub.docker.com',
]);

export function isDockerHub(upstream: URL): boolean {
  return DOCKER_HUB_HOSTS.has(upstream.hostname.toLowerCase());
}

/**
 * The upstream repository a repository of a proxy project stands for: the path after the project
 * (`hub/library/alpine` → `library/alpine`), with Docker Hub's implicit `library/` added to a single-segment
 * name (`hub/alpine` → `library/alpine`), as `docker pull alpine` does.
 */
export function upstreamRepository(upstream: URL, repository: string): string {
  const slash = repository.indexOf('/');
  const rest = slash < 0 ? '' : repository.slice(slash + 1);
  if (isDockerHub(upstream) && rest !== '' && !rest.includes('/')) return `library/${rest}`;
  return rest;
}
