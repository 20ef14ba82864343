#!/usr/bin/env bash
# Runs every fuzz target of the module, one after the other, each for a fixed
# time (go test takes one -fuzz target per run). Before fuzzing, each target
# replays its seed corpus (f.Add and testdata/fuzz/<target>/).
#
#   .ci/fuzz.sh [time]     time per target, a go test -fuzztime value; default 20s
#
# A failing input is written to testdata/fuzz/<target>/ and fails the run;
# commit it with the fix so that plain `go test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${1:-20s}"
failed=()
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(cat "$dir"/*_test.go 2>/dev/null | sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' | sort -u || true)
  for target in $targets; do
    printf '\n== %s %s (%s)\n' "$pkg" "$target" "$fuzztime"
    # New interesting inputs are minimized for at most 5 s, so that the time
    # goes to fuzzing.
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg"; then
      failed+=("$pkg $target")
    fi
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nfuzzing failed: %s\n' "${failed[@]}"
  exit 1
fi
