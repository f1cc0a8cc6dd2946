/** The project a repository name is in, as the server decides it (auth's projectOf): `busybox` is in library. */
export const DEFAULT_PROJECT = 'library';

/**
 * The `{repo}` of a repository's API and console paths in its project: `app` for team/app, `a/b` for team/a/b;
 * the default project's single-segment names (`busybox`, `library`) are themselves.
 */
export function repositoryPath(project: string, repository: string): string {
  return repository.startsWith(`${project}/`) ? repository.slice(project.length + 1) : repository;
}

/** The console's link to a repository's artifacts. */
export function repositoryHref(project: string, repository: string): string {
  return `/projects/${project}/repositories/${encodeURIComponent(repositoryPath(project, repository))}`;
}
