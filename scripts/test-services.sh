#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian machine where nothing runs yet (run as root):
#
#   scripts/test-services.sh install   Debian packages (clients, servers, archivers), the Go clients (pinned)
#                                      and the SPDX validator (pip)
#   scripts/test-services.sh start     install, then start PostgreSQL (127.0.0.1:5432, role postgres, trust)
#                                      and Swift s3api (127.0.0.1:8080); returns once both answer
#   scripts/test-services.sh go-tools  only the Go clients (CPU-bound: .ci/run builds them beside the downloads)
#   scripts/test-services.sh services  only the Debian packages and the two servers
#   scripts/test-services.sh stop      stops what `start` started (PostgreSQL cluster, Swift, its memcached)
#   scripts/test-services.sh status
#
# `.ci/run` calls `start` before `npm test` and `stop` after it; a developer runs `start` once on a new machine.
# slapd and nginx need no service here: the tests start their own on ephemeral ports.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Go clients the end-to-end tests drive (test/helpers/go-tools.ts finds them in `go env GOPATH`/bin).
# Pinned; a binary already built at its pinned version is not rebuilt.
GO_TOOLS=(
  "oras oras.land/oras/cmd/oras@v1.3.6"
  "crane github.com/google/go-containerregistry/cmd/crane@v0.22.1"
  "helm helm.sh/helm/v4/cmd/helm@v4.3.2"
  "cosign github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"
  "syft github.com/anchore/syft/cmd/syft@v1.57.2"
)
APT_PACKAGES=(
  postgresql skopeo umoci podman slapd ldap-utils nginx-light curl
  swift swift-proxy swift-object swift-container swift-account memcached
  zip zstd rpm apache2-utils docker-registry openssl chromium wrk
  prometheus  # for promtool (deploy/prometheus rules tests); its server is never started
)
# The SPDX project's own validator checks Berth's SBOMs (pip: Debian does not package it).
PY_TOOLS=("pyspdxtools spdx-tools==0.8.5")
PG_URL=postgres://postgres@127.0.0.1:5432/postgres

say() { echo "test-services: $*"; }

install_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  # The e2e fixtures `apt-get download busybox-static`: package lists must exist even when nothing is missing.
  if [ "${#missing[@]}" -gt 0 ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install_py_tools() {
  for entry in "${PY_TOOLS[@]}"; do
    local name=${entry%% *} spec=${entry#* }
    command -v "$name" >/dev/null && continue
    say "installing $spec (pip)"
    python3 -m pip install -q "$spec" 2>/dev/null || python3 -m pip install -q --break-system-packages "$spec"
    # pyenv puts new commands on PATH through its shims once rehashed.
    if command -v pyenv >/dev/null; then pyenv rehash; fi
  done
}

go_bin() { echo "$(go env GOPATH)/bin"; }

# The version a built Go binary was built from (`go version -m` reads it from the binary itself).
built_version() { go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'; }

install_go_tools() {
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
  if ! command -v go >/dev/null; then
    say "go is not installed: the Go client tests (oras, crane, helm, cosign) cannot run"
    [ "${CI:-}" = true ] && exit 1
    return 0
  fi
  local bin
  bin=$(go_bin)
  for entry in "${GO_TOOLS[@]}"; do
    local name=${entry%% *} spec=${entry#* }
    local want=${spec##*@}
    if [ -x "$bin/$name" ] && [ "$(built_version "$bin/$name")" = "$want" ]; then continue; fi
    say "building $name $want (go install $spec)"
    local started=$SECONDS
    go install "$spec"
    say "built $name in $((SECONDS - started)) s"
  done
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -n | tail -1; }
pg_answers() { psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; }

start_postgres() {
  if pg_answers; then say "PostgreSQL answers at 127.0.0.1:5432"; return; fi
  local version
  version=$(pg_version)
  if [ -z "$version" ]; then
    # The package installs without a cluster when its postinst could not create one.
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_createcluster "$version" main >/dev/null
  fi
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Trust over loopback and the local socket: a throwaway test server only, never a shared host.
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/; s/^(local\s+all\s+(postgres|all)\s+)\S+/\1trust/' "$hba"
  # The suite runs the integration tests against many throwaway databases at once.
  pg_conftool "$version" main set max_connections 300 >/dev/null
  if pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    pg_ctlcluster "$version" main restart
  else
    pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 150); do
    if pg_answers; then say "PostgreSQL $version up at 127.0.0.1:5432"; return; fi
    sleep 0.2
  done
  say "PostgreSQL did not answer at 127.0.0.1:5432"
  exit 1
}

stop_postgres() {
  local version
  version=$(pg_version)
  [ -n "$version" ] || return 0
  if pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    pg_ctlcluster "$version" main stop
    say "PostgreSQL stopped"
  fi
}

case "${1:-}" in
  install)
    install_apt
    install_py_tools
    install_go_tools
    ;;
  start)
    install_apt
    install_py_tools
    install_go_tools
    start_postgres
    bash scripts/swift-s3.sh start
    ;;
  go-tools)
    install_go_tools
    ;;
  services)
    install_apt
    install_py_tools
    start_postgres
    bash scripts/swift-s3.sh start
    ;;
  stop)
    bash scripts/swift-s3.sh stop
    stop_postgres
    ;;
  status)
    status=0
    if pg_answers; then say "PostgreSQL answers"; else say "PostgreSQL is not running"; status=1; fi
    bash scripts/swift-s3.sh status || status=1
    exit "$status"
    ;;
  *)
    echo "usage: $0 install|start|stop|status|go-tools|services" >&2
    exit 2
    ;;
esac
