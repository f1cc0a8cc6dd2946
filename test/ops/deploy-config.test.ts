// What deploy/ ships for running Berth in production, checked with the real tools: the Helm chart (helm v4 lint
// and template; every rendered document decoded strictly with the Kubernetes API types, then the wiring between
// them checked), the Prometheus rules (promtool's own checker and unit tests, each alert firing and not), the
// Grafana dashboard and the rules against the metrics a real Berth exports, and the systemd unit
// (systemd-analyze verify and its offline security score).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CACHE_DIR, findExecutable, requireTool, run } from '../fixtures/image.js';
import { privateHome, requireGoTools } from '../helpers/go-tools.js';
import { startBerth } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/berth');
const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------------------------------
// Helm chart

const helmTools = requireGoTools(['helm'], 'the Helm chart tests');
const go = findExecutable('go', ['/usr/local/go/bin']);
if (!go) {
  if (process.env.CI === 'true') throw new Error('the Helm chart tests need go (test/ops/k8s-validate)');
  console.warn('\n!!! SKIPPING the Helm chart tests: go is not installed !!!\n');
}

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are checked field by field below
type K8s = Record<string, any>;

describe.skipIf(!helmTools || !go)('deploy/helm/berth', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let validator: string;
  const helm = (...args: string[]) => run(helmTools?.helm ?? 'helm', args, { env, timeoutMs: 60_000 });

  /** `helm template` with `sets`, each document decoded strictly by k8s-validate; the parsed documents. */
  async function render(...sets: string[]): Promise<K8s[]> {
    const args = ['template', 'reg', CHART, '--namespace', 'registry', ...sets.flatMap((s) => ['--set', s])];
    const { stdout } = await helm(...args);
    const file = join(dir, 'rendered.yaml');
    await writeFile(file, stdout);
    const validated = await execFileAsync('sh', ['-c', `"${validator}" < "${file}"`]).catch(
      (error: { stderr: string }) => {
        throw new Error(`rendered manifests are not valid Kubernetes objects:\n${error.stderr}`);
      },
    );
    const docs = parseAllDocuments(stdout)
      .map((doc) => doc.toJS() as K8s | null)
      .filter((doc): doc is K8s => doc !== null);
    expect(validated.stdout.trim().split('\n')).toEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`));
    return docs;
  }
  const byKind = (docs: K8s[], kind: string) => docs.filter((doc) => doc.kind === kind);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-helm-'));
    env = await privateHome(join(dir, 'home'));
    // Built from the k8s.io modules helm v4 is built with: seconds once helm's build is in Go's cache.
    await mkdir(CACHE_DIR, { recursive: true });
    validator = join(CACHE_DIR, 'k8s-validate');
    await run(go as string, ['build', '-o', validator, '.'], {
      cwd: join(ROOT, 'test/ops/k8s-validate'),
      env: { ...process.env, GOFLAGS: '-mod=readonly' },
      timeoutMs: 600_000,
    });
  }, 600_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes helm lint --strict, with the defaults and with every option on', async () => {
    await helm('lint', '--strict', CHART);
    await helm(
      'lint',
      '--strict',
      CHART,
      '--set',
      'ingress.enabled=true,secrets.create=true,secrets.values.metadataUrl=postgres://b@db/berth',
    );
  });

  it('renders a stateless Deployment on PostgreSQL and S3 with probes, a Service and a PodDisruptionBudget', async () => {
    const docs = await render();
    expect(docs.map((d) => d.kind).sort()).toEqual([
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    const [deployment] = byKind(docs, 'Deployment');
    const spec = deployment?.spec;
    expect(spec.replicas).toBeGreaterThanOrEqual(2);
    expect(spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    const pod = spec.template.spec;
    const labels = spec.template.metadata.labels;
    expect(spec.selector.matchLabels).toEqual(expect.objectContaining({}));
    for (const [key, value] of Object.entries(spec.selector.matchLabels)) expect(labels[key]).toBe(value);
    expect(pod.containers).toHaveLength(1);
    const container = pod.containers[0];
    expect(container.image).toBe('registry.example.com/berth:0.1.0');

    // Probes: liveness and startup on /healthz, readiness on /readyz, all on the named port 5000.
    expect(container.ports).toEqual([{ name: 'http', containerPort: 5000, protocol: 'TCP' }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.lifecycle.preStop.sleep.seconds).toBeGreaterThan(0);
    // The grace period covers the preStop sleep and the drain.
    const envOf = (name: string) => container.env.find((e: K8s) => e.name === name);
    const drain = Number(envOf('BERTH_HTTP_SHUTDOWN_TIMEOUT_SECONDS').value);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      drain + container.lifecycle.preStop.sleep.seconds,
    );

    // Stateless: metadata in PostgreSQL from the Secret, blobs in S3; only scratch volumes.
    expect(envOf('BERTH_METADATA_URL').valueFrom.secretKeyRef).toEqual({
      name: 'berth',
      key: 'metadata-url',
    });
    expect(envOf('BERTH_STORAGE_DRIVER').value).toBe('s3');
    expect(envOf('BERTH_STORAGE_S3_BUCKET').value).toBe('berth-blobs');
    for (const name of ['BERTH_STORAGE_S3_ACCESS_KEY_ID', 'BERTH_STORAGE_S3_SECRET_ACCESS_KEY']) {
      expect(envOf(name).valueFrom.secretKeyRef).toEqual(
        expect.objectContaining({ name: 'berth', optional: true }),
      );
    }
    // Secrets only from the Secret, never as literal values in the pod spec.
    const secretEnv = container.env.filter((e: K8s) =>
      /PASSWORD|SECRET|ACCESS_KEY|METADATA_URL/.test(e.name),
    );
    expect(secretEnv.map((e: K8s) => e.name).sort()).toEqual([
      'BERTH_ADMIN_PASSWORD',
      'BERTH_METADATA_URL',
      'BERTH_STORAGE_S3_ACCESS_KEY_ID',
      'BERTH_STORAGE_S3_SECRET_ACCESS_KEY',
    ]);
    for (const e of secretEnv) expect([e.value, e.valueFrom.secretKeyRef.name]).toEqual([undefined, 'berth']);
    expect(pod.volumes.every((volume: K8s) => volume.emptyDir !== undefined)).toBe(true);
    expect(container.volumeMounts.map((m: K8s) => m.mountPath).sort()).toEqual(['/tmp', '/var/lib/berth']);

    // Non-root, read-only root filesystem, nothing to escalate to, no API token.
    expect(pod.securityContext).toEqual(
      expect.objectContaining({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 }),
    );
    expect(container.securityContext).toEqual(
      expect.objectContaining({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      }),
    );
    expect(pod.automountServiceAccountToken).toBe(false);

    // The Service and the PodDisruptionBudget select exactly these pods.
    const [service] = byKind(docs, 'Service');
    expect(service?.spec.selector).toEqual(spec.selector.matchLabels);
    expect(service?.spec.ports[0]).toEqual(expect.objectContaining({ port: 5000, targetPort: 'http' }));
    const [pdb] = byKind(docs, 'PodDisruptionBudget');
    expect(pdb?.spec.selector.matchLabels).toEqual(spec.selector.matchLabels);
    expect(pdb?.spec.minAvailable).toBeLessThan(spec.replicas);
  });

  it('renders the optional Ingress and Secret, and refuses a chart-made Secret without a database URL', async () => {
    const docs = await render(
      'ingress.enabled=true',
      'ingress.className=nginx',
      'secrets.create=true',
      'secrets.values.metadataUrl=postgres://berth@db/berth',
      'podDisruptionBudget.enabled=false',
    );
    expect(byKind(docs, 'PodDisruptionBudget')).toEqual([]);
    const [ingress] = byKind(docs, 'Ingress');
    const [service] = byKind(docs, 'Service');
    const backend = ingress?.spec.rules[0].http.paths[0].backend.service;
    expect(backend).toEqual({ name: service?.metadata.name, port: { name: 'http' } });
    expect(ingress?.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size']).toBe('0');
    const [secret] = byKind(docs, 'Secret');
    expect(secret?.stringData['metadata-url']).toBe('postgres://berth@db/berth');
    const [deployment] = byKind(docs, 'Deployment');
    const url = deployment?.spec.template.spec.containers[0].env.find(
      (e: K8s) => e.name === 'BERTH_METADATA_URL',
    );
    expect(url.valueFrom.secretKeyRef.name).toBe(secret?.metadata.name);

    await expect(helm('template', 'reg', CHART, '--set', 'secrets.create=true')).rejects.toThrow(
      /secrets\.values\.metadataUrl/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Prometheus rules and the Grafana dashboard

const hasPromtool = requireTool('promtool');
if (!hasPromtool) console.warn('\n!!! SKIPPING the Prometheus rules tests: promtool is not installed !!!\n');

/** The berth_* metric names an expression uses. */
function berthMetrics(expression: string): string[] {
  return [...expression.matchAll(/\bberth_[a-z0-9_]+/g)].map((m) => m[0]);
}

describe('deploy/prometheus and deploy/grafana', () => {
  it.skipIf(!hasPromtool)('promtool checks the rules and passes their unit tests', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', 'deploy/prometheus/berth-rules.yml'], {
      cwd: ROOT,
    });
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
    const tests = await run('promtool', ['test', 'rules', 'berth-rules.test.yml'], {
      cwd: join(ROOT, 'deploy/prometheus'),
    });
    expect(tests.stdout).toContain('SUCCESS');
    // Every alert is exercised by a unit test.
    const rules = await readFile(join(ROOT, 'deploy/prometheus/berth-rules.yml'), 'utf8');
    const unit = await readFile(join(ROOT, 'deploy/prometheus/berth-rules.test.yml'), 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    for (const alert of alerts) expect(unit, `a unit test of ${alert}`).toContain(`alertname: ${alert}`);
  });

  it('uses only metrics a real Berth exports, in the rules and on every dashboard panel', async () => {
    const berth = await startBerth();
    let exposition: string;
    try {
      // A token request and a pull, so that the labelled series the rules select exist with their labels.
      await fetch(`${berth.url}/v2/library/none/manifests/latest`);
      exposition = await (await fetch(`${berth.url}/metrics`)).text();
    } finally {
      await berth.close();
    }
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1] as string));
    const histograms = [...exposition.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1] as string);
    const exported = (name: string) =>
      families.has(name) || histograms.some((h) => ['_bucket', '_sum', '_count'].some((s) => name === h + s));
    expect(exported('berth_storage_capacity_bytes')).toBe(true);
    expect(exposition).toMatch(/^berth_job_runs_total\{kind="gc",status="failed"\} 0$/m);
    expect(exposition).toMatch(
      /^berth_http_requests_total\{route="manifest",method="GET",status="404"\} 1$/m,
    );

    const rules = await readFile(join(ROOT, 'deploy/prometheus/berth-rules.yml'), 'utf8');
    const used = new Set(berthMetrics(rules));
    const dashboard = JSON.parse(await readFile(join(ROOT, 'deploy/grafana/berth.json'), 'utf8')) as {
      uid: string;
      panels: { title: string; type: string; targets?: { expr: string }[]; gridPos: object }[];
    };
    expect(dashboard.uid).toBe('berth-registry');
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThan(8);
    for (const panel of graphs) {
      expect(panel.targets?.length, `panel "${panel.title}" has a query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) for (const name of berthMetrics(target.expr)) used.add(name);
    }
    const unknown = [...used].filter((name) => !exported(name));
    expect(unknown, 'metric names Berth does not export').toEqual([]);
    expect(used.size).toBeGreaterThan(8);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// systemd unit

const hasSystemdAnalyze = requireTool('systemd-analyze');
if (!hasSystemdAnalyze)
  console.warn('\n!!! SKIPPING the systemd unit test: systemd-analyze is missing !!!\n');

describe.skipIf(!hasSystemdAnalyze)('deploy/systemd/berth.service', () => {
  it('verifies cleanly and scores as well hardened offline', async () => {
    const unit = join(ROOT, 'deploy/systemd/berth.service');
    // Warnings (an unknown or misplaced key) go to stderr with exit 0: none may appear.
    const verified = await run('systemd-analyze', ['verify', unit]);
    expect(verified.stderr.trim()).toBe('');
    // Exposure on systemd's 0–10 scale (threshold in tenths): under 2.0 is "OK", the best band.
    await run('systemd-analyze', ['security', '--offline=yes', '--threshold=20', unit]);
    const text = await readFile(unit, 'utf8');
    for (const setting of [
      'DynamicUser=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/berth',
      'NoNewPrivileges=yes',
      'KillSignal=SIGTERM',
    ]) {
      expect(text).toContain(setting);
    }
  });
});
