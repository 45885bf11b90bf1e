#!/usr/bin/env bash
# The demo: installs what it needs, then runs notariat against an embedded local stack (Knot DNS, pebble,
# a real kube-apiserver + etcd), all on 127.0.0.1, driven with kubectl as the README's quick start says.
# `bash scripts/demo.sh -keep` leaves the stack running until Ctrl-C; otherwise it stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1
bash scripts/install-deps.sh
bash scripts/build-kube-apiserver.sh >/dev/null
deno install --frozen --quiet
exec deno run --allow-all scripts/demo.ts "$@"
