#!/usr/bin/env bash
# Measures influx-token-mcp: start-up to the answer to initialize against a
# minimal mcp-go server, RSS, list_tokens latency against a local stand-in
# InfluxDB next to a bare HTTP GET, the 10,000-token case and output size,
# then the Go benchmarks. Prints medians and ratios; asserts no timing.
#
#   bench/run.sh                 # about two minutes on 2 cores
#   RUNS=31 CALLS=60 bench/run.sh   # more samples
#   GOBENCH=0 bench/run.sh       # skip the Go benchmarks
set -euo pipefail

cd "$(dirname "$0")/.."
runs=${RUNS:-15}
calls=${CALLS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== Machine"
echo "cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(go version)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with local changes)')"
echo

# Built as users build it (go build / go install), no special flags.
go build -o "$tmp/influx-token-mcp" .
go build -o "$tmp/baseline" ./bench/baseline
go build -o "$tmp/standin" ./bench/standin
go build -o "$tmp/measure" ./bench/measure
echo "binary size: influx-token-mcp $(($(stat -c %s "$tmp/influx-token-mcp") / 1024)) KiB, baseline $(($(stat -c %s "$tmp/baseline") / 1024)) KiB"
echo

"$tmp/measure" -server "$tmp/influx-token-mcp" -baseline "$tmp/baseline" -standin "$tmp/standin" -runs "$runs" -calls "$calls"

if [ "${GOBENCH:-1}" != 0 ]; then
	echo
	echo "== Go benchmarks (go test -bench . -benchmem)"
	go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" ./influx ./tools
fi
