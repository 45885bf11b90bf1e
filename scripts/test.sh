#!/usr/bin/env bash
# The test command: installs what the tests need (Deno, Knot, BIND, pebble, etcd, a kube-apiserver built once
# and cached), then runs every test. Integration tests start their own servers on 127.0.0.1.
# Extra arguments go to `deno test` (e.g. a file or `--filter NAME`).
set -euo pipefail
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1
bash scripts/install-deps.sh
bash scripts/build-kube-apiserver.sh >/dev/null
bash scripts/install-pebble-2.10.sh >/dev/null
deno install --frozen --quiet
exec deno test --allow-all --parallel "$@"
