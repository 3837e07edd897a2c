#!/usr/bin/env bash
# End-to-end: box A with 2 workers (af_packet qpairs=2, lcores floating on the CPUs).
# Pings from 20 client addresses are spread over both queues and all answered; a
# neighbour learned by one worker reaches the other; idle workers back off.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT

echo "== workers: box A with 2 workers"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
sed -e 's/^workers = 1 .*/workers = 2/' -e 's/iface=\(front\|back\|repl\)"/iface=\1,qpairs=2"/' \
  "${ROOT}/configs/demo.toml" >"${E2E_TMP}/two-workers.toml"
start_box bt-a "${E2E_TMP}/two-workers.toml" box-a

# Idle back-off: CPU time over 3 s with no traffic, in clock ticks of this process.
ticks() { awk '{ print $14 + $15 }' "/proc/${BOX_PID}/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sleep 3
idle_pct=$(( ($(ticks) - t0) * 100 / (3 * hz) ))
echo "  idle: baton used ${idle_pct}% of one CPU with 2 polling workers"
check "idle workers back off (under 50% of one CPU for both together)" test "${idle_pct}" -lt 50

answered=0
for i in $(seq 11 30); do
  if ip netns exec bt-client ping -c 2 -i 0.05 -W 1 -I "198.18.1.${i}" 198.18.2.11 >/dev/null; then
    answered=$((answered + 1))
  fi
done
check "pings from 20 client addresses all answered (${answered}/20)" test "${answered}" -eq 20

settle_stats
rx0=$(box_stat box-a 's["lcores"][0]["rx_packets"]')
rx1=$(box_stat box-a 's["lcores"][1]["rx_packets"]')
check "both workers received traffic (worker 0: ${rx0}, worker 1: ${rx1})" test "${rx0}" -gt 0 -a "${rx1}" -gt 0
relayed=$(box_stat box-a 's["counters"]["relayed_to_workers"]')
check "neighbours learned by one worker are shared with the other (${relayed})" test "${relayed}" -gt 0
echo_answered=$(box_stat box-a 's["counters"]["icmp_echo_answered"]')
check "ICMP counter adds up over both workers (${echo_answered})" test "${echo_answered}" -eq 40

check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()
echo "workers: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
