#!/usr/bin/env bash
# Runs every fuzz target of the module, one after the other, each for a fixed
# time (go test takes one -fuzz target per run). Before fuzzing, each target
# replays its seed corpus (f.Add and testdata/fuzz/<target>/).
#
#   .ci/fuzz.sh [time]     time per target, a go test -fuzztime value; default 20s
#
# A failing input is written to testdata/fuzz/<target>/ and fails the run;
# commit it with the fix so that plain `go test` replays it from then on.
#
# On a loaded machine Go's fuzz coordinator can give up with "context
# deadline exceeded" although no input failed: it then writes no file under
# testdata/fuzz/. Such a run is not a defect, so that target is run once
# more, and passes if the second run is clean. A run that wrote a failing
# input, or fails in any other way, fails CI at once. (.ci/fuzz_test.sh
# checks this logic with a stand-in for go.)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${1:-20s}"
failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# corpus lists the files of a target's corpus directory, to see new ones.
corpus() { find "$1" -type f 2>/dev/null | sort || true; }

# fuzz runs one target, its output to the terminal and to $log.
fuzz() {
  # New interesting inputs are minimized for at most 5 s, so that the time
  # goes to fuzzing.
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$1" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(cat "$dir"/*_test.go 2>/dev/null | sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' | sort -u || true)
  for target in $targets; do
    printf '\n== %s %s (%s)\n' "$pkg" "$target" "$fuzztime"
    before=$(corpus "$dir/testdata/fuzz/$target")
    if fuzz "$pkg" "$target"; then
      continue
    fi
    if grep -q 'context deadline exceeded' "$log" && [ "$(corpus "$dir/testdata/fuzz/$target")" = "$before" ]; then
      printf '\n== %s %s: the fuzz coordinator timed out without a failing input; running it once more\n' "$pkg" "$target"
      if fuzz "$pkg" "$target"; then
        continue
      fi
    fi
    failed+=("$pkg $target")
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nfuzzing failed: %s\n' "${failed[@]}"
  exit 1
fi
