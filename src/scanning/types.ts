// The shared vocabulary of scanning: what an image contains (its inventory), what is known to be wrong with
// it (findings from the vulnerability database or a plug-in scanner), and the facts policies decide on.
// inventory/ produces an Inventory, sbom/ writes it out, vulndb/ matches it, policy/ judges the result.

/** Package ecosystems Berth understands; the names are purl types (https://github.com/package-url/purl-spec). */
export type PackageType = 'deb' | 'apk' | 'rpm' | 'npm' | 'pypi' | 'golang' | 'maven' | 'cargo';

/** One installed package found in the image. */
export interface Package {
  type: PackageType;
  /** As the ecosystem names it: `openssl`, `@types/node`, `org.apache.commons:commons-text` is split: see namespace. */
  name: string;
  /** Maven group id, npm scope (with @), Go module path prefix is part of name instead; deb/apk/rpm: the distro id. */
  namespace?: string;
  /** Exactly as installed, including a dpkg epoch (`1:9.2p1-2+deb12u2`) or an apk release (`3.1.4-r5`). */
  version: string;
  /**
   * The source package (deb `Source:`, apk origin `o:`, rpm source rpm name) and its version when it differs:
   * Debian and Alpine advisories (and OSV records) name source packages, not binary ones.
   */
  source?: { name: string; version?: string };
  /** Architecture when the package database records one (amd64, x86_64, noarch, all). */
  arch?: string;
  /** SPDX license expression or the raw license text the package declared, when known. */
  license?: string;
  /** Package URL, e.g. `pkg:deb/debian/openssh-server@1:9.2p1-2?arch=amd64&distro=debian-12`. */
  purl: string;
  /** Where in the image it was found (`/var/lib/dpkg/status`, `/app/node_modules/x/package.json`). */
  location: string;
  /** The layer (blob digest) whose files made it appear. */
  layer?: string;
}

/** The distribution the image is built from, from `/etc/os-release` (or `/usr/lib/os-release`). */
export interface OsRelease {
  /** `debian`, `ubuntu`, `alpine`, `rhel`, `fedora`, `rocky`… (ID=) */
  id: string;
  /** `12`, `22.04`, `3.19.1` (VERSION_ID=) */
  versionId?: string;
  /** `bookworm` (VERSION_CODENAME=) */
  codename?: string;
  prettyName?: string;
}

/** Facts about an image that policies refuse on, besides its vulnerabilities. */
export interface ImageFacts {
  /** The config's `User`, as written ('' when unset). */
  user: string;
  /** True when `User` is empty, `0`, `root`, or `0:…`/`root:…`. */
  runsAsRoot: boolean;
  /** The config's `ExposedPorts` keys (`22/tcp`). */
  exposedPorts: string[];
  /** Whether an SSH server is installed, and what shows it (`package openssh-server`, `file /usr/sbin/sshd`). */
  sshServer: { installed: boolean; evidence?: string };
  os?: OsRelease;
  /** Platform from the config: `linux/amd64`. */
  platform?: string;
}

/** What the layer walk found, or why it could not finish. */
export interface Inventory {
  /** The image manifest's digest. */
  subject: string;
  packages: Package[];
  facts: ImageFacts;
  /**
   * Problems that made the inventory incomplete or impossible, in words (`layer sha256:… : path escapes the
   * root (../../etc/passwd)`, `rpm Berkeley DB database is not supported`). `complete` is false when any
   * problem means packages may be missing.
   */
  problems: string[];
  complete: boolean;
}

/** CVSS-derived or vendor severity, in Harbor's vocabulary (also Trivy's). */
export type Severity = 'Unknown' | 'Low' | 'Medium' | 'High' | 'Critical';

/** One vulnerability affecting one package of the image. */
export interface Finding {
  /** The advisory id (`CVE-2024-6387`, `DSA-5724-1`, `GHSA-…`); the CVE alias is preferred when there is one. */
  id: string;
  /** Other ids of the same advisory (OSV `aliases`). */
  aliases: string[];
  package: { type: PackageType; name: string; version: string; purl: string };
  /** The first fixed version, when the advisory names one. */
  fixedVersion?: string;
  severity: Severity;
  /** CVSS base score (0–10) when a vector was given. */
  score?: number;
  /** The vector the score came from, e.g. `CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H`. */
  vector?: string;
  summary?: string;
  /** Advisory links. */
  links: string[];
}
