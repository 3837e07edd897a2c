#!/usr/bin/env bash
# Reserves 2 MiB hugepages for DPDK when the machine allows it, idempotently, and
# prints the EAL memory arguments to use: nothing extra when hugepages are there,
# "--no-huge -m MB" when they are not (DPDK then runs on ordinary pages, slower to
# set up, same behaviour).
#   scripts/hugepages.sh [PAGES]   (default 512 pages = 1 GiB)
set -euo pipefail
pages=${1:-512}
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
say() { printf 'hugepages: %s\n' "$*" >&2; }

if [[ -w $nr ]]; then
  have=$(cat "$nr")
  if ((have < pages)); then
    echo "$pages" >"$nr" 2>/dev/null || true
    have=$(cat "$nr")
  fi
  if ! grep -qs ' hugetlbfs ' /proc/mounts; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if ((free >= 128)) && grep -qs ' hugetlbfs ' /proc/mounts; then
    say "$have x 2 MiB reserved, $free free"
    echo ""
    exit 0
  fi
fi
say "hugepages not available here: running DPDK with --no-huge"
echo "--no-huge -m 512"
