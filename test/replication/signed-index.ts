// The artifact the copy and policy tests replicate: a two-platform index signed by cosign (a sha256-<hex>.sig
// tag) with an SBOM that oras attaches (Distribution 2.8 has no referrers API: the tag-schema index).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryClient } from '../../src/replication/index.js';
import { run } from '../fixtures/image.js';
import { type PushedIndex, pushIndex } from './support.js';

export const SBOM_TYPE = 'application/spdx+json';

export interface SignedIndex {
  artifact: PushedIndex;
  signatureTag: string;
  /** The SBOM's manifest digest. */
  sbom: string;
  /** The cosign key pair, in `dir`. */
  signer: { key: string; pub: string };
}

/**
 * Pushes the index as `repository`:v1 with `client` to the registry at `host`, makes a cosign key pair in `dir`
 * (the tools run there, with `env`), signs the index and attaches the SBOM.
 */
export async function pushSignedIndexWithSbom(
  client: RegistryClient,
  host: string,
  repository: string,
  tools: { cosign: string; oras: string },
  env: NodeJS.ProcessEnv,
  dir: string,
): Promise<SignedIndex> {
  const tool = (name: 'cosign' | 'oras', args: string[]) =>
    run(tools[name], args, { env, cwd: dir, timeoutMs: 60_000 });
  const artifact = await pushIndex(client, repository, 'v1');
  await tool('cosign', ['generate-key-pair']);
  const signer = { key: join(dir, 'cosign.key'), pub: join(dir, 'cosign.pub') };
  const ref = `${host}/${repository}@${artifact.digest}`;
  await tool('cosign', [
    'sign',
    '--key',
    signer.key,
    '--tlog-upload=false',
    '--allow-http-registry',
    '--yes',
    ref,
  ]);
  await writeFile(join(dir, 'sbom.spdx.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'multi' }));
  const { stdout } = await tool('oras', [
    ...['attach', '--plain-http', '--format', 'json', '--artifact-type', SBOM_TYPE],
    ...[ref, `sbom.spdx.json:${SBOM_TYPE}`],
  ]);
  return {
    artifact,
    signatureTag: `${artifact.digest.replace(':', '-')}.sig`,
    sbom: (JSON.parse(stdout) as { digest: string }).digest,
    signer,
  };
}
