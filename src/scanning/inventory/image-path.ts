/** Paths inside the image: always absolute, `/`-separated, without `.`, `..`, empty segments or a trailing slash. */

/**
 * A tar entry name as an image path (`./usr/bin/x` → `/usr/bin/x`), or undefined when `..` would climb out of
 * the root: such a name is hostile (a real layer never has one) and its entry is not applied.
 */
export function entryPath(name: string): string | undefined {
  const parts: string[] = [];
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(segment);
  }
  return `/${parts.join('/')}`;
}

/**
 * Where a symlink at `link` pointing at `target` leads, lexically; `..` stops at the root as it does for a
 * process chrooted into the image (`/etc/os-release` → `../usr/lib/os-release` is `/usr/lib/os-release`).
 */
export function symlinkTarget(link: string, target: string): string {
  const base = target.startsWith('/') ? '' : parentOf(link);
  const parts: string[] = [];
  for (const segment of `${base}/${target}`.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') parts.pop();
    else parts.push(segment);
  }
  return `/${parts.join('/')}`;
}

export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** True when `path` is `dir` itself or lies under it. */
export function isWithin(path: string, dir: string): boolean {
  if (dir === '/') return true;
  return path === dir || (path.startsWith(dir) && path.charCodeAt(dir.length) === 47);
}
