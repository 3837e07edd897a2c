#!/usr/bin/env bash
# End-to-end: health checks on box A. The web pool (nginx on 198.18.3.101-103) gets
# [pool.health] (HTTP GET /, interval 200 ms, timeout 150 ms, rise 2, fall 2). Under wrk
# load through the VIP, backend .102 starts refusing (an nftables reject rule in the
# backend namespace): it must be marked down within fall x interval (+ slack), and once
# it is, a second wrk run and a curl loop must see no failed request and .102 no new
# session. Then the rule goes: .102 must come back up. Then it silently drops SYNs: down
# again, reason "timeout". The log must have the backend_down/backend_up JSON lines and
# the metrics the health series. Everything the test changes it undoes (trap).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
VIP=198.18.100.10
NAME=health-e2e
CTL=(ip netns exec bt-a "${BATON}" ctl --name "${NAME}")
DOWN=198.18.3.102
NFT_TABLE=baton_health_e2e
INTERVAL_MS=200
FALL=2
RISE=2

unblock() { ip netns exec bt-backend nft delete table inet "${NFT_TABLE}" 2>/dev/null || true; }
stamp() { echo "  $(date -u +%H:%M:%S.%3N) $*"; }
cleanup() {
  if ip netns list 2>/dev/null | grep -q '^bt-backend' && [[ ${E2E_TESTBED_OWNED} == 1 ]]; then unblock; fi
  e2e_cleanup
}
trap cleanup EXIT
# block reject|drop: .102:80 refuses (RST) or swallows every segment.
block() {
  local verdict=$1
  [[ ${verdict} == reject ]] && verdict="reject with tcp reset"
  ip netns exec bt-backend nft -f - <<EOF
table inet ${NFT_TABLE} {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr ${DOWN} tcp dport 80 ${verdict}
  }
}
EOF
}

echo "== health: checks, passive marking and logs on box A (${HEALTH_WORKERS:-2} workers)"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
# The demo config with health checks on the web pool (its backends line is the first).
awk -v i="${INTERVAL_MS}" -v r="${RISE}" -v f="${FALL}" '
  { print }
  /^backends = \["198.18.3.101:80"/ && !done {
    print "[pool.health]"; print "interval_ms = " i; print "timeout_ms = 150"
    print "rise = " r; print "fall = " f; print "http_path = \"/\""; done = 1
  }' "${ROOT}/configs/demo.toml" >"${E2E_TMP}/health.toml"
# Two workers by default (HEALTH_WORKERS=1 for one): probe answers that land on worker 1
# must reach worker 0, and worker 1's passive markings and pools must follow the board.
WORKERS=${HEALTH_WORKERS:-2}
if ((WORKERS > 1)); then
  sed -i -e "s/^workers = 1 .*/workers = ${WORKERS}/" -e "s/iface=\(front\|back\|repl\)\"/iface=\1,qpairs=${WORKERS}\"/" \
    "${E2E_TMP}/health.toml"
fi
check "the test config has [pool.health] and ${WORKERS} worker(s)" \
  grep -q "^workers = ${WORKERS}" "${E2E_TMP}/health.toml"
check "... [pool.health]" grep -q '^\[pool.health\]' "${E2E_TMP}/health.toml"
start_box bt-a "${E2E_TMP}/health.toml" box-a --name "${NAME}"
LOG="${E2E_TMP}/box-a.log"

# py EXPR: evaluates EXPR over `ctl backends --json` as `j`, with b(addr) = that web backend.
py() {
  "${CTL[@]}" backends --json | /usr/bin/python3 -c "
import json, sys
j = json.load(sys.stdin)
def b(a): return next(x for x in j if x['pool'] == 'web' and x['address'] == a + ':80')
print($1)"
}
# log_delay EVENT T0_MS: ms from T0 (Unix ms) to the first EVENT line for .102 in the
# box's log at or after T0 (its time is the data plane's), or 99999 when there is none.
log_delay() {
  /usr/bin/python3 - "${LOG}" "$1" "$2" "${DOWN}:80" <<'PY'
import datetime, json, sys
path, event, t0, backend = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for line in open(path):
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    if o["event"] != event or o.get("backend") != backend:
        continue
    t = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    ms = int(t.timestamp() * 1000)
    if ms >= t0:
        print(ms - t0)
        sys.exit(0)
print(99999)
PY
}
# wait_for EXPR TIMEOUT_MS: polls until EXPR prints True; prints the ms it took (until the
# answer that said so came back: an upper bound), or fails.
wait_for() {
  local start now answer
  start=$(date +%s%3N)
  while true; do
    answer=$(py "$1" 2>/dev/null || true)
    now=$(date +%s%3N)
    if [[ ${answer} == True ]]; then echo $((now - start)); return 0; fi
    if ((now - start > $2)); then echo $((now - start)); return 1; fi
    sleep 0.05
  done
}

ms=$(wait_for 'all(b(a)["health_checks"]["ok"] >= 2 for a in ("198.18.3.101", "198.18.3.102", "198.18.3.103"))' 5000) || true
check "probes pass on all three web backends (${ms} ms)" \
  test "$(py 'all(b(a)["up"] and b(a)["health_checked"] for a in ("198.18.3.101", "198.18.3.102", "198.18.3.103"))')" = True
check "health_checks_started is logged" grep -q '"event":"health_checks_started"' "${LOG}"

# 1. Refused under load.
ip netns exec bt-client timeout 15 wrk -t2 -c16 -d4s "http://${VIP}/" >"${E2E_TMP}/wrk1.txt" 2>&1 &
WRK=$!
sleep 1
t0=$(date +%s%3N)
block reject
stamp "${DOWN}:80 refuses"
ms=$(wait_for "not b('${DOWN}')['up']" 3000) || true
# The limits: fall probes an interval apart, the last one's timeout, 300 ms of slack for a
# loaded machine; `ctl` itself may take a few hundred ms there, so its answer gets 1 s more.
limit=$((FALL * INTERVAL_MS + 150 + 300))
logged=$(log_delay backend_down "${t0}")
check "${DOWN} refusing is marked down ${logged} ms after the rule went in (limit ${limit})" test "${logged}" -le "${limit}"
check "... and ctl says so ${ms} ms after (limit $((limit + 1000)))" test "${ms}" -le $((limit + 1000))
reason=$(py "b('${DOWN}')['down_reason']" || true)
check "down_reason is refused or passive (${reason})" grep -qxE 'refused|passive' <<<"${reason}"
wait "${WRK}" || true
check "wrk during the failure ran ($(grep -m1 'requests in' "${E2E_TMP}/wrk1.txt" || echo none))" \
  grep -q 'requests in' "${E2E_TMP}/wrk1.txt"

# 2. Marked down: no request fails, no new session reaches it.
before=$(py "b('${DOWN}')['sessions_started']" || true)
ip netns exec bt-client timeout 15 wrk -t2 -c16 -d3s "http://${VIP}/" >"${E2E_TMP}/wrk2.txt" 2>&1 || true
reqs=$(awk '/requests in/ {print $1}' "${E2E_TMP}/wrk2.txt")
check "wrk after the mark: ${reqs:-0} requests" test "${reqs:-0}" -gt 100
check "wrk after the mark: no socket errors" bash -c "! grep -q 'Socket errors' '${E2E_TMP}/wrk2.txt'"
check "wrk after the mark: no non-2xx/3xx answers" bash -c "! grep -q 'Non-2xx' '${E2E_TMP}/wrk2.txt'"
ok=0
for _ in $(seq 1 30); do
  code=$(ip netns exec bt-client curl -sS -m 3 -o /dev/null -w '%{http_code}' "http://${VIP}/" 2>/dev/null || true)
  [[ ${code} == 200 ]] && ok=$((ok + 1))
done
check "30 curls after the mark: ${ok} answered 200" test "${ok}" -eq 30
after=$(py "b('${DOWN}')['sessions_started']" || true)
check "${DOWN} got no new session while down (${before} -> ${after})" test "${before}" -eq "${after}"
check "the log has backend_down for ${DOWN}" \
  grep -qE "\"event\":\"backend_down\",\"pool\":\"web\",\"backend\":\"${DOWN}:80\",\"reason\":\"(refused|passive)\"" "${LOG}"

# 3. Restored: up after rise good probes.
t0=$(date +%s%3N)
unblock
stamp "${DOWN}:80 answers again"
ms=$(wait_for "b('${DOWN}')['up']" 3000) || true
limit=$((RISE * INTERVAL_MS + 300))
logged=$(log_delay backend_up "${t0}")
check "${DOWN} restored is up again ${logged} ms after (limit ${limit}; ctl: ${ms} ms)" test "${logged}" -le "${limit}"
check "the log has backend_up for ${DOWN}" \
  grep -q "\"event\":\"backend_up\",\"pool\":\"web\",\"backend\":\"${DOWN}:80\"" "${LOG}"

# 4. Silent (SYNs dropped), no load: the probes time out.
t0=$(date +%s%3N)
block drop
stamp "${DOWN}:80 drops SYNs"
ms=$(wait_for "not b('${DOWN}')['up']" 3000) || true
limit=$((FALL * INTERVAL_MS + 150 + 300))
logged=$(log_delay backend_down "${t0}")
check "${DOWN} silent is marked down ${logged} ms after (limit ${limit}; ctl: ${ms} ms)" test "${logged}" -le "${limit}"
check "down_reason is timeout ($(py "b('${DOWN}')['down_reason']"))" test "$(py "b('${DOWN}')['down_reason']")" = timeout
unblock
stamp "${DOWN}:80 answers again"
ms=$(wait_for "b('${DOWN}')['up']" 3000) || true
check "${DOWN} is up again in ${ms} ms" test "$(py "b('${DOWN}')['up']")" = True

# Hundreds of probes so far, 64 probe ports: each port was reused several times against
# nginx, whose side of each closed probe sits in TIME-WAIT for 60 s. A reused port that
# collided would fail as refused or reset: none may. A 150 ms timeout can expire now
# and then on a busy 2-CPU VM; those stay rare and never take a healthy backend down.
probes=$(py 'sum(b(a)["health_checks"]["ok"] for a in ("198.18.3.101", "198.18.3.103"))' || true)
failed=$(py 'sum(n for a in ("198.18.3.101", "198.18.3.103") for k, n in b(a)["health_checks"].items() if k not in ("ok", "timeout"))' || true)
timeouts=$(py 'sum(b(a)["health_checks"].get("timeout", 0) for a in ("198.18.3.101", "198.18.3.103"))' || true)
check "probes of .101 and .103: ${probes} ok (> 64: every probe port reused), ${failed} failed other than by timeout" \
  test "${probes:-0}" -gt 64 -a "${failed:-1}" -eq 0
check "probes of .101 and .103: ${timeouts:-?} timed out (at most 1 in 50)" test "$(( ${timeouts:-999} * 50 ))" -le "${probes:-0}"
check "the healthy backends were never marked down" \
  bash -c "! grep -E '\"event\":\"backend_down\".*198\.18\.3\.10[13]:80' '${LOG}'"

# 5. ctl and metrics show it.
human=$("${CTL[@]}" backends || true)
check "ctl backends shows health ($(grep "web ${DOWN}:80:" <<<"${human}" | cut -d';' -f2))" \
  grep -qE "^backend web ${DOWN}:80: .*, up \(health checks, [0-9]+ transitions\)$" <<<"${human}"
metrics=$(ip netns exec bt-a curl -sS -m 5 http://127.0.0.1:9180/metrics)
check "metrics: baton_backend_up for ${DOWN} is 1" \
  grep -q "^baton_backend_up{pool=\"web\",backend=\"${DOWN}:80\"} 1$" <<<"${metrics}"
check "metrics: timeouts counted for ${DOWN}" \
  grep -qE "^baton_health_checks_total\{pool=\"web\",backend=\"${DOWN}:80\",result=\"timeout\"\} [1-9]" <<<"${metrics}"
check "metrics: successes counted for .101" \
  grep -qE "^baton_health_checks_total\{pool=\"web\",backend=\"198.18.3.101:80\",result=\"ok\"\} [1-9]" <<<"${metrics}"
check "every log line from the data plane is one JSON object" /usr/bin/python3 -c "
import json, sys
n = 0
for line in open(sys.argv[1]):
    if line.startswith('{'):
        o = json.loads(line); n += 1
        assert {'time', 'level', 'worker', 'event'} <= o.keys(), o
sys.exit(0 if n >= 5 else 1)" "${LOG}"

echo "  the data plane's health log lines:"
grep -E '"event":"(backend_down|backend_up|log_suppressed)"' "${LOG}" | sed 's/^/    /' || true
rc=0
stop_box "${BOX_PID}" || rc=$?
check "baton exits 0 (${rc})" test "${rc}" -eq 0
BOX_PIDS=()

echo "health: ${PASSED} passed, ${FAILED} failed"
((FAILED == 0))
