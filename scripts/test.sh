#!/usr/bin/env bash
# Runs every test layer against build dir $1 (default: build), then prints one summary
# line "N passed, M failed". Called by `make test`, which builds first.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
cd "${ROOT}" || exit 1
[[ $(id -u) -eq 0 ]] || { echo "test: run as root (namespaces, DPDK)" >&2; exit 1; }

passed=0
failed=0
failures=()
record() {  # record NAME STATUS
  if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

# Hugepages for the DPDK tests (or --no-huge, said by the script).
scripts/hugepages.sh >/dev/null

echo "== unit, crafted-packet and in-memory tests (meson test)"
meson test -C "${BUILD}" --print-errorlogs --num-processes 2
record "meson test" $?
# Count meson's individual tests too, from its JSON log.
read -r mp mf < <(/usr/bin/python3 - "${BUILD}/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"): p += 1
    else: f += 1
print(p, f)
PY
)

# Every libFuzzer target for a bounded time over its seed corpus (tests/fuzz/README.md); a
# crash or a violated invariant fails the run. `make test` builds FUZZ_BUILD first;
# FUZZ_TEST_SECONDS=0 skips this layer.
fuzz_build="${FUZZ_BUILD:-build-fuzz}"
fuzz_seconds="${FUZZ_TEST_SECONDS:-15}"
if [[ ${fuzz_seconds} != 0 ]]; then
  echo "== fuzz targets, ${fuzz_seconds} s each (scripts/fuzz.sh ${fuzz_build})"
  if [[ -d ${fuzz_build}/tests/fuzz ]]; then
    scripts/fuzz.sh "${fuzz_build}" "${fuzz_seconds}"
    record "fuzz" $?
  else
    echo "test: no fuzz build in ${fuzz_build} (make fuzz-build, or FUZZ_TEST_SECONDS=0)" >&2
    record "fuzz" 1
  fi
fi

if ip netns list | grep -q '^bt-'; then
  echo "test: a testbed is already up; remove it with tests/testbed/testbed.sh down" >&2
  exit 1
fi
for t in tests/e2e/*_test.sh; do
  echo "== ${t}"
  BATON="${ROOT}/${BUILD}/controlplane/baton" timeout 600 "${t}"
  record "${t}" $?
done

echo
echo "meson tests: ${mp} passed, ${mf} failed; end-to-end scripts and suites below"
if ((failed)); then printf 'failed: %s\n' "${failures[@]}"; fi
echo "${passed} passed, ${failed} failed"
((failed == 0))
