#!/usr/bin/env bash
# Installs, from Debian, the real clients and servers the tests and the benchmark drive, when they are missing.
# Safe to run again: it only calls apt-get for what is not installed yet.
set -euo pipefail
want=(
  skopeo:skopeo            # push/pull OCI layouts
  dockerd:docker.io        # the Docker engine (started by hand by the tests)
  podman:podman
  containerd:containerd    # with ctr
  docker-registry:docker-registry  # the CNCF registry, for the benchmark and doctor comparisons, and as a mirror upstream
  htpasswd:apache2-utils   # bcrypt htpasswd file for that upstream's Basic auth (test/mirror)
  nginx:nginx              # benchmark baseline for serving a file
  wrk:wrk                  # HTTP load generator: the benchmark's manifest GET rate
  jq:jq
  curl:curl
  gh:gh                    # the GitHub CLI, against Berth's REST API (test/github/gh-cli.test.ts)
  openssl:openssl          # self-signed certificate for that HTTPS test
  initdb:postgresql        # throwaway PostgreSQL clusters for the postgres-* test passes (test/helpers/postgres.ts)
  chromium:chromium        # headless browser for the web UI tests (test/ui, via playwright-core)
  prometheus:prometheus    # scrapes Berth in test/observability (with promtool for the alert rules)
)
missing=()
for entry in "${want[@]}"; do
  cmd=${entry%%:*}; pkg=${entry#*:}
  # Debian keeps PostgreSQL's server binaries (initdb, pg_ctl) off PATH, under /usr/lib/postgresql/<version>/bin.
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/bin/$cmd" ] \
    || compgen -G "/usr/lib/postgresql/*/bin/$cmd" >/dev/null || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" uidmap >/dev/null
fi
# Ceph's RADOS Gateway: the real S3 server of the postgres-s3 test pass and the S3 driver tests (scripts/s3-ceph.sh).
if ! command -v radosgw >/dev/null 2>&1; then
  echo "installing test dependencies: radosgw (ceph)"
  # apt-get update already ran above when anything else was missing.
  SKIP_APT_UPDATE=$([ ${#missing[@]} -gt 0 ] && echo 1 || true) bash "$(dirname "$0")/s3-ceph.sh" install
fi
# The Debian packages start their services where systemd runs; the tests start their own instances instead.
for svc in docker-registry nginx containerd docker postgresql; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done
# Optional: the suite on Node.js 24 as well as the machine's Node 20 (BERTH_TEST_NODE=24 npm run test:ci runs it on 24
# instead, once): Node 24 from the npm registry and better-sqlite3 built for it, into .node24/.
if [ "${BERTH_TEST_NODE:-}" = 24 ]; then bash "$(dirname "$0")/node24.sh"; fi
