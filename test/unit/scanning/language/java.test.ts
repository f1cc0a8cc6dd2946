// Java archives: real jars from Maven Central (cached under test/fixtures/.cache/maven, checked against their
// published SHA-1), packed with `zip` into a Spring Boot style fat jar and a war, plus broken archives.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { javaArchive } from '../../../../src/scanning/inventory/analyzers/language/java-archive.js';
import { CACHE_DIR, findExecutable } from '../../../fixtures/image.js';
import { analyzeContent, fileEntry } from './analyze-file.js';

const CENTRAL = 'https://repo1.maven.org/maven2';
const ARTIFACTS = [
  { group: 'org.apache.commons', artifact: 'commons-text', version: '1.12.0' },
  { group: 'org.apache.commons', artifact: 'commons-lang3', version: '3.14.0' },
];

/** The jar files, downloaded once and kept only when they match Maven Central's SHA-1; null when unreachable. */
async function centralJars(): Promise<string[] | null> {
  const dir = join(CACHE_DIR, 'maven');
  await mkdir(dir, { recursive: true });
  try {
    const paths: string[] = [];
    for (const { group, artifact, version } of ARTIFACTS) {
      const path = join(dir, `${artifact}-${version}.jar`);
      paths.push(path);
      if (await readFile(path).catch(() => undefined)) continue;
      const url = `${CENTRAL}/${group.replaceAll('.', '/')}/${artifact}/${version}/${artifact}-${version}.jar`;
      const [jar, sha1] = await Promise.all([download(url), download(`${url}.sha1`)]);
      const actual = createHash('sha1').update(jar).digest('hex');
      if (actual !== sha1.toString().trim().slice(0, 40)) throw new Error(`${url} does not match its .sha1`);
      // Renamed into place: a parallel run never reads half a jar.
      await writeFile(`${path}.${process.pid}.part`, jar);
      await rename(`${path}.${process.pid}.part`, path);
    }
    return paths;
  } catch (error) {
    const reason = `Maven Central is not reachable (${(error as Error).message})`;
    if (process.env.CI === 'true') throw new Error(`the Java archive tests must run in CI: ${reason}`);
    console.warn(`\n!!! SKIPPING the Java archive tests on real jars: ${reason} !!!\n`);
    return null;
  }
}

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

function zipAvailable(): boolean {
  if (findExecutable('zip')) return true;
  if (process.env.CI === 'true') throw new Error('the Java archive tests need `zip` (apt-get install zip)');
  console.warn(
    '\n!!! SKIPPING the Java archive tests that pack archives: `zip` is not installed (apt package zip) !!!\n',
  );
  return false;
}

const jars = await centralJars();
const canZip = zipAvailable();
const [commonsText = '', commonsLang = ''] = jars ?? [];

const text = (location: string) => ({
  type: 'maven',
  namespace: 'org.apache.commons',
  name: 'commons-text',
  version: '1.12.0',
  location,
});
const lang = (location: string) => ({
  type: 'maven',
  namespace: 'org.apache.commons',
  name: 'commons-lang3',
  version: '3.14.0',
  location,
});

describe.skipIf(!jars)('real jars from Maven Central', () => {
  it.each([
    ['commons-text', () => commonsText, text],
    ['commons-lang3', () => commonsLang, lang],
  ])('reads the coordinates of %s from its pom.properties', async (_, jar, expected) => {
    const findings = await analyzeContent(javaArchive, '/opt/app/lib/x.jar', await readFile(jar()));
    expect(findings).toEqual({ packages: [expected('/opt/app/lib/x.jar')] });
  });

  it('reports a truncated jar as a problem naming the file', async () => {
    const bytes = await readFile(commonsText);
    const findings = await analyzeContent(
      javaArchive,
      '/opt/app/lib/cut.jar',
      bytes.subarray(0, bytes.length / 2),
    );
    expect(findings.packages).toBeUndefined();
    expect(findings.problems).toHaveLength(1);
    expect(findings.problems?.[0]).toMatch(/^\/opt\/app\/lib\/cut\.jar: not a readable zip archive \(.+\)$/);
  });
});

describe.skipIf(!jars || !canZip)('archives nesting real jars', () => {
  let dir = '';

  /** A zip of `files` (path in the archive → content or a host file to copy), stored or deflated. */
  async function pack(
    name: string,
    files: Record<string, string | Buffer>,
    stored: boolean,
  ): Promise<Buffer> {
    const root = join(dir, `${name}.d`);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), content);
    }
    const out = join(dir, name);
    // Spring Boot requires nested jars to be stored uncompressed; wars usually deflate them.
    execFileSync('zip', ['-q', '-r', stored ? '-0' : '-9', out, '.'], { cwd: root });
    return readFile(out);
  }

  const ownPom = 'groupId=com.example\nartifactId=demo\nversion=0.0.1-SNAPSHOT\n';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-java-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists a Spring Boot jar and the jars in its BOOT-INF/lib/', async () => {
    const bytes = await pack(
      'app.jar',
      {
        'META-INF/MANIFEST.MF':
          'Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.JarLauncher\n',
        'META-INF/maven/com.example/demo/pom.properties': `#Created by Apache Maven 3.9.6\n${ownPom}`,
        'BOOT-INF/classes/com/example/Demo.class': Buffer.from([0xca, 0xfe, 0xba, 0xbe]),
        'BOOT-INF/lib/commons-text-1.12.0.jar': await readFile(commonsText),
        'BOOT-INF/lib/commons-lang3-3.14.0.jar': await readFile(commonsLang),
      },
      true,
    );
    const findings = await analyzeContent(javaArchive, '/app/app.jar', bytes);
    expect(findings.problems).toBeUndefined();
    expect(findings.packages).toHaveLength(3);
    expect(findings.packages).toEqual(
      expect.arrayContaining([
        {
          type: 'maven',
          namespace: 'com.example',
          name: 'demo',
          version: '0.0.1-SNAPSHOT',
          location: '/app/app.jar',
        },
        text('/app/app.jar!/BOOT-INF/lib/commons-text-1.12.0.jar'),
        lang('/app/app.jar!/BOOT-INF/lib/commons-lang3-3.14.0.jar'),
      ]),
    );
  });

  it('lists the deflated jars of a war, and reports the one nested jar that is broken', async () => {
    const bytes = await pack(
      'shop.WAR',
      {
        'WEB-INF/web.xml': '<web-app/>',
        'WEB-INF/lib/commons-text-1.12.0.jar': await readFile(commonsText),
        'WEB-INF/lib/broken.jar': Buffer.from('PK\x03\x04 this is not really a zip'),
      },
      false,
    );
    const findings = await analyzeContent(javaArchive, '/srv/tomcat/webapps/shop.WAR', bytes);
    expect(findings.packages).toEqual([
      text('/srv/tomcat/webapps/shop.WAR!/WEB-INF/lib/commons-text-1.12.0.jar'),
    ]);
    expect(findings.problems).toHaveLength(1);
    expect(findings.problems?.[0]).toMatch(
      /^\/srv\/tomcat\/webapps\/shop\.WAR!\/WEB-INF\/lib\/broken\.jar: not a readable zip archive/,
    );
  });

  it('reads nested archives one level deep only', async () => {
    const war = await pack(
      'inner.war',
      { 'WEB-INF/lib/commons-text-1.12.0.jar': await readFile(commonsText) },
      false,
    );
    const ear = await pack(
      'app.ear',
      { 'inner.war': war, 'lib/commons-lang3-3.14.0.jar': await readFile(commonsLang) },
      false,
    );
    const findings = await analyzeContent(javaArchive, '/opt/app.ear', ear);
    expect(findings).toEqual({ packages: [lang('/opt/app.ear!/lib/commons-lang3-3.14.0.jar')] });
  });

  it('does not inflate a nested archive over 32 MiB (a few kilobytes deflated), and says so', async () => {
    const bytes = await pack(
      'bomb.jar',
      {
        'META-INF/maven/com.example/bomb/pom.properties': 'groupId=com.example\nartifactId=bomb\nversion=1\n',
        'BOOT-INF/lib/zeros.jar': Buffer.alloc(33 * 1024 * 1024),
      },
      false,
    );
    expect(bytes.length).toBeLessThan(1024 * 1024);
    const findings = await analyzeContent(javaArchive, '/bomb.jar', bytes);
    expect(findings.packages).toEqual([
      { type: 'maven', namespace: 'com.example', name: 'bomb', version: '1', location: '/bomb.jar' },
    ]);
    expect(findings.problems).toEqual([
      `/bomb.jar!/BOOT-INF/lib/zeros.jar: a nested archive over ${32 * 1024 * 1024} bytes was not read`,
    ]);
  });

  it('skips pom.properties without a real version', async () => {
    const bytes = await pack(
      'odd.jar',
      {
        'META-INF/maven/a/b/pom.properties': 'groupId=a\nartifactId=b\n',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an unfilled Maven placeholder, as written
        'META-INF/maven/c/d/pom.properties': 'groupId=c\nartifactId=d\nversion=${project.version}\n',
        'META-INF/maven/e/f/pom.properties': 'version = 2.0\n',
      },
      false,
    );
    const findings = await analyzeContent(javaArchive, '/odd.jar', bytes);
    // The last has its coordinates only in its path.
    expect(findings).toEqual({
      packages: [{ type: 'maven', namespace: 'e', name: 'f', version: '2.0', location: '/odd.jar' }],
    });
  });
});

describe('java archive matching and hostile input', () => {
  it.each([
    ['/app/app.jar', true],
    ['/app/APP.JAR', true],
    ['/srv/x.war', true],
    ['/srv/x.ear', true],
    ['/app/app.jar.sha1', false],
    ['/app/jar', false],
  ])('match(%s) is %s', (path, matches) => {
    expect(javaArchive.match(fileEntry(path, 100)) !== false).toBe(matches);
  });

  it('reads archives up to 64 MiB', () => {
    expect(javaArchive.match(fileEntry('/a.jar', 100))).toEqual({
      read: 'content',
      maxBytes: 64 * 1024 * 1024,
    });
  });

  it.each([
    ['random bytes', Buffer.from('definitely not a zip file, no end of central directory here')],
    ['nothing', Buffer.alloc(0)],
  ])('reports %s as a problem naming the file', async (_, bytes) => {
    const findings = await analyzeContent(javaArchive, '/a.jar', bytes);
    expect(findings.problems?.[0]).toMatch(/^\/a\.jar: not a readable zip archive/);
  });
});
