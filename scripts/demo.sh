#!/usr/bin/env bash
# make demo: bring up the namespace testbed, run box A (configs/demo.toml) in bt-a,
# drive real clients at it, print what happened with baton's own counters, tear down.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
export BATON="${ROOT}/${BUILD}/controlplane/baton"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT
[[ $(id -u) -eq 0 ]] || { echo "demo: run as root" >&2; exit 1; }

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "testbed: client -> router -> box A (DPDK, af_packet) -> backends"
# Not in a pipeline: testbed_up must run in this shell, which then owns the testbed.
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
sed 's/^/  /' "${E2E_TMP}/testbed.log"
if [[ -z ${EAL_MEM} ]]; then echo "  DPDK memory: hugepages"; else echo "  DPDK memory: ${EAL_MEM} (no hugepages here)"; fi

section "box A: baton run --config configs/demo.toml (in namespace bt-a)"
start_box bt-a "${ROOT}/configs/demo.toml" box-a
sed -n '/^port /p' "${E2E_TMP}/box-a.log" | sed 's/^/  /'
front_mac=$(box_stat box-a 's["ports"][0]["mac"]')

section "ARP: bt-router asks who has 198.18.2.11 (box A's front address)"
ip netns exec bt-router arping -c 3 -I br-front 198.18.2.11 | sed 's/^/  /' || true
echo "  box A's front port MAC is ${front_mac}"

section "ICMP: 20 pings from bt-client (198.18.1.2), routed by bt-router"
ip netns exec bt-client ping -c 20 -i 0.1 -W 1 198.18.2.11 | tail -3 | sed 's/^/  /' || true

section "HTTP through the VIP 198.18.100.10:80 (baton's TCP on both sides, nginx behind)"
for _ in 1 2 3; do
  ip netns exec bt-client curl -sS -m 10 "http://198.18.100.10/" | sed 's/^/  /'
done
want=$(sha256sum /var/tmp/baton-testbed-files/files/256m.bin | cut -d' ' -f1)
ip netns exec bt-client curl -sS -m 120 -o >(sha256sum | cut -d' ' -f1 >"${E2E_TMP}/got.sha") \
  -w '  256 MiB download: %{size_download} bytes in %{time_total} s = %{speed_download} bytes/s\n' \
  "http://198.18.100.10/files/256m.bin"
sleep 0.5
if [[ $(cat "${E2E_TMP}/got.sha") == "${want}" ]]; then echo "  sha256 matches the file on the backend"; else echo "  sha256 DIFFERS"; fi

section "HTTPS through the VIP 198.18.100.10:443 (baton terminates TLS with its own TLS stack)"
tlsdir=/var/tmp/baton-testbed-files/tls
curl_tls=(ip netns exec bt-client curl -sS -m 20 --cacert "${tlsdir}/ca.pem" --resolve www.example.com:443:198.18.100.10)
for v in 1.3 1.2; do
  "${curl_tls[@]}" --tlsv"${v}" --tls-max "${v}" -o /dev/null \
    -w "  TLS ${v}: HTTP %{http_code} from https://www.example.com/ (certificate verified against the testbed CA)\n" \
    "https://www.example.com/" || echo "  TLS ${v}: failed"
done
"${curl_tls[@]}" -v -o /dev/null "https://www.example.com/" 2>&1 | grep -E "SSL connection using|ALPN: server accepted" | sed 's/^\* /  curl: /'
"${curl_tls[@]}" -o >(sha256sum | cut -d' ' -f1 >"${E2E_TMP}/got-tls.sha") \
  -w '  256 MiB download over TLS 1.3: %{size_download} bytes in %{time_total} s = %{speed_download} bytes/s\n' \
  "https://www.example.com/files/256m.bin" || true
sleep 0.5
if [[ $(cat "${E2E_TMP}/got-tls.sha") == "${want}" ]]; then echo "  sha256 matches the file on the backend"; else echo "  sha256 DIFFERS"; fi
h2=$(ip netns exec bt-client h2load -n 1000 -c 10 -m 10 "https://198.18.100.10/" 2>&1 || true)
grep -E "^finished|Application protocol|^requests:" <<<"${h2}" | sed 's/^/  h2load: /'
settle_stats
echo "  box A: $(box_stat box-a '"TLS handshakes %d (TLS 1.2: %d, resumed: %d), handshake failures %d" % (s["counters"]["tls_handshakes"], s["counters"]["tls12_handshakes"], s["counters"]["tls_resumed"], s["counters"]["tls_handshake_failures"])')"

section "neighbours: baton resolved its gateway 198.18.2.1 with its own ARP at start"
settle_stats
echo "  box A: $(box_stat box-a '"ARP requests sent %d, replies received %d, entries learned %d" % (s["counters"]["arp_requests_sent"], s["counters"]["arp_replies_received"], s["counters"]["arp_entries_learned"])')"
ip netns exec bt-router ip neigh show 198.18.2.11 | sed 's/^/  bt-router: /'

section "baton ctl stats: the run, as baton's runtime API reports it"
"${BATON}" ctl stats | sed 's/^/  /' || echo "  (baton ctl stats failed)"
stop_box "${BOX_PID}"
BOX_PIDS=()
section "done; tearing the testbed down"
