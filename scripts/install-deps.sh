#!/usr/bin/env bash
# Installs what notariat's tests and demo need on Debian: Deno (from npm) and the real servers the
# harness starts (Knot, BIND, pebble, etcd, Go for building kube-apiserver), and kubectl for the demo. Idempotent and quiet when
# everything is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive DENO_NO_UPDATE_CHECK=1

DENO_VERSION=2.9.6
if ! command -v deno >/dev/null 2>&1 || [ "$(deno --version 2>/dev/null | head -n1 | awk '{print $2}')" != "$DENO_VERSION" ]; then
  echo "install-deps: installing deno@$DENO_VERSION from npm" >&2
  npm install -g --silent "deno@$DENO_VERSION" >&2
fi

need=()
command -v knotd >/dev/null 2>&1 || need+=(knot)
command -v keymgr >/dev/null 2>&1 || need+=(knot)
command -v knsupdate >/dev/null 2>&1 || need+=(knot-dnsutils)
command -v named >/dev/null 2>&1 || need+=(bind9)
command -v nsupdate >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v tsig-keygen >/dev/null 2>&1 || need+=(bind9)
command -v pebble >/dev/null 2>&1 || need+=(pebble)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
if [ "${NOTARIAT_SKIP_KUBE:-}" != 1 ]; then
  command -v go >/dev/null 2>&1 || need+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need+=(golang-github-modern-go-reflect2-dev)
  command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
  command -v rsync >/dev/null 2>&1 || need+=(rsync)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# The Debian packages enable system services; the harness runs its own instances on loopback ports.
for svc in knot named bind9 etcd; do
  if systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done
exit 0
