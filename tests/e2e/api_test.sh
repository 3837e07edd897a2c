#!/usr/bin/env bash
# End-to-end: the runtime API, `baton ctl` and the Prometheus endpoint on box A.
# curl traffic through the VIP, then ctl's answers and the /metrics page (parsed with
# python3-prometheus-client) must show it and agree with each other; garbage, unknown
# commands and oversize requests get errors while baton keeps serving.
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

echo "== api: runtime API, baton ctl and /metrics on box A"
"${TESTBED}" up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
start_box bt-a "${ROOT}/configs/demo.toml" box-a --name "${NAME}"
check "the API socket is at ${SOCK}" test -S "${SOCK}"

ok=0
for _ in $(seq 1 "${CURLS}"); do
  if ip netns exec bt-client curl -sS -m 5 -o /dev/null "http://${VIP}/"; then ok=$((ok + 1)); fi
done
check "${CURLS} curls through the VIP (${ok} ok)" test "${ok}" -eq "${CURLS}"
sleep 0.3  # workers publish counters every millisecond; sessions close after the answers

quiet() { "$@" >/dev/null 2>&1; }
# py EXPR < JSON: evaluates EXPR over the JSON on stdin as `j`.
py() { /usr/bin/python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

report=$("${CTL[@]}" stats)
check "ctl stats: the human report names the web backends" grep -q "backend web 198.18.3.101:80: sessions" <<<"${report}"
check "ctl stats: the human report names the ports" grep -q "^port front (" <<<"${report}"
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
listeners=$("${CTL[@]}" config --json | py '",".join(l["name"] + "=" + l["vip"] for l in j["listeners"])')
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
out=$(/usr/bin/python3 - "${E2E_TMP}/metrics.txt" "${E2E_TMP}/stats.json" "${CURLS}" 2>&1 <<'PY' || true
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))
curls = int(sys.argv[3])
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
print("problems: " + "; ".join(problems) if problems else
      f"ok: {len(fams)} families, sessions opened {int(opened)}, web backend sessions {int(web)}")
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

check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()
check "the API socket is removed on exit" test ! -e "${SOCK}"
echo "api: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
