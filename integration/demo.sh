#!/usr/bin/env bash
# demo.sh: try influx-token-mcp without an InfluxDB account. From a clone:
#
#   ./integration/demo.sh                          # serves on 127.0.0.1:8086
#   ./integration/demo.sh -addr 127.0.0.1:18086    # another port
#   ./integration/demo.sh -as auditor-restricted   # another fixture token
#   INFLUXDB=2.8.0 ./integration/demo.sh           # InfluxDB v2.8.0
#
# It builds the MCP server into bin/influx-token-mcp, prepares the Flux
# stand-in and builds the in-memory InfluxDB test server of the integration
# suite into bin/influx-testserver (both git-ignored), then runs the test
# server seeded with the demo org. By default that is InfluxDB v2.10.0,
# which stores hashed tokens as influxd does since 2.9: the token list
# carries no token values. INFLUXDB=2.8.0 runs v2.8.0, whose list carries
# every value in clear text (-hashed-tokens switches either way). The server
# prints `export INFLUX_HOST=… INFLUX_TOKEN=…`, a claude_desktop_config.json
# block whose "command" is the absolute path of bin/influx-token-mcp, every
# demo token and how many token values InfluxDB's list returned, and serves
# until Ctrl-C. All data lives in memory.
#
# Arguments go to influx-testserver (-addr, -as, -hashed-tokens, -seed,
# -token, -v; -h lists them). Needs Go 1.26 (or a go command that can fetch
# it) and bash; for v2.10.0 the go command fetches Go 1.27.3 from the module
# proxy. The first run of a version downloads and compiles InfluxDB's
# dependencies (minutes); later runs start in seconds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/bin"

say() { echo "demo: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
	say "the go command is not on PATH; install Go 1.26 or later from https://go.dev/dl/"
	exit 1
fi

influxdb="${INFLUXDB:-2.10.0}"
case "$influxdb" in
2.8.0) modfile=go.mod ;;
2.10.0) modfile=go.v2.10.mod ;;
*)
	say "INFLUXDB=$influxdb: supported are 2.10.0 (the default) and 2.8.0"
	exit 1
	;;
esac

mkdir -p "$bin"

say "building influx-token-mcp into $bin/influx-token-mcp"
(cd "$root" && go build -o "$bin/influx-token-mcp" .)

say "building the InfluxDB v$influxdb test server (the first time this downloads and compiles InfluxDB's dependencies: minutes)"
(
	cd "$root/integration"
	if [[ "$influxdb" == 2.10.0 ]]; then
		# InfluxDB v2.10.0 needs Go 1.26.9 or newer; the go command fetches
		# this toolchain from the module proxy on first use (about 10 s).
		# Only this build uses it: the MCP server above stays on Go 1.26.
		export GOTOOLCHAIN=go1.27.3
	fi
	./prepare-flux.sh "$modfile"
	go build -modfile="$modfile" -o "$bin/influx-testserver" ./cmd/influx-testserver
)

say "starting the InfluxDB test server"
# exec: the server gets Ctrl-C and SIGTERM itself (a `go run` in between
# would leave it running when only the go command is terminated).
exec "$bin/influx-testserver" -mcp-binary "$bin/influx-token-mcp" ${1+"$@"}
