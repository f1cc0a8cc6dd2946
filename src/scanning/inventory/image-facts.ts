import type { ImageFacts, Package } from '../types.js';

/** Packages that install an SSH server (apk's `openssh` is the meta package that pulls openssh-server in). */
const SSH_SERVER_PACKAGES = new Set(['openssh-server', 'dropbear', 'dropbear-bin']);

interface ImageConfig {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  config?: { User?: unknown; ExposedPorts?: unknown } | null;
}

/** Facts from the image config (OCI image-spec config.md) and what the walk found; problems go to `problems`. */
export function imageFacts(
  configBytes: Buffer,
  packages: Package[],
  notes: string[],
  problems: string[],
): Omit<ImageFacts, 'os'> {
  let config: ImageConfig = {};
  try {
    const parsed = JSON.parse(configBytes.toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) config = parsed as ImageConfig;
    else problems.push('image config is not a JSON object');
  } catch (error) {
    problems.push(`image config is not JSON: ${(error as Error).message}`);
  }
  const user = typeof config.config?.User === 'string' ? config.config.User : '';
  const ports = config.config?.ExposedPorts;
  const facts: Omit<ImageFacts, 'os'> = {
    user,
    runsAsRoot: runsAsRoot(user),
    exposedPorts: ports && typeof ports === 'object' ? Object.keys(ports) : [],
    sshServer: sshServer(packages, notes),
  };
  if (typeof config.os === 'string' && typeof config.architecture === 'string') {
    facts.platform = [
      config.os,
      config.architecture,
      typeof config.variant === 'string' ? config.variant : '',
    ]
      .filter(Boolean)
      .join('/');
  }
  return facts;
}

/** `User` empty, `0`, `root`, or `0:…` / `root:…` (any group) runs as uid 0. */
export function runsAsRoot(user: string): boolean {
  const name = user.split(':', 1)[0]?.trim() ?? '';
  return name === '' || name === 'root' || /^0+$/.test(name);
}

function sshServer(packages: Package[], notes: string[]): ImageFacts['sshServer'] {
  const installed = packages.find(
    (pkg) => SSH_SERVER_PACKAGES.has(pkg.name) || (pkg.type === 'apk' && pkg.name === 'openssh'),
  );
  if (installed) return { installed: true, evidence: `package ${installed.name}` };
  const file = notes.find((note) => note.startsWith('file '));
  return file ? { installed: true, evidence: file } : { installed: false };
}
