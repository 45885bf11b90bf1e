#!/usr/bin/env bash
# Fetches tinyproxy (an HTTP proxy with CONNECT, from Debian's own archive) into a cache without installing it:
# `apt-get download`, `dpkg-deb -x`. The tests of a kubeconfig's proxy-url send the API server's traffic
# through it. Prints the binary's path.
set -euo pipefail
cache="${NOTARIAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/notariat}"
dir="$cache/tinyproxy"
bin="$dir/x/usr/bin/tinyproxy"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$dir"
exec 9>"$dir/fetch.lock"
flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
fetch() { (cd "$dir" && rm -f tinyproxy-bin_*.deb && apt-get "$@" download tinyproxy-bin >&2 && dpkg-deb -x tinyproxy-bin_*.deb x); }
# The machine's own package lists when it has them; else a private list of its archive and suite.
if ! fetch 2>/dev/null; then
  mkdir -p "$dir/lists/partial"
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  suite=$(awk '/^Suites:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  [ -n "$suite" ] || suite=$(awk '/^deb /{print $3; exit}' /etc/apt/sources.list)
  echo "deb $uri $suite main" > "$dir/sources.list"
  opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$dir/lists")
  apt-get "${opts[@]}" update -qq >&2
  fetch "${opts[@]}"
fi
[ -x "$bin" ] || { echo "install-tinyproxy: no binary at $bin" >&2; exit 1; }
echo "$bin"
