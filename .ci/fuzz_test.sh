#!/usr/bin/env bash
# Checks .ci/fuzz.sh's decisions without fuzzing: a stand-in for go, first
# on PATH, plays one package with one fuzz target whose runs end as a
# scenario says, and the script's exit status and number of runs are
# compared with what must happen.
#
#   .ci/fuzz_test.sh       exits 0 when every scenario ends as it must
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/fuzz.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bin" "$work/repo/.ci" "$work/pkg"
cp "$script" "$work/repo/.ci/fuzz.sh"
printf 'package p\n\nfunc FuzzThing(f *testing.F) {}\n' >"$work/pkg/p_test.go"

# The stand-in go: "list" names the package and its directory; "test" plays
# the next outcome of $SCENARIO (comma-separated), counting runs in $work/runs.
cat >"$work/bin/go" <<'GO'
#!/usr/bin/env bash
case "$1" in
list)
  if [ "$2" = "-f" ]; then echo "$PKGDIR"; else echo example.com/p; fi ;;
test)
  n=$(( $(cat "$RUNS" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$RUNS"
  outcome=$(echo "$SCENARIO" | cut -d, -f"$n")
  case "$outcome" in
  ok) echo "PASS"; exit 0 ;;
  deadline) printf -- '--- FAIL: FuzzThing (20.01s)\n    context deadline exceeded\nFAIL\n'; exit 1 ;;
  newfile) # a real failing input, reported alongside a deadline
    mkdir -p "$PKGDIR/testdata/fuzz/FuzzThing"
    echo 'go test fuzz v1' >"$PKGDIR/testdata/fuzz/FuzzThing/$n"
    printf -- '--- FAIL: FuzzThing\n    context deadline exceeded\n    Failing input written to testdata/fuzz/FuzzThing/%s\nFAIL\n' "$n"; exit 1 ;;
  fail) printf -- '--- FAIL: FuzzThing\n    panic: index out of range\nFAIL\n'; exit 1 ;;
  *) echo "stand-in go: no outcome for run $n" >&2; exit 2 ;;
  esac ;;
*) echo "stand-in go: unexpected $*" >&2; exit 2 ;;
esac
GO
chmod +x "$work/bin/go"

failures=0
# check SCENARIO WANT_STATUS WANT_RUNS
check() {
  rm -rf "$work/runs" "$work/pkg/testdata"
  status=0
  PATH="$work/bin:$PATH" SCENARIO="$1" RUNS="$work/runs" PKGDIR="$work/pkg" \
    bash "$work/repo/.ci/fuzz.sh" 1s >"$work/out" 2>&1 || status=$?
  runs=$(cat "$work/runs" 2>/dev/null || echo 0)
  if [ "$status" -ne "$2" ] || [ "$runs" -ne "$3" ]; then
    echo "FAIL $1: exit $status after $runs runs, want exit $2 after $3 runs"
    sed 's/^/    /' "$work/out"
    failures=$((failures + 1))
  else
    echo "ok   $1: exit $status after $runs runs"
  fi
}

check ok 0 1
check fail 1 1
check deadline,ok 0 2        # the coordinator timed out, the second run is clean
check deadline,deadline 1 2  # twice is not luck
check deadline,fail 1 2
check newfile 1 1            # a failing input was written: a defect, no second run
check newfile,ok 1 1

[ "$failures" -eq 0 ]
