#!/usr/bin/env bash
# End-to-end: the runtime API, `baton ctl` and the Prometheus endpoint on box A.
# curl traffic through the VIP (plain and HTTPS), then ctl's answers and the /metrics
# page (parsed with python3-prometheus-client) must show it and agree with each other,
# the latency histograms included; garbage, unknown
# commands and oversize requests get errors while baton keeps serving. Then backend
# administration: disable (no new session reaches it under wrk load), enable, drain,
# weight, and the refusals (unknown pool/backend, bad weight, bad action).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT
VIP=198.18.100.10
NAME=api-e2e
SOCK=/run/baton/${NAME}.sock
CTL=(ip netns exec bt-a "${BATON}" ctl --name "${NAME}")
METRICS_URL=http://127.0.0.1:9180/metrics
CURLS=20
HTTPS=5
HOST=www.example.com
TLSDIR=/var/tmp/baton-testbed-files/tls

echo "== api: runtime API, baton ctl and /metrics on box A"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
start_box bt-a "${ROOT}/configs/demo.toml" box-a --name "${NAME}"
check "the API socket is at ${SOCK}" test -S "${SOCK}"

ok=0
for _ in $(seq 1 "${CURLS}"); do
  if ip netns exec bt-client curl -sS -m 5 -o /dev/null "http://${VIP}/"; then ok=$((ok + 1)); fi
done
check "${CURLS} curls through the VIP (${ok} ok)" test "${ok}" -eq "${CURLS}"
ok=0
for _ in $(seq 1 "${HTTPS}"); do
  if ip netns exec bt-client curl -sS -m 5 -o /dev/null --http1.1 --cacert "${TLSDIR}/ca.pem" \
      --resolve "${HOST}:443:${VIP}" "https://${HOST}/"; then ok=$((ok + 1)); fi
done
check "${HTTPS} HTTPS curls through the VIP (${ok} ok)" test "${ok}" -eq "${HTTPS}"
sleep 0.3  # workers publish counters every millisecond; sessions close after the answers

quiet() { "$@" >/dev/null 2>&1; }
# py EXPR < JSON: evaluates EXPR over the JSON on stdin as `j`.
py() { /usr/bin/python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

report=$("${CTL[@]}" stats)
check "ctl stats: the human report names the web backends" grep -q "backend web 198.18.3.101:80: sessions" <<<"${report}"
check "ctl stats: the human report names the ports" grep -q "^port front (" <<<"${report}"
latency=$(grep "^latency: " <<<"${report}" || true)
check "ctl stats: a latency line with handshakes and requests (${latency})" \
  grep -qE "^latency: tls_handshake n=[1-9][0-9]* p50 .*; request n=[1-9][0-9]* p50 " <<<"${latency}"
"${CTL[@]}" stats --json >"${E2E_TMP}/stats.json"
opened=$(py 'j["counters"]["sessions_opened"]' <"${E2E_TMP}/stats.json")
check "ctl stats --json: sessions_opened ${opened} >= ${CURLS}" test "${opened}" -ge "${CURLS}"
sessions=$("${CTL[@]}" sessions)
check "ctl sessions: totals and per worker (${sessions%%$'\n'*})" \
  grep -qE "^sessions active [0-9]+ \(opened ${opened}, closed [0-9]+\)" <<<"${sessions}"
web=$("${CTL[@]}" backends --json | py 'sum(b["sessions_started"] for b in j if b["pool"] == "web")')
check "ctl backends: the web pool started ${web} sessions (>= ${CURLS})" test "${web}" -ge "${CURLS}"
check "ctl drops answers" quiet "${CTL[@]}" drops
check "ctl version equals baton --version" \
  test "$("${CTL[@]}" version)" = "$("${BATON}" --version)"
check "ctl --socket PATH works too" quiet ip netns exec bt-a "${BATON}" ctl --socket "${SOCK}" ports
listeners=$("${CTL[@]}" config --json | py '",".join(l["name"] + "=" + l["vip"] for l in j["listeners"][:2])')
check "ctl config: the listeners (${listeners})" test "${listeners}" = "http=${VIP}:80,echo=${VIP}:9000"
set +e
"${CTL[@]}" --socket /run/baton/none.sock version >/dev/null 2>&1
no_socket=$?
"${CTL[@]}" frobnicate >/dev/null 2>&1
usage=$?
set -e
check "ctl exits 2 when it cannot connect (${no_socket}) and on a usage error (${usage})" \
  test "${no_socket}" -eq 2 -a "${usage}" -eq 2

# The metrics page, parsed by the Prometheus client library, against the API's numbers.
ctype=$(ip netns exec bt-a curl -sS -m 5 -o "${E2E_TMP}/metrics.txt" -w '%{content_type}' "${METRICS_URL}")
check "GET /metrics: text format 0.0.4 (${ctype})" grep -q "^text/plain; version=0.0.4" <<<"${ctype}"
"${CTL[@]}" stats --json >"${E2E_TMP}/stats.json"
out=$(/usr/bin/python3 - "${E2E_TMP}/metrics.txt" "${E2E_TMP}/stats.json" "${CURLS}" "${HTTPS}" 2>&1 <<'PY' || true
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))
curls = int(sys.argv[3])
https = int(sys.argv[4])
fams = {f.name: f for f in text_string_to_metric_families(text)}
def total(name, **labels):
    return sum(s.value for s in fams[name].samples
               if s.name.endswith("_total") or fams[name].type != "counter"
               if all(s.labels.get(k) == v for k, v in labels.items()))
problems = []
def want(cond, what):
    if not cond: problems.append(what)
want(all(f.documentation for f in fams.values()), "a family without HELP")
want(fams["baton_sessions_opened"].type == "counter", "sessions_opened is not a counter")
opened = total("baton_sessions_opened")
want(opened >= curls, f"baton_sessions_opened_total {opened} < {curls}")
# No new session between the scrape and the stats call (nothing else connects).
want(opened == stats["counters"]["sessions_opened"],
     f"metrics say {opened} sessions opened, the API {stats['counters']['sessions_opened']}")
web = total("baton_backend_sessions", pool="web")
want(web >= curls, f"baton_backend_sessions_total for web {web} < {curls}")
want(total("baton_port_rx_packets", port="front") > 0, "no front rx packets")
want(fams["baton_sessions_active"].type == "gauge", "sessions_active is not a gauge")
reasons = {s.labels["reason"] for s in fams["baton_drops"].samples}
want("ipv4_bad_checksum" in reasons and "none" not in reasons, "drop reasons wrong")
want(any(s.labels.get("version") for s in fams["baton_build_info"].samples), "no build_info version")
want(len(fams["baton_tcp_drops"].samples) > 0, "no tcp drop reasons")
# Latency histograms: well-formed (bounds increasing to +Inf, buckets cumulative, +Inf
# equal to _count, one _sum), observed, and equal to the API's totals.
def histogram(name, key, at_least):
    f = fams.get(name)
    if f is None or f.type != "histogram":
        problems.append(f"{name}: missing or not a histogram")
        return 0
    buckets = [(float(s.labels["le"]), s.value) for s in f.samples if s.name == name + "_bucket"]
    counts = [s.value for s in f.samples if s.name == name + "_count"]
    sums = [s.value for s in f.samples if s.name == name + "_sum"]
    les = [le for le, _ in buckets]
    values = [v for _, v in buckets]
    want(len(buckets) > 2 and les == sorted(set(les)) and math.isinf(les[-1]), f"{name}: bad le bounds {les}")
    want(all(a <= b for a, b in zip(values, values[1:])), f"{name}: buckets not cumulative {values}")
    want(len(counts) == 1 and len(sums) == 1, f"{name}: needs one _count and one _sum")
    if not counts or not sums or not values:
        return 0
    want(values[-1] == counts[0], f"{name}: +Inf bucket {values[-1]} != _count {counts[0]}")
    want(counts[0] >= at_least, f"{name}: count {counts[0]} < {at_least}")
    want(sums[0] > 0 and sums[0] < 10 * counts[0], f"{name}: implausible _sum {sums[0]} for {counts[0]}")
    api = stats["latency"][key]
    want(api["count"] == counts[0], f"{name}: count {counts[0]}, the API says {api['count']}")
    want(abs(api["sum_us"] / 1e6 - sums[0]) < 1e-6, f"{name}: _sum {sums[0]}, the API says {api['sum_us']} us")
    want(api["p50_us"] <= api["p90_us"] <= api["p99_us"], f"{name}: API quantiles out of order")
    return int(counts[0])
handshakes = histogram("baton_tls_handshake_seconds", "tls_handshake", https)
requests = histogram("baton_request_seconds", "request", curls + https)
connects = histogram("baton_backend_connect_seconds", "backend_connect", curls + https)
print("problems: " + "; ".join(problems) if problems else
      f"ok: {len(fams)} families, sessions opened {int(opened)}, web backend sessions {int(web)}, "
      f"latency observations: {handshakes} handshakes, {requests} requests, {connects} connects")
PY
)
check "metrics parse and agree with the API (${out})" grep -q "^ok:" <<<"${out}"
code=$(ip netns exec bt-a curl -sS -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:9180/other)
check "GET /other is 404 (${code})" test "${code}" = 404

# Misuse: each gets an error answer; baton keeps serving the API and the VIP.
ask_raw() {  # ask_raw PYTHON_BYTES_EXPR: sends it, prints the first answer line
  /usr/bin/python3 - "${SOCK}" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(eval(sys.argv[2]))
except BrokenPipeError:
    pass
buf = b""
while b"\n" not in buf:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.split(b"\n")[0].decode(errors="replace"))
PY
}
ans=$(ask_raw 'b"garbage\n"')
check "garbage gets an error (${ans})" grep -q 'not JSON' <<<"${ans}"
ans=$(ask_raw 'b"{\"command\":\"reboot\"}\n"')
check "an unknown command gets an error (${ans:0:60}...)" grep -q 'unknown command' <<<"${ans}"
ans=$(ask_raw 'b"x" * 200000')
check "an oversize request gets an error (${ans})" grep -q 'longer than 65536 bytes' <<<"${ans}"
ans=$(ask_raw 'b"{\"command\":\"version\"}\n"')
check "a raw version request is answered (${ans})" grep -q '"ok":true' <<<"${ans}"
check "after the misuse: ctl sessions still answers" quiet "${CTL[@]}" sessions
check "after the misuse: curl through the VIP still works" \
  ip netns exec bt-client curl -sS -m 5 -o /dev/null "http://${VIP}/"

# Backend administration at run time (docs/API.md, `baton ctl backend`).
B101=198.18.3.101:80
B102=198.18.3.102:80
started() {  # started ADDRESS:PORT: sessions the web pool sent to that backend so far
  "${CTL[@]}" backends --json | py "sum(b['sessions_started'] for b in j if b['pool'] == 'web' and b['address'] == '$1')"
}
field() {  # field ADDRESS:PORT KEY: a web backend's field in `ctl backends --json`
  "${CTL[@]}" backends --json | py "[b['$2'] for b in j if b['pool'] == 'web' and b['address'] == '$1'][0]"
}
curl_hits() {  # curl_hits N ADDRESS: N new connections through the VIP; prints "ok hits_on_ADDRESS"
  local n=$1 addr=$2 ok=0 hits=0 body i
  for ((i = 0; i < n; i++)); do
    if body=$(ip netns exec bt-client curl -sS -m 5 "http://${VIP}/" 2>/dev/null); then
      ok=$((ok + 1))
      if grep -q "backend ${addr}<" <<<"${body}"; then hits=$((hits + 1)); fi
    fi
  done
  echo "${ok} ${hits}"
}
out=$("${CTL[@]}" backend web "${B101}" disable)
check "ctl backend web ${B101} disable (${out})" grep -q "^backend web ${B101}: disabled, weight 1, up" <<<"${out}"
check "ctl backends shows it disabled" test "$(field "${B101}" admin)" = disabled
sleep 0.2
before=$(started "${B101}")
ip netns exec bt-client wrk -t 1 -c 20 -d 3s --timeout 5s "http://${VIP}/" >"${E2E_TMP}/wrk-disabled.txt" 2>&1 &
WRK_PID=$!
read -r ok hits < <(curl_hits 30 198.18.3.101)
wait "${WRK_PID}" || true
check "during wrk load, 30 curls with .101 disabled: ${ok} ok, ${hits} reached .101"   test "${ok}" -eq 30 -a "${hits}" -eq 0
after=$(started "${B101}")
check "no new session reached .101 while disabled (wrk included: ${before} -> ${after})" test "${before}" = "${after}"
check "wrk ran with .101 disabled" grep -qE "[1-9][0-9]* requests in" "${E2E_TMP}/wrk-disabled.txt"
ip netns exec bt-a curl -sS -m 5 -o "${E2E_TMP}/metrics2.txt" "${METRICS_URL}"
check "metrics: baton_backend_admin_state says disabled" \
  grep -q "^baton_backend_admin_state{pool=\"web\",backend=\"${B101}\",state=\"disabled\"} 1" "${E2E_TMP}/metrics2.txt"
check "metrics: baton_backend_up is 1 (disabled is not down)" \
  grep -q "^baton_backend_up{pool=\"web\",backend=\"${B101}\"} 1" "${E2E_TMP}/metrics2.txt"

out=$("${CTL[@]}" backend web "${B101}" enable)
check "ctl backend web ${B101} enable (${out})" grep -q "^backend web ${B101}: enabled" <<<"${out}"
sleep 0.2
read -r ok hits < <(curl_hits 30 198.18.3.101)
check "enabled again: 30 curls, ${ok} ok, ${hits} reached .101 (round robin: 10)" test "${ok}" -eq 30 -a "${hits}" -ge 8

out=$("${CTL[@]}" backend web "${B101}" drain)
check "ctl backend drain (${out})" grep -qE "^backend web ${B101}: draining, (no sessions|[0-9]+ session\(s\)) remain" <<<"${out}"
sleep 0.2
read -r ok hits < <(curl_hits 12 198.18.3.101)
check "draining: 12 curls, ${ok} ok, ${hits} reached .101" test "${ok}" -eq 12 -a "${hits}" -eq 0
quiet "${CTL[@]}" backend web "${B101}" enable

out=$("${CTL[@]}" backend web "${B102}" weight 5)
check "ctl backend weight 5 (${out})" grep -q "^backend web ${B102}: enabled, weight 5" <<<"${out}"
sleep 0.2
read -r ok hits < <(curl_hits 35 198.18.3.102)
check "weight 5 of 7: 35 curls, ${ok} ok, ${hits} reached .102 (smooth round robin: 25)" \
  test "${ok}" -eq 35 -a "${hits}" -ge 20
quiet "${CTL[@]}" backend web "${B102}" weight 1
check "weight back to 1" test "$(field "${B102}" weight)" = 1

set +e
err_pool=$("${CTL[@]}" backend nope "${B101}" disable 2>&1); rc_pool=$?
err_be=$("${CTL[@]}" backend web 198.18.3.109:80 disable 2>&1); rc_be=$?
err_w=$("${CTL[@]}" backend web "${B101}" weight 1001 2>&1); rc_w=$?
err_wx=$("${CTL[@]}" backend web "${B101}" weight x 2>&1); rc_wx=$?
err_act=$("${CTL[@]}" backend web "${B101}" reboot 2>&1); rc_act=$?
"${CTL[@]}" backend web "${B101}" >/dev/null 2>&1; rc_usage=$?
set -e
check "unknown pool: exit 1 (${err_pool})" test "${rc_pool}" -eq 1 -a -n "$(grep 'unknown pool "nope"' <<<"${err_pool}")"
check "unknown backend: exit 1 (${err_be})" test "${rc_be}" -eq 1 -a -n "$(grep 'has no backend' <<<"${err_be}")"
check "weight 1001: exit 1 (${err_w})" test "${rc_w}" -eq 1 -a -n "$(grep 'integer 0..1000' <<<"${err_w}")"
check "weight x: exit 1 (${err_wx})" test "${rc_wx}" -eq 1 -a -n "$(grep 'integer 0..1000' <<<"${err_wx}")"
check "unknown action: exit 1 (${err_act})" test "${rc_act}" -eq 1 -a -n "$(grep 'unknown action' <<<"${err_act}")"
check "missing action: usage error, exit 2 (${rc_usage})" test "${rc_usage}" -eq 2
ans=$(ask_raw 'b"{\"command\":\"backend\",\"pool\":\"web\"\n"')
check "malformed backend request gets an error (${ans})" grep -q 'not JSON' <<<"${ans}"
check "after the refusals nothing changed: all web backends enabled, weight 1" \
  test "$("${CTL[@]}" backends --json | py "all(b['admin'] == 'enabled' and b['weight'] == 1 for b in j)")" = True

check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()
check "the API socket is removed on exit" test ! -e "${SOCK}"
echo "api: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
