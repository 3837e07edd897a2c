#!/usr/bin/env bash
# End-to-end (issue 5): box A with 2 workers (af_packet qpairs=2), 200 concurrent TLS
# transfers, and in the middle of them one worker halts (`baton ctl worker halt 1`,
# as a stuck core would) or sessions are rebalanced (`baton ctl rebalance 0 1 0.5`).
# Every transfer must complete with the right sha256, no RST and no TLS alert, and the
# counters must show the adoptions or hand-offs. Downloads of 20 MiB (halt) and 4 MiB
# (rebalance) through :443 to nginx; uploads through :9443 to the echo service (4 MiB
# each way per connection). A client sees an RST or an alert as an error.
# Prints the stall clients saw (median and worst over the connections).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT
VIP=198.18.100.10
FILES=/var/tmp/baton-testbed-files
CONNS=${FLOW_CONNS:-200}
NAME="flowmove-$$"
CTL="${BATON} ctl --name ${NAME}"

echo "== flow move: 2 workers, ${CONNS} TLS transfers, a worker halts or sessions move"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
# framecnt: 4096 frames per af_packet queue instead of 512, so that 200 flows' bursts
# while one worker does the work of two are not lost in the kernel before baton sees them.
sed -e 's/^workers = 1 .*/workers = 2/' -e 's/iface=\(front\|back\|repl\)"/iface=\1,qpairs=2,framecnt=4096"/' \
  "${ROOT}/configs/demo.toml" >"${E2E_TMP}/two-workers.toml"

# run_clients NAME MODE PORT BYTES TRIGGER: the transfers, with TRIGGER run at 30%.
run_clients() {
  local name=$1 mode=$2 port=$3 bytes=$4 trigger=$5
  ip netns exec bt-client timeout 280 python3 "${ROOT}/tests/e2e/flow_client.py" --mode "${mode}" \
    --host "${VIP}" --port "${port}" --cafile "${FILES}/tls/ca.pem" --file "${FILES}/files/256m.bin" \
    --conns "${CONNS}" --bytes "${bytes}" --trigger "${trigger}" --trigger-at 0.3 --timeout 240 \
    >"${E2E_TMP}/${name}.out" 2>"${E2E_TMP}/${name}.err" || true
  cat "${E2E_TMP}/${name}.out"
}
# field NAME EXPR: a Python expression over the client's JSON `r`.
field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "${E2E_TMP}/$1.out"; }

# scenario NAME MODE PORT BYTES TRIGGER: a fresh box A, the transfers, the checks.
# FLOW_SCENARIOS (a space-separated list of names) runs only those.
scenario() {
  local name=$1 mode=$2 port=$3 bytes=$4 trigger=$5
  [[ -z ${FLOW_SCENARIOS:-} || " ${FLOW_SCENARIOS} " == *" ${name} "* ]] || return 1
  echo "-- ${name}: ${CONNS} x $((bytes >> 20)) MiB ${mode}, then: ${trigger}"
  start_box bt-a "${E2E_TMP}/two-workers.toml" "${name}" --name "${NAME}"
  run_clients "${name}" "${mode}" "${port}" "${bytes}" "${trigger}"
  if [[ ! -s ${E2E_TMP}/${name}.out ]]; then
    echo "  the client printed nothing; its stderr:"
    tail -20 "${E2E_TMP}/${name}.err"
  fi
  check "${name}: every transfer completed with the right sha256 ($(field "${name}" 'r["ok"]' 2>/dev/null)/${CONNS}; first errors: $(field "${name}" 'r["errors"][:2]' 2>/dev/null))" \
    test "$(field "${name}" 'r["ok"]' 2>/dev/null)" = "${CONNS}"
  check "${name}: the trigger ran during the transfers and succeeded" \
    test "$(field "${name}" 'r["trigger_rc"]' 2>/dev/null)" = "0"
  echo "  ${name}: longest gap per client in the 10 s after the trigger: median $(field "${name}" 'r["stall_ms"]["median"]') ms, worst $(field "${name}" 'r["stall_ms"]["worst"]') ms (10 s before: median $(field "${name}" 'r["stall_before_ms"]["median"]') ms, worst $(field "${name}" 'r["stall_before_ms"]["worst"]') ms); $(field "${name}" 'r["mbit_s"]') Mbit/s over $(field "${name}" 'r["seconds"]') s"
  settle_stats
  check "${name}: no TLS alert either way (handshake or session failures)" \
    test "$(box_stat "${name}" 's["counters"]["tls_session_failures"] + s["counters"]["tls_handshake_failures"]')" = 0
  echo "  ${name}: RSTs sent for segments of no session: $(box_stat "${name}" 's["counters"]["resets_sent"]'), steered frames lost: $(box_stat "${name}" 's["drops"]["steer_ring_full"]')"
  check "${name}: no session refused" test "$(box_stat "${name}" 's["drops"]["tcp_sessions_full"]')" = 0
  check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
  BOX_PIDS=()
}

# The trigger also lists some sessions while they move (baton ctl sessions list).
if scenario halt-download download 443 $((20 << 20)) \
  "${CTL} worker halt 1; sleep 1; ${CTL} sessions list vip=${VIP}:443 limit=5 >${E2E_TMP}/list.txt"; then
  check "halt-download: worker 1 halted and worker 0 took it over" \
    test "$(box_stat halt-download '(s["lcores"][1]["state"], s["lcores"][1]["taken_over_by"])')" = "('halted', 0)"
  adopted=$(box_stat halt-download 's["counters"]["sessions_adopted"]')
  check "halt-download: worker 0 adopted worker 1's sessions (${adopted})" test "${adopted}" -gt 0
  check "halt-download: sessions list shows sessions on worker 0 with their backends ($(head -1 "${E2E_TMP}/list.txt"))" \
    grep -qE "worker 0 .* -> ${VIP}:443 tls \[ESTABLISHED\] \| :[0-9]+ -> 198\.18\.3\.10[1-3]:80" "${E2E_TMP}/list.txt"
  check "halt-download: the log says worker 1 halted, was declared stalled and its sessions adopted" \
    grep -q '"event":"worker_adopted_sessions"' "${E2E_TMP}/halt-download.log"
  grep -E '"event":"worker_(halted|stalled|adopted_sessions)"' "${E2E_TMP}/halt-download.log" | sed 's/^/    /'
fi

if scenario rebalance-download download 443 $((4 << 20)) "${CTL} rebalance 0 1 0.5"; then
  moved=$(box_stat rebalance-download 's["counters"]["sessions_handed_off"]')
  check "rebalance-download: sessions were handed from worker 0 to worker 1 (${moved})" test "${moved}" -gt 0
  check "rebalance-download: every hand-off was accepted" \
    test "$(box_stat rebalance-download 's["counters"]["sessions_handoffs_accepted"]')" = "${moved}"
fi

if scenario halt-upload echo 9443 $((4 << 20)) "${CTL} worker halt 1"; then
  adopted=$(box_stat halt-upload 's["counters"]["sessions_adopted"]')
  check "halt-upload: worker 0 adopted worker 1's sessions (${adopted})" test "${adopted}" -gt 0
fi

if scenario rebalance-upload echo 9443 $((4 << 20)) "${CTL} rebalance 1 0 0.5"; then
  moved=$(box_stat rebalance-upload 's["counters"]["sessions_handed_off"]')
  check "rebalance-upload: sessions were handed from worker 1 to worker 0 (${moved})" test "${moved}" -gt 0
fi

echo "flow move: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
