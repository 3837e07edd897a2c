#!/usr/bin/env bash
# Runs every benchmark against build dir $1 (default: build); `make bench` calls it.
# Each writes its report and CSV to bench/results/ and prints the report.
#   bench/run.sh [BUILD_DIR]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
cd "${ROOT}" || exit 1
[[ $(id -u) -eq 0 ]] || { echo "bench: run as root (namespaces, DPDK)" >&2; exit 1; }

failed=0
benches=(bench/l4_compare.sh)
for b in "${benches[@]}"; do
  echo "== ${b}"
  timeout 1800 "${b}" --build "${BUILD}" || { echo "bench: ${b} failed" >&2; failed=1; }
done
exit "${failed}"
