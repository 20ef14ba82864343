#!/usr/bin/env bash
# demo.sh: try influx-token-mcp without an InfluxDB account. From a clone:
#
#   ./integration/demo.sh                          # serves on 127.0.0.1:8086
#   ./integration/demo.sh -addr 127.0.0.1:18086    # another port
#   ./integration/demo.sh -as auditor-restricted   # another fixture token
#
# It builds the MCP server into bin/influx-token-mcp, prepares the Flux
# stand-in and builds the in-memory InfluxDB v2.8.0 test server of the
# integration suite into bin/influx-testserver (both git-ignored), then runs
# the test server seeded with the demo org. The server prints
# `export INFLUX_HOST=… INFLUX_TOKEN=…`, a claude_desktop_config.json block
# whose "command" is the absolute path of bin/influx-token-mcp, and every
# demo token, and serves until Ctrl-C. All data lives in memory.
#
# Arguments go to influx-testserver (-addr, -as, -hashed-tokens, -seed,
# -token, -v; -h lists them). Needs Go 1.26 (or a go command that can fetch
# it) and bash. The first run downloads and compiles InfluxDB's dependencies
# (minutes); later runs start in seconds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/bin"

say() { echo "demo: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
	say "the go command is not on PATH; install Go 1.26 or later from https://go.dev/dl/"
	exit 1
fi

mkdir -p "$bin"

say "building influx-token-mcp into $bin/influx-token-mcp"
(cd "$root" && go build -o "$bin/influx-token-mcp" .)

say "building the InfluxDB test server (the first time this downloads and compiles InfluxDB's dependencies: minutes)"
(cd "$root/integration" && ./prepare-flux.sh && go build -o "$bin/influx-testserver" ./cmd/influx-testserver)

say "starting the InfluxDB test server"
# exec: the server gets Ctrl-C and SIGTERM itself (a `go run` in between
# would leave it running when only the go command is terminated).
exec "$bin/influx-testserver" -mcp-binary "$bin/influx-token-mcp" ${1+"$@"}
