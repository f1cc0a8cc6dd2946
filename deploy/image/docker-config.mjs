#!/usr/bin/env node
// Finishes the OCI layout umoci built (deploy/image/build.sh): adds the health check to the image config, and a
// second reference `<tag>-docker` to the same layers with a Docker schema 2 manifest.
//
// OCI image configs have no health check; Docker reads `config.Healthcheck` from either kind of config (BuildKit
// writes it into OCI configs the same way), podman only from a Docker one, Kubernetes from neither (it uses the
// chart's probes). Usage: node docker-config.mjs LAYOUT TAG
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [layout, tag] = process.argv.slice(2);
if (!layout || !tag) throw new Error('usage: docker-config.mjs LAYOUT TAG');
const SECOND = 1_000_000_000; // Docker's durations are nanoseconds
const HEALTHCHECK = {
  Test: ['CMD', '/usr/bin/node', '/app/healthcheck.mjs'],
  Interval: 15 * SECOND,
  Timeout: 5 * SECOND,
  StartPeriod: 30 * SECOND,
  Retries: 3,
};

const blobPath = (digest) => join(layout, 'blobs', ...digest.split(':'));
const readBlob = (digest) => JSON.parse(readFileSync(blobPath(digest), 'utf8'));
/** Writes a JSON blob; returns its descriptor. */
function writeBlob(mediaType, value) {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(blobPath(digest), bytes);
  return { mediaType, digest, size: bytes.length };
}
const REF = 'org.opencontainers.image.ref.name';

const indexPath = join(layout, 'index.json');
const index = JSON.parse(readFileSync(indexPath, 'utf8'));
const entry = index.manifests.find((m) => m.annotations?.[REF] === tag);
if (!entry) throw new Error(`${layout} has no reference ${tag}`);
const manifest = readBlob(entry.digest);
const config = readBlob(manifest.config.digest);
config.config.Healthcheck = HEALTHCHECK;

const ociConfig = writeBlob('application/vnd.oci.image.config.v1+json', config);
const oci = writeBlob('application/vnd.oci.image.manifest.v1+json', { ...manifest, config: ociConfig });
const docker = writeBlob('application/vnd.docker.distribution.manifest.v2+json', {
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  config: { ...ociConfig, mediaType: 'application/vnd.docker.container.image.v1+json' },
  layers: manifest.layers.map((layer) => {
    if (layer.mediaType !== 'application/vnd.oci.image.layer.v1.tar+gzip') {
      throw new Error(`a layer of media type ${layer.mediaType} has no Docker schema 2 equivalent here`);
    }
    return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer.digest, size: layer.size };
  }),
});
const platform = { architecture: config.architecture, os: config.os };
index.manifests = [
  ...index.manifests.filter((m) => ![tag, `${tag}-docker`].includes(m.annotations?.[REF])),
  { ...oci, platform, annotations: { [REF]: tag } },
  { ...docker, platform, annotations: { [REF]: `${tag}-docker` } },
];
writeFileSync(indexPath, JSON.stringify(index));
// The manifest and config umoci wrote are superseded (run after `umoci gc`: nothing else refers to them).
for (const old of [entry.digest, manifest.config.digest]) {
  if (old !== oci.digest && old !== ociConfig.digest) rmSync(blobPath(old));
}
process.stdout.write(`${JSON.stringify({ oci: oci.digest, docker: docker.digest })}\n`);
