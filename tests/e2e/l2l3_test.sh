#!/usr/bin/env bash
# End-to-end: box A answers ARP and ping through the router; malformed frames sent with
# scapy are dropped and counted by reason; box A keeps answering afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT

echo "== l2l3: ARP, ping and malformed frames against box A"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }

start_box bt-a "${ROOT}/configs/demo.toml" box-a
# Jumbo frames must reach baton for the frame-too-long case: raise the kernel MTU along
# the path router -> bridge -> box A (after start: the af_packet PMD sets the interface
# MTU to the port's configured 1500), while baton's own port MTU stays 1500.
ip netns exec bt-router ip link set a-front mtu 9100
ip netns exec bt-router ip link set br-front mtu 9100
ip netns exec bt-a ip link set front mtu 9100
front_mac=$(box_stat box-a 's["ports"][0]["mac"]')

ping_out=$(ip netns exec bt-client ping -c 20 -i 0.05 -W 1 198.18.2.11 || true)
check "20 pings from bt-client through bt-router get 20 replies" \
  grep -q "20 packets transmitted, 20 received" <<<"${ping_out}"

arping_out=$(ip netns exec bt-router arping -c 3 -I br-front 198.18.2.11 || true)
check "arping from bt-router is answered with the port's MAC ${front_mac}" \
  grep -q "bytes from ${front_mac} (198.18.2.11)" <<<"${arping_out}"
check "bt-router's neighbour table holds box A's MAC" \
  grep -q "198.18.2.11 .*lladdr ${front_mac}" <<<"$(ip netns exec bt-router ip neigh)"

settle_stats
before=$(box_stat box-a 'json.dumps(s["drops"])')
sent=$(ip netns exec bt-router /usr/bin/python3 "${ROOT}/tests/e2e/malformed.py" br-front "${front_mac}" 198.18.2.11 5)
settle_stats
after=$(box_stat box-a 'json.dumps(s["drops"])')
while read -r key count; do
  got=$(/usr/bin/python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(b[sys.argv[3]]-a[sys.argv[3]])' \
    "${before}" "${after}" "${key}")
  check "${count} malformed frames of kind ${key} dropped and counted (got ${got})" test "${got}" -eq "${count}"
done <<<"${sent}"

ping_out=$(ip netns exec bt-client ping -c 5 -i 0.05 -W 1 198.18.2.11 || true)
check "box A still answers pings after the malformed frames" \
  grep -q "5 packets transmitted, 5 received" <<<"${ping_out}"

check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()
check "baton's final report counts the pings it answered" \
  grep -q "icmp_echo_answered: 25" "${E2E_TMP}/box-a.log"

echo "l2l3: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
