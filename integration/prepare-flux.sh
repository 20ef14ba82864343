#!/usr/bin/env bash
# prepare-flux.sh makes a private, git-ignored copy of the Flux module version
# that InfluxDB (as required in a module file of ours) depends on, with the cgo
# binding to Flux's Rust library (libflux/go/libflux) replaced by our pure-Go
# stand-in, fluxstub/libflux_stub.go.txt. The module file names the copy:
#
#   ./prepare-flux.sh                  # go.mod (InfluxDB v2.8.0):  ./.flux
#   ./prepare-flux.sh go.v2.10.mod     # InfluxDB v2.10.0:          ./.flux-v2.10
#
# where the module file says, e.g.
#   replace github.com/influxdata/flux => ./.flux
#
# Idempotent: when the copy already matches the Flux version and the
# stand-in, it exits at once. Nothing of Flux's source is committed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

modfile="${1:-go.mod}"
stub="fluxstub/libflux_stub.go.txt"
libflux="libflux/go/libflux"

# required MODULE GOMOD prints the version of MODULE that GOMOD requires
# (single-line or block form of require).
required() {
	awk -v m="$1" '$1 == "replace" || $1 == "exclude" { next }
		{ for (i = 1; i < NF; i++) if ($i == m && $(i+1) ~ /^v[0-9]/) { print $(i+1); exit } }' "$2"
}

# Which InfluxDB version do we build against? Read it from the module file.
influx_version="$(required github.com/influxdata/influxdb/v2 "$modfile")"
if [[ -z "$influx_version" ]]; then
	echo "prepare-flux: github.com/influxdata/influxdb/v2 is not required in $modfile" >&2
	exit 1
fi

# Where does the module file want the copy? Its replace directive says.
dest="$(awk '$1 == "replace" && $2 == "github.com/influxdata/flux" && $3 == "=>" { print $4; exit }' "$modfile")"
if [[ "$dest" != ./.flux* ]]; then
	echo "prepare-flux: $modfile must replace github.com/influxdata/flux with a ./.flux… directory, not '$dest'" >&2
	exit 1
fi
dest="${dest#./}"

stub_sum="$(sha256sum "$stub" | cut -d' ' -f1)"
stamp="$dest/.prepared"

# Fast path: the stamp records the InfluxDB version and the stand-in's hash.
want_stamp="influxdb=$influx_version stub=$stub_sum"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want_stamp"* ]]; then
	exit 0
fi

# Run module queries outside our module: the copy may not exist yet, and our
# module file's replace directive would then make the go command refuse to work.
gomod() { (cd / && GOWORK=off go "$@"); }

influx_gomod="$(gomod mod download -json "github.com/influxdata/influxdb/v2@$influx_version" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
flux_version="$(required github.com/influxdata/flux "$influx_gomod")"
if [[ -z "$flux_version" ]]; then
	echo "prepare-flux: cannot find the flux requirement in $influx_gomod" >&2
	exit 1
fi
# The module proxy does not serve the source of every Flux release: for
# v0.201.0, which InfluxDB v2.10.0 requires, it answers 403 "This module
# version is not available". Such a release's stand-in is made from the
# nearest older release the proxy does serve. Flux v0.201.0 raised
# dependency versions; in Flux's history up to July 2026 (the newest we could
# read) the only Go file changed since v0.200.0 is
# libflux/go/libflux/buildinfo.gen.go, a list of the Rust sources' checksums
# that only the cgo binding uses.
source_version="$flux_version"
case "$flux_version" in
v0.201.0) source_version=v0.200.0 ;;
esac
flux_dir="$(gomod mod download -json "github.com/influxdata/flux@$source_version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [[ ! -d "$flux_dir/$libflux" ]]; then
	echo "prepare-flux: $flux_dir/$libflux not found" >&2
	exit 1
fi

tmp="$(mktemp -d "$here/.flux.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

cp -R "$flux_dir/." "$tmp/"
chmod -R u+w "$tmp"

# Drop the cgo files (and the tests that exercise them) of the binding.
for f in "$tmp/$libflux"/*.go; do
	if [[ "$f" == *_test.go ]] || grep -q '^import "C"' "$f"; then
		rm -f "$f"
	fi
done
rm -rf "$tmp/$libflux/testdata"
cp "$stub" "$tmp/$libflux/stub.go"

echo "$want_stamp flux=$flux_version source=$source_version" >"$tmp/.prepared"

rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "prepare-flux: $dest is flux $flux_version (source: $source_version, for influxdb $influx_version) with the pure-Go libflux stand-in" >&2
