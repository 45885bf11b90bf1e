#!/usr/bin/env bash
# Benchmarks: each script under bench/ starts the real servers it measures and prints figures (no assertions).
set -euo pipefail
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1
bash scripts/install-deps.sh
# The peers bench/peers_bench.ts compares against, from Debian.
if ! command -v lego >/dev/null 2>&1 || ! command -v certbot >/dev/null 2>&1 ||
  ! dpkg -s python3-certbot-dns-rfc2136 >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    lego certbot python3-certbot-dns-rfc2136 >&2
fi
deno install --frozen --quiet
for bench in bench/*.ts; do
  echo "== $bench"
  deno run --allow-all "$bench"
done
