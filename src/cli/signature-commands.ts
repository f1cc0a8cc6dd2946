import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ArtifactSignatureView } from '../signatures/artifact-status.js';
import type {
  NotationStoreView,
  ProjectTrustView,
  SignaturePolicyView,
  TrustedKeyView,
} from '../signatures/trust/trust-service.js';
import { type CommandKit, path } from './admin-kit.js';
import { type ApiClient, UsageError } from './api-client.js';
import { formatTable, isoTime, out } from './table-output.js';

async function readText(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

function describePolicy(project: string, policy: SignaturePolicyView): string {
  const scope = policy.repositories === null ? 'every repository' : policy.repositories.join(', ');
  if (policy.required === 'off') return `${project}: signatures.required=off (no signature needed to pull)`;
  const what =
    policy.required === 'enforce'
      ? 'pulls of artifacts without a signature from a trusted key are refused'
      : 'pulls of artifacts without a signature from a trusted key are served and audited';
  return `${project}: signatures.required=${policy.required} for ${scope}: ${what}`;
}

/** The /api/v1 path of the artifact `<project>/<repository>:<tag>` (or `…@<digest>`), then `more` segments. */
export function artifactPath(text: string, ...more: string[]): string {
  const { project, repo, reference } = parseArtifactReference(text);
  return `/projects${path(project, 'repositories', repo, 'artifacts', reference, ...more)}`;
}

/** `repo:tag` or `repo@sha256:…` → the project, the repository within it, and the reference. */
export function parseArtifactReference(text: string): { project: string; repo: string; reference: string } {
  const at = text.indexOf('@');
  let repository: string;
  let reference: string;
  if (at >= 0) {
    repository = text.slice(0, at);
    reference = text.slice(at + 1);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0 || text.indexOf('/', colon) >= 0) {
      throw new UsageError(`artifact: give <repository>:<tag> or <repository>@<digest>, not '${text}'`);
    }
    repository = text.slice(0, colon);
    reference = text.slice(colon + 1);
  }
  const slash = repository.indexOf('/');
  if (slash <= 0 || reference === '') {
    throw new UsageError(`artifact: give <project>/<repository>:<tag> or …@<digest>, not '${text}'`);
  }
  return { project: repository.slice(0, slash), repo: repository.slice(slash + 1), reference };
}

/** What `berth artifact show` prints. */
export function describeArtifact(view: ArtifactSignatureView): string {
  const lines = [
    `artifact:   ${view.repository}@${view.digest}`,
    `media type: ${view.mediaType} (${view.size} bytes)`,
  ];
  const { signature, policy } = view;
  const status =
    signature.status === 'verified'
      ? `verified (signed by ${signature.verifiedBy.join(', ')})`
      : signature.status === 'untrusted'
        ? 'signed, but by nothing the project trusts'
        : signature.status;
  lines.push(`signature:  ${status}`);
  for (const result of signature.signatures) {
    const why = result.reason ? `: ${result.reason}` : '';
    const who = result.signer ? ` by ${result.signer}` : '';
    lines.push(`  - ${result.format} ${result.signatureDigest}: ${result.status}${who}${why}`);
  }
  const verdict = policy.pullable ? 'pullable' : 'REFUSED';
  lines.push(
    `policy:     signatures.required=${policy.mode}${policy.covers ? '' : ' (not this repository)'}`,
  );
  lines.push(`pull:       ${verdict}: ${policy.reason}`);
  return lines.join('\n');
}

/** `berth project trust …`, `berth project signatures …` and `berth artifact show …`. */
export function signatureCommands(program: Command, project: Command, kit: CommandKit): Command {
  const { connected, run } = kit;
  const trust = project
    .command('trust')
    .description('manage what a project trusts to sign its artifacts: public keys and notation trust stores');

  connected(
    trust
      .command('add-key')
      .argument('<project>', 'project name')
      .description('trust a public key (cosign.pub, or skopeo generate-sigstore-key’s .pub) for signatures'),
  )
    .requiredOption('--name <name>', 'what refusals and signature status call it, e.g. ci')
    .requiredOption('--file <pem>', 'the public key, PEM')
    .action(
      run(async (client: ApiClient, name: string, flags: { name: string; file: string }) => {
        const key = await client.request<TrustedKeyView>('POST', `/projects${path(name)}/trust/keys`, {
          body: { name: flags.name, publicKeyPem: await readText('--file', flags.file) },
        });
        out(`${name} now trusts key ${key.id} '${key.name}' (${key.fingerprint})`);
      }),
    );

  connected(
    trust
      .command('add-notation')
      .argument('<project>', 'project name')
      .description(
        'trust Notary Project signatures chaining to root CA certificates, by the given identities',
      ),
  )
    .requiredOption('--name <name>', 'the trust store’s name')
    .requiredOption('--ca <pem...>', 'root CA certificate files (PEM)')
    .option(
      '--identity <identity...>',
      'trusted identities: "x509.subject: C=US, ST=WA, O=Acme, CN=ci", or "*" for any',
      ['*'],
    )
    .action(
      run(
        async (
          client: ApiClient,
          name: string,
          flags: { name: string; ca: string[]; identity: string[] },
        ) => {
          const rootCertificatesPem = await Promise.all(flags.ca.map((file) => readText('--ca', file)));
          const store = await client.request<NotationStoreView>(
            'POST',
            `/projects${path(name)}/trust/notation`,
            {
              body: { name: flags.name, rootCertificatesPem, trustedIdentities: flags.identity },
            },
          );
          const subjects = store.certificates.map((c) => c.subject).join('; ');
          out(`${name} now trusts notation store ${store.id} '${store.name}' (${subjects})`);
        },
      ),
    );

  connected(
    trust
      .command('list')
      .argument('<project>', 'project name')
      .description("list a project's trust and policy"),
  )
    .option('--json', 'print JSON')
    .action(
      run(async (client: ApiClient, name: string, flags: { json?: boolean }) => {
        const view = await client.request<ProjectTrustView>('GET', `/projects${path(name)}/trust`);
        if (flags.json) return out(JSON.stringify(view, null, 2));
        const rows = [
          ...view.keys.map((k) => [String(k.id), 'key', k.name, k.fingerprint, isoTime(k.createdAt)]),
          ...view.notation.map((s) => [
            String(s.id),
            'notation',
            s.name,
            `${s.certificates.map((c) => c.subject).join('; ')} → ${s.trustedIdentities.join(', ')}`,
            isoTime(s.createdAt),
          ]),
        ];
        out(describePolicy(name, view.policy));
        out(
          rows.length === 0
            ? 'no trusted keys or notation trust stores'
            : formatTable(['ID', 'KIND', 'NAME', 'WHAT', 'ADDED'], rows),
        );
      }),
    );

  connected(
    trust
      .command('remove')
      .argument('<project>', 'project name')
      .argument('<id>', 'key or trust store id (see list)')
      .description('stop trusting a key (or, with --notation, a notation trust store)'),
  )
    .option('--notation', 'the id is a notation trust store’s')
    .action(
      run(async (client: ApiClient, name: string, id: string, flags: { notation?: boolean }) => {
        if (!/^\d{1,15}$/.test(id)) throw new UsageError(`id: a number (see trust list), not '${id}'`);
        const kind = flags.notation ? 'notation' : 'keys';
        await client.request('DELETE', `/projects${path(name, 'trust', kind, id)}`);
        out(`${name} no longer trusts ${flags.notation ? 'notation store' : 'key'} ${id}`);
      }),
    );

  connected(
    project
      .command('signatures')
      .argument('<project>', 'project name')
      .description("show a project's signature policy; --require sets it (project administrators)"),
  )
    .option('--require <mode>', 'enforce (refuse unsigned pulls), warn (serve, audit) or off')
    .option(
      '--repository <glob...>',
      'only these repositories (globs over the whole name, e.g. team/prod/**)',
    )
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          client: ApiClient,
          name: string,
          flags: { require?: string; repository?: string[]; json?: boolean },
        ) => {
          let policy: SignaturePolicyView;
          if (flags.require === undefined) {
            if (flags.repository) throw new UsageError('--repository goes with --require');
            policy = (await client.request<ProjectTrustView>('GET', `/projects${path(name)}/trust`)).policy;
          } else {
            if (!['enforce', 'warn', 'off'].includes(flags.require)) {
              throw new UsageError(`--require: enforce, warn or off, not '${flags.require}'`);
            }
            policy = await client.request<SignaturePolicyView>('PUT', `/projects${path(name)}/trust/policy`, {
              body: { required: flags.require, repositories: flags.repository ?? null },
            });
          }
          out(flags.json ? JSON.stringify(policy, null, 2) : describePolicy(name, policy));
        },
      ),
    );

  const artifact = program
    .command('artifact')
    .description('inspect artifacts')
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
  connected(
    artifact
      .command('show')
      .argument('<artifact>', '<project>/<repository>:<tag> or …@<digest>')
      .description("an artifact's signatures and what the project's pull policy makes of it"),
  )
    .option('--json', 'print JSON')
    .action(
      run(async (client: ApiClient, text: string, flags: { json?: boolean }) => {
        const view = await client.request<ArtifactSignatureView>('GET', artifactPath(text));
        out(flags.json ? JSON.stringify(view, null, 2) : describeArtifact(view));
      }),
    );
  return artifact;
}
