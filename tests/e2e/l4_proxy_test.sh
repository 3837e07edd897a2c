#!/usr/bin/env bash
# End-to-end: box A as an L4 proxy (our TCP stack both sides) between real clients in
# bt-client and real servers in bt-backend: curl and wrk to nginx, 1 GiB both ways
# through echo with sha256 at both ends, an upload with half-close to the sink, lossy
# and reordering client link (tc netem), 1,000 concurrent connections, resets both
# ways, and a SYN flood during which curl still works.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT
VIP=198.18.100.10
CLIENTS=(ip netns exec bt-client /usr/bin/python3 "${ROOT}/tests/e2e/tcp_clients.py")
GIB=$((1 << 30))

echo "== l4_proxy: box A proxies TCP from bt-client to bt-backend"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
# The demo config (which has the sink pool) plus plain TCP listeners for the sink
# (half-close) and reset services.
cat "${ROOT}/configs/demo.toml" - >"${E2E_TMP}/l4.toml" <<'TOML'

[[pool]]
name = "reset"
backends = ["198.18.3.101:9002"]

[[listener]]
name = "sink"
vip = "198.18.100.10:9001"
pool = "sink"

[[listener]]
name = "reset"
vip = "198.18.100.10:9002"
pool = "reset"
TOML
start_box bt-a "${E2E_TMP}/l4.toml" box-a

page=$(ip netns exec bt-client curl -sS -m 10 "http://${VIP}/" || true)
check "curl through the VIP gets a backend's page" grep -q "backend 198.18.3.10" <<<"${page}"
seen=$(for _ in 1 2 3 4 5 6; do ip netns exec bt-client curl -sS -m 10 "http://${VIP}/"; done | sort -u | wc -l)
check "round robin spreads requests over the 3 backends (${seen} seen)" test "${seen}" -eq 3
settle_stats
least=$(box_stat box-a 'min(b["sessions_started"] for b in s["backends"] if b["pool"] == "web")')
check "per-backend counters: each web backend counted its sessions (fewest: ${least})" test "${least}" -ge 2

want=$(sha256sum /var/tmp/baton-testbed-files/files/256m.bin | cut -d' ' -f1)
got=$(ip netns exec bt-client curl -sS -m 120 "http://${VIP}/files/256m.bin" | sha256sum | cut -d' ' -f1)
check "256 MiB download through the VIP has the file's sha256" test "${got}" = "${want}"

wrk_out=$(ip netns exec bt-client wrk -t 1 -c 50 -d 5s --timeout 5s "http://${VIP}/" 2>&1 || true)
echo "${wrk_out}" | grep -E "Requests/sec|requests in|Socket errors|Non-2xx" | sed 's/^/    wrk: /'
check "wrk: 50 keep-alive connections for 5 s, requests done" grep -qE "[1-9][0-9]* requests in" <<<"${wrk_out}"
check "wrk: no socket errors and no non-2xx answers" bash -c '! grep -qE "Socket errors|Non-2xx" <<<"$1"' _ "${wrk_out}"

out=$("${CLIENTS[@]}" stream "${VIP}" 9000 "${GIB}" 2>&1 || true)
echo "    ${out}"
check "1 GiB up and 1 GiB down at once through echo, sha256 equal at both ends" grep -q "sha256 equal" <<<"${out}"

out=$("${CLIENTS[@]}" upload "${VIP}" 9001 $((64 << 20)) 2>&1 || true)
echo "    ${out}"
check "64 MiB upload, client half-closes, the sink's sha256 comes back" grep -q "sha256 equal" <<<"${out}"

out=$("${CLIENTS[@]}" concurrent "${VIP}" 9000 1000 2>&1 || true)
echo "    ${out}"
check "1,000 concurrent connections through the VIP" grep -q "1000/1000" <<<"${out}"

out=$("${CLIENTS[@]}" backend-fin "${VIP}" 80 2>&1 || true)
check "a backend's FIN (nginx closes first) reaches the client after the answer (${out})" grep -q "then EOF" <<<"${out}"

out=$("${CLIENTS[@]}" backend-reset "${VIP}" 9002 2>&1 || true)
check "a backend's RST reaches the client (${out})" grep -q "then reset" <<<"${out}"

out=$("${CLIENTS[@]}" client-reset "${VIP}" 9000 2>&1 || true)
sleep 0.5
est=$(ip netns exec bt-backend ss -Htn state established '( sport = :9000 )' | wc -l)
check "a client's RST reaches the backend: no echo connection left open (${est})" test "${est}" -eq 0

# Loss, delay and reordering on the client link, both directions: tc netem where the
# kernel has it; kernels built without sch_netem (CONFIG_NET_SCH_NETEM unset, as on
# our CI machines) get 1% random loss from nftables in bt-router instead, and delay and
# reordering stay covered by the in-memory TCP and proxy tests.
impair_on() {
  if ip netns exec bt-client tc qdisc add dev eth0 root netem delay 10ms reorder 25% 50% loss 1% 2>/dev/null; then
    ip netns exec bt-router tc qdisc add dev to-client root netem delay 10ms reorder 25% 50% loss 1%
    IMPAIRMENT="tc netem: 1% loss, 10 ms delay, 25% reordering"
  else
    ip netns exec bt-router nft -f - <<'NFT'
table inet impair {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "to-client" numgen random mod 100 < 1 drop
    oifname "to-client" numgen random mod 100 < 1 drop
  }
}
NFT
    IMPAIRMENT="nftables: 1% random loss each way (no sch_netem in this kernel: no delay or reordering)"
  fi
}
impair_off() {
  ip netns exec bt-client tc qdisc del dev eth0 root 2>/dev/null || true
  ip netns exec bt-router tc qdisc del dev to-client root 2>/dev/null || true
  ip netns exec bt-router nft delete table inet impair 2>/dev/null || true
}
impair_on
out=$("${CLIENTS[@]}" stream "${VIP}" 9000 $((64 << 20)) 2>&1 || true)
echo "    ${out}"
check "64 MiB both ways over a lossy client link (${IMPAIRMENT}): sha256 equal" grep -q "sha256 equal" <<<"${out}"
settle_stats
echo "    box A: $(box_stat box-a '"TCP segments refused: %s" % {k: v for k, v in s["tcp_drops"].items() if v}')"
impair_off

# SYN flood from addresses that do not exist (their SYN-ACKs die at the router):
# bounded to 20,000 SYNs; curl must keep working meanwhile.
settle_stats
ip netns exec bt-client /usr/bin/python3 - "${VIP}" >"${E2E_TMP}/flood.log" 2>&1 <<'PY' &
import sys
from scapy.all import IP, TCP, RandShort, conf, send
conf.verb = 0
send(IP(src="198.18.1.0/25".replace("0/25", "200"), dst=sys.argv[1]) / TCP(sport=RandShort(), dport=80, flags="S"),
     count=10000)
send(IP(src="198.18.1.201", dst=sys.argv[1]) / TCP(sport=RandShort(), dport=80, flags="S"), count=10000)
PY
flood=$!
ok_during=0
for _ in $(seq 1 10); do
  if ip netns exec bt-client curl -sS -m 5 -o /dev/null "http://${VIP}/"; then ok_during=$((ok_during + 1)); fi
  sleep 0.3
done
wait "${flood}" || true
settle_stats
cookies=$(box_stat box-a 's["counters"]["syn_cookies_sent"]')
check "10 curls during a SYN flood all succeed (${ok_during}/10)" test "${ok_during}" -eq 10
check "past the SYN backlog baton answers with SYN cookies (${cookies})" test "${cookies}" -gt 0

echo "    box A: $(box_stat box-a '"sessions opened %d, backend connects %d, bytes c->b %d, b->c %d" % (s["counters"]["sessions_opened"], s["counters"]["backend_connects"], s["counters"]["bytes_client_to_backend"], s["counters"]["bytes_backend_to_client"])')"
check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()
echo "l4_proxy: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
