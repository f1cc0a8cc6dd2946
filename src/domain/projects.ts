/**
 * Where single-segment repositories (`busybox`) live. `docker push host/busybox` sends the name `busybox`;
 * treating it as part of `library` (as Harbor's default project is named) gives it an owner and a policy
 * without rewriting the name, so `busybox` and `library/busybox` stay two repositories of one project.
 */
export const DEFAULT_PROJECT = 'library';

/** The project a repository belongs to: its first path segment, or DEFAULT_PROJECT when it has none. */
export function projectOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash < 0 ? DEFAULT_PROJECT : repository.slice(0, slash);
}
