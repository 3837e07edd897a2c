#!/usr/bin/env bash
# Runs every benchmark against build dir $1 (default: build); `make bench` calls it.
# Each writes its report and CSV to bench/results/ and prints the report.
#   bench/run.sh [BUILD_DIR]
# TLS_CORE_BENCH_ARGS: extra options for tls_core_bench (e.g. "--seconds 2 --core 1").
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
cd "${ROOT}" || exit 1
[[ $(id -u) -eq 0 ]] || { echo "bench: run as root (namespaces, DPDK)" >&2; exit 1; }

failed=0

# Per-core TLS limits (bench/tls_core_bench.cc): one process on one core, under a minute,
# no testbed. Writes bench/results/tls_core-YYYYmmdd-HHMMSS-<commit>.{md,csv}.
run_tls_core() {
  local bin="${BUILD}/bench/tls_core_bench" commit stamp out tmp
  [[ -x ${bin} ]] || { echo "bench: no ${bin} (build first)" >&2; return 1; }
  commit=$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git -C "${ROOT}" status --porcelain 2>/dev/null) ]] && commit="${commit}-dirty"
  stamp=$(date +%Y%m%d-%H%M%S)
  mkdir -p "${ROOT}/bench/results"
  out="${ROOT}/bench/results/tls_core-${stamp}-${commit}"
  tmp=$(mktemp)
  # shellcheck disable=SC2086  # TLS_CORE_BENCH_ARGS is a list of options
  if ! timeout 300 "${bin}" --commit "${commit}" ${TLS_CORE_BENCH_ARGS:-} >"${tmp}"; then
    rm -f "${tmp}"
    return 1
  fi
  grep -Ev '^(bench|tls_core),' "${tmp}" >"${out}.md"
  grep -E '^(bench|tls_core),' "${tmp}" >"${out}.csv"
  rm -f "${tmp}"
  cat "${out}.md"
  echo "(written to ${out}.md and .csv)"
}
echo "== bench/tls_core_bench"
run_tls_core || { echo "bench: tls_core_bench failed" >&2; failed=1; }

benches=(bench/l4_compare.sh)
for b in "${benches[@]}"; do
  echo "== ${b}"
  timeout 1800 "${b}" --build "${BUILD}" || { echo "bench: ${b} failed" >&2; failed=1; }
done
exit "${failed}"
