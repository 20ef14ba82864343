#!/usr/bin/env bash
# run.sh builds and tests the integration module against each InfluxDB
# version it supports: the real InfluxDB token API (package testserver) and
# every test of the module run once against v2.8.0 (go.mod) and once against
# v2.10.0 (go.v2.10.mod). The source is the same; only the module file
# differs.
#
#   integration/run.sh                          # v2.8.0, then v2.10.0
#   INFLUXDB=2.10.0 integration/run.sh          # one version (2.8.0 or 2.10.0)
#   integration/run.sh -run Hashed -v           # extra arguments go to `go test`
#
# The first run of a version downloads InfluxDB's dependencies into the Go
# module cache and compiles them (minutes); later runs take seconds.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# The MCP server under test, built once for both versions by the go command
# this script was started with (the root module's Go 1.26, as users build
# it), unless INFLUX_TOKEN_MCP_BINARY names a prebuilt one.
if [[ -z "${INFLUX_TOKEN_MCP_BINARY:-}" ]]; then
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	(cd .. && go build -o "$tmp/influx-token-mcp" .)
	export INFLUX_TOKEN_MCP_BINARY="$tmp/influx-token-mcp"
fi

# test_against VERSION [go test arguments] builds, vets and tests the module
# with the module file of InfluxDB VERSION.
test_against() {
	local version="$1" modfile
	shift
	case "$version" in
	2.8.0) modfile=go.mod ;;
	2.10.0)
		modfile=go.v2.10.mod
		# InfluxDB v2.10.0 needs Go 1.26.9 or newer. The go command fetches
		# this toolchain from the module proxy on first use (about 10 s)
		# and keeps it in the module cache; the root module stays on Go 1.26.
		export GOTOOLCHAIN=go1.27.3
		;;
	*)
		echo "run.sh: INFLUXDB=$version: supported are 2.8.0 and 2.10.0" >&2
		return 1
		;;
	esac
	echo "run.sh: InfluxDB v$version ($modfile, $(go version))" >&2
	./prepare-flux.sh "$modfile"
	go build -modfile="$modfile" ./...
	go vet -modfile="$modfile" ./...
	# -count=1: the tests run the server built from the root module, which
	# the go command does not see as an input of these tests, so a cached
	# pass could hide a changed server.
	go test -modfile="$modfile" -count=1 ./... "$@"
}

for version in ${INFLUXDB:-2.8.0 2.10.0}; do
	# A subshell each, so that one version's GOTOOLCHAIN stays its own.
	(test_against "$version" "$@")
done
