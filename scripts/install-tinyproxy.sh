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
(cd "$dir" && rm -f tinyproxy-bin_*.deb && apt-get download tinyproxy-bin >&2 && dpkg-deb -x tinyproxy-bin_*.deb x)
[ -x "$bin" ] || { echo "install-tinyproxy: no binary at $bin" >&2; exit 1; }
echo "$bin"
