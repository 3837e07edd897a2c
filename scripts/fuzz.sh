#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/tests/fuzz for SECONDS each, over a copy of
# its seed corpus in a temp dir (the repo is never written). Prints per target the
# executions done and whether it found anything, then "N passed, M failed".
# A failing target's temp dir is kept and its reproducer printed in hex.
# FUZZ_JOBS targets run at once (default 2: CI has two cores).
#
#   scripts/fuzz.sh BUILD_DIR SECONDS_PER_TARGET [TARGET...]
set -uo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS_PER_TARGET [TARGET...]" >&2
  exit 2
fi
build=$1 seconds=$2
shift 2
jobs=${FUZZ_JOBS:-2}
src=$(cd "$(dirname "$0")/.." && pwd)/tests/fuzz

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for f in "$src"/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
fi

# Runs one target; writes its report to $3 and exits 0 (passed) or 1 (failed).
run_one() {
  local t=$1 work=$2 report=$3 bin=$build/tests/fuzz/$1 rc execs rate a
  if [[ ! -x $bin ]]; then
    echo "$t: FAILED: $bin not built (configure with CXX=clang++-14 -Dfuzz=true)" >"$report"
    rm -rf "$work"
    return 1
  fi
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d $src/corpus/$t ]]; then cp -r "$src/corpus/$t/." "$work/corpus/"; fi
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  if [[ $rc -eq 0 ]]; then
    echo "$t: ok, ${execs:-?} execs (${rate:-?}/s), nothing found" >"$report"
    return 0
  fi
  {
    echo "$t: FAILED (libFuzzer exit $rc) after ${execs:-?} execs; log and reproducer in $work"
    grep -E 'ERROR: |invariant violated|SUMMARY: |runtime error' "$work/log" | head -5 | sed 's/^/  /'
    for a in "$work"/artifacts/*; do
      [[ -f $a ]] || continue
      echo "  reproducer $(basename "$a") ($(stat -c %s "$a") bytes):"
      od -An -v -tx1 "$a" | tr -d ' \n' | fold -w 64 | head -20 | sed 's/^/    /'
      echo
    done
  } >"$report"
  return 1
}

results=$(mktemp -d "${TMPDIR:-/tmp}/baton-fuzz-results.XXXXXX")
declare -A work_of pid_of
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
  work_of[$t]=$(mktemp -d "${TMPDIR:-/tmp}/baton-fuzz-$t.XXXXXX")
  run_one "$t" "${work_of[$t]}" "$results/$t" &
  pid_of[$t]=$!
done

passed=0 failed=0
for t in "${targets[@]}"; do
  if wait "${pid_of[$t]}"; then
    passed=$((passed + 1))
    rm -rf "${work_of[$t]}"
  else
    failed=$((failed + 1))
  fi
  cat "$results/$t"
done
rm -rf "$results"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
