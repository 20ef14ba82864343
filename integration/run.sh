#!/usr/bin/env bash
# run.sh builds and tests the integration module: the real InfluxDB v2.8.0
# token API (package testserver) and the tests that run against it.
#
#   integration/run.sh              # everything
#   integration/run.sh -run Hashed  # extra arguments go to `go test`
#
# The first run downloads InfluxDB's dependencies into the Go module cache
# and compiles them (minutes); later runs take seconds.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

./prepare-flux.sh
go build ./...
go vet ./...
# -count=1: the tests run the server built from the root module, which the
# go command does not see as an input of these tests, so a cached pass
# could hide a changed server.
go test -count=1 ./... "$@"
