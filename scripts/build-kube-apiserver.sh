#!/usr/bin/env bash
# Builds a real kube-apiserver from Debian's `kubernetes` source package (Debian ships no binary) and caches
# it outside the repository. Prints the binary's path. Only the first run pays the build (~5 min).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on
cache="${NOTARIAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/notariat}"
bin="$cache/kube-apiserver"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

# Source packages need a deb-src entry mirroring the binary one.
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  src=/etc/apt/sources.list.d/debian.sources
  [ -f "$src" ] || { echo "build-kube-apiserver: no $src to derive a deb-src entry from" >&2; exit 1; }
  sed 's/^Types: deb$/Types: deb-src/' "$src" > /etc/apt/sources.list.d/notariat-deb-src.sources
  apt-get update -qq >&2
fi

work="$cache/build"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
echo "build-kube-apiserver: fetching Debian's kubernetes source package" >&2
apt-get source --download-only kubernetes >&2
dsc=$(ls kubernetes_*.dsc | head -n1)
dpkg-source --no-check -x "$dsc" src >&2
cd src
# The vendored reflect2 v1.0.1 corrupts memory under Go >= 1.18; Debian's v1.0.2 does not.
r2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -d "$r2" ] || { echo "build-kube-apiserver: missing $r2 (golang-github-modern-go-reflect2-dev)" >&2; exit 1; }
rm -rf vendor/github.com/modern-go/reflect2
cp -r "$r2" vendor/github.com/modern-go/reflect2
echo "build-kube-apiserver: make WHAT=cmd/kube-apiserver (several minutes)" >&2
make WHAT=cmd/kube-apiserver >&2
out=$(find _output -type f -name kube-apiserver -perm -u+x | head -n1)
[ -n "$out" ] || { echo "build-kube-apiserver: build produced no binary" >&2; exit 1; }
cp "$out" "$bin.tmp" && mv "$bin.tmp" "$bin"
cd "$cache" && rm -rf "$work"
echo "$bin"
