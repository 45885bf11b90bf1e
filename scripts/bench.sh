#!/usr/bin/env bash
# Benchmarks: each script under bench/ starts the real servers it measures and prints figures (no assertions).
set -euo pipefail
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1
bash scripts/install-deps.sh
deno install --frozen --quiet
for bench in bench/*.ts; do
  echo "== $bench"
  deno run --allow-all "$bench"
done
