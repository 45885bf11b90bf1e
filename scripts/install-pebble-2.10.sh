#!/usr/bin/env bash
# Fetches pebble 2.10 (ARI, profiles, EAB, alternate chains, dns-persist-01, dns-account-01) from Debian's unstable
# suite into a cache, without touching the machine's apt configuration: a private sources list and state dir,
# `apt-get download`, `dpkg-deb -x`. Debian 12 ships pebble 2.4; its 2.10 binary runs here (libc6 >= 2.34 only).
# Prints the binary's path.
set -euo pipefail
cache="${NOTARIAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/notariat}"
dir="$cache/pebble-2.10"
bin="$dir/x/usr/bin/pebble"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$dir/lists/partial"
exec 9>"$dir/fetch.lock"
flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
echo "deb $uri sid main" > "$dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$dir/lists")
apt-get "${opts[@]}" update -qq >&2
(cd "$dir" && rm -f pebble_*.deb && apt-get "${opts[@]}" download pebble=2.10.0+ds1-2 >&2 && dpkg-deb -x pebble_*.deb x)
[ -x "$bin" ] || { echo "install-pebble-2.10: no binary at $bin" >&2; exit 1; }
echo "$bin"
