#!/usr/bin/env bash
# Measures influx-token-mcp as an assistant runs it, then runs the Go
# benchmarks. Everything is built from this checkout into a temporary
# directory; only Go and a shell are needed. It prints medians and ratios
# and asserts no timing (benchmarks are not tests).
#
#   bench/run.sh                     # about a minute on 2 idle cores
#   RUNS=31 CALLS=60 bench/run.sh    # more samples (default 15 and 30)
#   REAL=1 bench/run.sh              # also time calls against the real InfluxDB
#                                    # v2.8.0 handlers (integration/; the first
#                                    # build of those takes minutes)
#   HUGE=0 ALLACCESS=0 bench/run.sh  # skip the lists past the old 32 MiB cap
#                                    # (default 300,000 tokens, 347 MB, and
#                                    # 10,000 all-access tokens, 68 MB)
#   MANY=0 bench/run.sh              # skip access questions, a deep page and
#                                    # 8 concurrent calls over 100,000 tokens
#   GOBENCH=0 bench/run.sh           # skip the Go benchmarks
#   BENCHTIME=2s bench/run.sh        # longer Go benchmarks (default 500ms)
#
# Measured (bench/measure): start-up to the answer to initialize against a
# minimal mcp-go server (bench/baseline), alternating, RSS from
# /proc/<pid>/status (VmRSS, VmHWM), list_tokens against a local stand-in
# InfluxDB (bench/standin) next to a bare GET of the same URL, 10,000 tokens
# with three permissions each, and the size of a page of 50; then page and
# summary calls, time and peak RSS, on lists far past 32 MiB; an audit
# session (the audit_tokens prompt's calls) over 10,000 tokens with the token
# list shared and not (INFLUX_CACHE_TTL=0), with the lists it fetched; access
# questions, a deep page and 8 concurrent access questions over 100,000
# tokens; each next to a bare GET of the same body (the floor). With REAL=1
# also an audit session against the real handlers.
set -euo pipefail

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== Machine"
echo "cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(go version)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- . ':!integration' 2>/dev/null || echo ' with local changes')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# Built the way users build it (go build / go install), without extra flags.
go build -o "$tmp/influx-token-mcp" .
go build -o "$tmp/baseline" ./bench/baseline
go build -o "$tmp/standin" ./bench/standin
go build -o "$tmp/measure" ./bench/measure
real=()
if [ "${REAL:-0}" != 0 ]; then
	(cd integration && ./prepare-flux.sh >/dev/null && go build -o "$tmp/influx-testserver" ./cmd/influx-testserver)
	real=(-real "$tmp/influx-testserver")
fi
echo "binary size: influx-token-mcp $(($(stat -c %s "$tmp/influx-token-mcp") / 1024)) KiB, baseline $(($(stat -c %s "$tmp/baseline") / 1024)) KiB"
echo

"$tmp/measure" -server "$tmp/influx-token-mcp" -baseline "$tmp/baseline" -standin "$tmp/standin" \
	-runs "${RUNS:-15}" -calls "${CALLS:-30}" -huge "${HUGE:-300000}" -allaccess "${ALLACCESS:-10000}" -many "${MANY:-100000}" "${real[@]}"

if [ "${GOBENCH:-1}" != 0 ]; then
	echo
	echo "== Go benchmarks (go test -run '^\$' -bench . -benchmem -benchtime ${BENCHTIME:-500ms} ./influx ./tools)"
	go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-500ms}" ./influx ./tools
fi
