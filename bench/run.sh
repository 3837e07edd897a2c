#!/usr/bin/env bash
# Runs every benchmark against build dir $1 (default: build); `make bench` calls it.
# Each writes its report and CSV to bench/results/ and prints the report.
#   bench/run.sh [BUILD_DIR]
# TLS_CORE_BENCH_ARGS: extra options for tls_core_bench (e.g. "--seconds 2 --core 1").
# DP_TLS_BENCH_ARGS: extra options for dp_tls_bench (e.g. "--seconds 5 --conns 16 --core 1").
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
cd "${ROOT}" || exit 1
[[ $(id -u) -eq 0 ]] || { echo "bench: run as root (namespaces, DPDK)" >&2; exit 1; }

failed=0

# run_core_bench NAME KEY ARGS: one in-memory benchmark binary bench/NAME on one core,
# under two minutes, no testbed. Its CSV lines start with "bench," or "KEY,"; the rest
# is the Markdown report. Writes bench/results/KEY-YYYYmmdd-HHMMSS-<commit>.{md,csv}.
run_core_bench() {
  local name=$1 key=$2 args=$3 bin commit stamp out tmp
  bin="${BUILD}/bench/${name}"
  [[ -x ${bin} ]] || { echo "bench: no ${bin} (build first)" >&2; return 1; }
  commit=$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git -C "${ROOT}" status --porcelain 2>/dev/null) ]] && commit="${commit}-dirty"
  stamp=$(date +%Y%m%d-%H%M%S)
  mkdir -p "${ROOT}/bench/results"
  out="${ROOT}/bench/results/${key}-${stamp}-${commit}"
  tmp=$(mktemp)
  # shellcheck disable=SC2086  # args is a list of options
  if ! timeout 120 "${bin}" --commit "${commit}" ${args} >"${tmp}"; then
    rm -f "${tmp}"
    return 1
  fi
  grep -Ev "^(bench|${key})," "${tmp}" >"${out}.md"
  grep -E "^(bench|${key})," "${tmp}" >"${out}.csv"
  rm -f "${tmp}"
  cat "${out}.md"
  echo "(written to ${out}.md and .csv)"
}

# Per-core TLS limits (bench/tls_core_bench.cc): one process on one core, under a minute.
echo "== bench/tls_core_bench"
run_core_bench tls_core_bench tls_core "${TLS_CORE_BENCH_ARGS:-}" || { echo "bench: tls_core_bench failed" >&2; failed=1; }

# The TLS data plane on one core, in memory (bench/dp_tls_bench.cc): ProxyEngine with a
# TLS listener between our own TLS clients and TCP backends, under a minute.
echo "== bench/dp_tls_bench"
run_core_bench dp_tls_bench dp_tls "${DP_TLS_BENCH_ARGS:-}" || { echo "bench: dp_tls_bench failed" >&2; failed=1; }

# Testbed comparisons, each with its own time limit so that `make bench` stays under
# 20 min in all (tls_core 120 + dp_tls 120 + 210 + 450 + 300 s at most): l4_compare (1 GiB over L4, baton vs HAProxy,
# 3 rounds: ~2-3 min), tls_compare (TLS 1.3 termination, baton vs HAProxy vs NGINX,
# 3 rounds: ~5-6 min). docs/BENCH.md says what they measure.
# workers_compare (1 vs 2 workers and the stall at adoption, 2 rounds: ~2 min).
benches=(bench/l4_compare.sh bench/tls_compare.sh bench/workers_compare.sh)
declare -A limit=([bench/l4_compare.sh]=210 [bench/tls_compare.sh]=450 [bench/workers_compare.sh]=300)
for b in "${benches[@]}"; do
  echo "== ${b}"
  timeout "${limit[${b}]:-600}" "${b}" --build "${BUILD}" || { echo "bench: ${b} failed" >&2; failed=1; }
done
exit "${failed}"
