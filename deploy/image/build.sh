#!/usr/bin/env bash
# Builds Berth's container image without a daemon or a container runtime — GNU tar writes the layers from a
# staged folder, umoci assembles the image — into an OCI image layout:
#
#   deploy/image/build.sh [--output DIR] [--skip-build] [--app DIST_DIR] [--web CONSOLE_DIR]
#
# writes, under DIR (dist/image by default):
#   oci/                      an OCI image layout with two references to the same three layers:
#                               <version>          OCI manifest (what registries and Kubernetes pull)
#                               <version>-docker   Docker schema 2 manifest, whose HEALTHCHECK podman also reads
#   berth-<version>.oci.tar   that layout as one archive: `skopeo copy oci-archive:FILE:<version> docker://…`
#   image.json                digests, sizes and the build's duration
#
# Reproducible: file times, owners and the image's dates are the commit's, so the same commit and node_modules
# give the same digests. The image holds the node binary this machine runs (`node -v`) and the native modules
# built here: build on the architecture and Node major version you deploy. Needs umoci, GNU tar and node (not
# root: the layers' owners are written, not taken from the disk). --skip-build uses dist/ as it is instead of running
# `npm run build` first.
set -euo pipefail
umask 022
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTPUT="$ROOT/dist/image"
SKIP_BUILD=false
APP="$ROOT/dist"
WEB=""
while [ $# -gt 0 ]; do
  case "$1" in
    --output) OUTPUT=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --app) APP=$2; shift 2 ;;
    --web) WEB=$2; shift 2 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v umoci >/dev/null || { echo "build.sh: umoci is missing (apt-get install umoci)" >&2; exit 1; }
started=$(date +%s.%N)
cd "$ROOT"
if [ "$SKIP_BUILD" = false ]; then npm run build --silent; fi

VERSION=$(node -p 'require("./package.json").version')
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
# Staging is thousands of small files: in memory (/dev/shm) when there is room, it takes seconds, not minutes.
SCRATCH=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 1048576 ]; then
  SCRATCH=/dev/shm
fi
WORK=$(mktemp -d "$SCRATCH/berth-image-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

STAGE_ARGS=(--out "$WORK/context" --app "$APP")
[ -n "$WEB" ] && STAGE_ARGS+=(--web "$WEB")
node deploy/image/stage.mjs "${STAGE_ARGS[@]}" >"$WORK/stage.json"
# A layer is a tar written by GNU tar, byte for byte the same for the same files: sorted, the commit's times,
# numeric owners (root; the data directory the berth user's), POSIX format without access or change times.
TAR=(tar --sort=name --format=posix --numeric-owner --mtime="@$EPOCH"
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
layer_tar() { # DIR TAR [EXCLUDED]
  local entries
  mapfile -t entries < <(cd "$1" && ls -A | LC_ALL=C sort)
  "${TAR[@]}" --owner=0 --group=0 ${3:+--exclude="$3"} -C "$1" -cf "$2" "${entries[@]}"
}
layer_tar "$WORK/context/runtime" "$WORK/runtime.tar" var/lib/berth
"${TAR[@]}" --owner=10001 --group=10001 --mode=0750 -C "$WORK/context/runtime" -rf "$WORK/runtime.tar" \
  --no-recursion var/lib/berth
layer_tar "$WORK/context/modules" "$WORK/modules.tar"
layer_tar "$WORK/context/app" "$WORK/app.tar"

LAYOUT="$WORK/oci"
IMAGE="$LAYOUT:$VERSION"
umoci init --layout "$LAYOUT"
umoci new --image "$IMAGE"
# Three layers, from the least to the most often changed: a code change re-ships only the last, small one.
for layer in runtime modules app; do
  umoci raw add-layer --image "$IMAGE" --history.created "$CREATED" \
    --history.created_by "deploy/image/build.sh: $layer" "$WORK/$layer.tar"
done
# SIGTERM drains in-flight requests (http.shutdownTimeoutSeconds) before exiting; node is PID 1 and handles it.
umoci config --image "$IMAGE" --created "$CREATED" --author "Berth" \
  --history.created "$CREATED" --history.created_by "deploy/image/build.sh: config" \
  --config.user 10001:10001 \
  --config.workingdir /app \
  --config.env NODE_ENV=production \
  --config.env BERTH_DATA_DIR=/var/lib/berth \
  --config.env BERTH_HTTP_HOST=0.0.0.0 \
  --config.env BERTH_HTTP_PORT=5000 \
  --config.entrypoint /usr/bin/node --config.entrypoint /app/dist/cli/main.js \
  --config.cmd serve \
  --config.exposedports 5000/tcp \
  --config.volume /var/lib/berth \
  --config.stopsignal SIGTERM \
  --config.label org.opencontainers.image.title=Berth \
  --config.label "org.opencontainers.image.description=An OCI Distribution v1.1 container image registry" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.revision=$REVISION" \
  --config.label "org.opencontainers.image.created=$CREATED"
umoci gc --layout "$LAYOUT"
node deploy/image/docker-config.mjs "$LAYOUT" "$VERSION" >/dev/null

mkdir -p "$OUTPUT"
rm -rf "$OUTPUT/oci" "$OUTPUT/berth-$VERSION.oci.tar"
cp -r "$LAYOUT" "$OUTPUT/oci"
tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner -C "$LAYOUT" \
  -cf "$OUTPUT/berth-$VERSION.oci.tar" oci-layout index.json blobs

node - "$OUTPUT" "$VERSION" "$started" "$WORK/stage.json" <<'NODE'
const { readFileSync, statSync, writeFileSync } = require('node:fs');
const [output, version, started, stage] = process.argv.slice(2);
const blob = (digest) => `${output}/oci/blobs/${digest.replace(':', '/')}`;
const index = JSON.parse(readFileSync(`${output}/oci/index.json`, 'utf8'));
const images = {};
for (const entry of index.manifests) {
  const manifest = JSON.parse(readFileSync(blob(entry.digest), 'utf8'));
  images[entry.annotations['org.opencontainers.image.ref.name']] = {
    digest: entry.digest,
    mediaType: entry.mediaType,
    layers: manifest.layers.map((layer) => layer.size),
  };
}
const summary = {
  version,
  images,
  archive: `${output}/berth-${version}.oci.tar`,
  archiveBytes: statSync(`${output}/berth-${version}.oci.tar`).size,
  seconds: Math.round((Date.now() / 1000 - Number(started)) * 10) / 10,
  ...JSON.parse(readFileSync(stage, 'utf8')),
};
writeFileSync(`${output}/image.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.log(JSON.stringify({ images, archiveBytes: summary.archiveBytes, seconds: summary.seconds }));
NODE
