#!/usr/bin/env bash
# TLS comparison (issue 7): baton (box A, configs/demo.toml, TLS listener
# 198.18.100.10:443 -> nginx pool "web") against HAProxy and NGINX terminating TLS on the
# same VIP in the same namespace (bt-a), one load balancer at a time, same clients
# (bt-client), same backends (bt-backend nginx), same certificate (site-ecdsa, P-256),
# one worker each, TLS 1.3. R rounds; the order of the three rotates every round.
#
#   bench/tls_compare.sh [--rounds N] [--quick] [--build DIR] [--out DIR] [--rate RPS]
#
# Per load balancer and round (docs/BENCH.md says what each number means):
#   keep-alive req/s     wrk -t1 -c32 over https, GET /files/1k.bin, D s
#   full handshakes/s    4 parallel `openssl s_time -new -www /files/1k.bin` (one new
#                        TLS 1.3 connection, X25519 + ECDSA P-256, per request)
#   resumed handshakes/s 4 parallel `openssl s_time -reuse` (TLS 1.3 ticket resumption);
#                        "no resumption" when fewer than 90 % of its connections resumed
#   bulk MB/s            curl of /files/256m.bin; sha256 checked in round 1
#   p50/p99 latency      h2load --h1 -c 8 --rps at a fixed total rate (--rate, 1000/s)
#   CPU                  utime + stime of the LB's processes (/proc/PID/stat, all
#                        threads) per 1,000 requests / handshakes and per GB
# Round 1 also sweeps wrk keep-alive req/s over 1, 8, 32, 128 connections.
#
# Writes bench/results/tls_compare-YYYYmmdd-HHMMSS-<commit>.{md,csv} and the plots
# ...-ratios.png and ...-sweep.png next to them, and prints the Markdown. Exit status 0
# when every load balancer answered every measurement, 1 otherwise. Needs root. Waits
# (up to 10 min) for a testbed someone else has up; tears down whatever it brought up.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}" || exit 1

ROUNDS=3
QUICK=0
BUILD=build
OUT_DIR="${ROOT}/bench/results"
RATE=1000
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --out) OUT_DIR=${2:?}; shift 2 ;;
    --rate) RATE=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tls_compare: unknown argument $1" >&2; exit 64 ;;
  esac
done
[[ ${ROUNDS} =~ ^[1-9][0-9]*$ ]] || { echo "tls_compare: --rounds wants a positive integer" >&2; exit 64; }
[[ ${RATE} =~ ^[1-9][0-9]*$ ]] || { echo "tls_compare: --rate wants requests per second" >&2; exit 64; }
[[ $(id -u) -eq 0 ]] || { echo "tls_compare: run as root (namespaces, DPDK)" >&2; exit 1; }
[[ ${BUILD} == /* ]] || BUILD="${ROOT}/${BUILD}"
export BATON="${BUILD}/controlplane/baton"
[[ -x ${BATON} ]] || { echo "tls_compare: no baton binary at ${BATON} (build first)" >&2; exit 1; }

# Durations (seconds) of each timed client run; --quick is a smoke run (1 round, ~1 min).
if ((QUICK)); then
  ROUNDS=1 D_KA=2 D_HS=2 D_LAT=2 D_SWEEP=1
else
  D_KA=5 D_HS=4 D_LAT=5 D_SWEEP=3
fi
readonly ROUNDS QUICK D_KA D_HS D_LAT D_SWEEP RATE
readonly KA_CONNS=32 HS_PROCS=4 LAT_CONNS=8
# TLS 1.3 suites in baton's order of preference, given to HAProxy and NGINX too (their
# default would pick the client's first, AES-256-GCM): all three negotiate the same.
readonly SUITES=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
readonly SWEEP_CONNS=(1 8 32 128)
readonly LBS_ALL=(baton haproxy nginx)

# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"   # start_box, stop_box, box_stat; sets E2E_TMP, EAL_MEM

readonly CONFIG="${ROOT}/configs/demo.toml"
readonly FILES_DIR=/var/tmp/baton-testbed-files/files
readonly TLSDIR=/var/tmp/baton-testbed-files/tls
readonly BULK="${FILES_DIR}/256m.bin"
readonly BULK_SIZE=$((256 * 1024 * 1024))
readonly VIP=198.18.100.10 HOST=www.example.com
readonly FRONT_ADDR=198.18.2.11 BACK_ADDR=198.18.3.11 ROUTER_ADDR=198.18.2.1
readonly BACKENDS=(198.18.3.101 198.18.3.102 198.18.3.103)
readonly URL_1K="https://${VIP}/files/1k.bin"
HZ=$(getconf CLK_TCK)
readonly HZ
WORKERS=$(awk -F'[=#]' '/^[[:space:]]*workers[[:space:]]*=/ { gsub(/[[:space:]]/, "", $2); print $2; exit }' "${CONFIG}")
[[ ${WORKERS} =~ ^[0-9]+$ ]] || WORKERS=1
readonly WORKERS

say() { printf 'tls_compare: %s\n' "$*" >&2; }
inc() { ip netns exec bt-client "$@"; }   # a client command in bt-client

# ------------------------------------------------------------------ cleanup
TESTBED_OURS=0
PEER_PID=""        # haproxy or nginx (master) we started
BATON_PID=""
KERNEL_ADDRS=0
declare -A SAVED_SYSCTL=()

stop_pid() {  # stop_pid PID: TERM, 5 s, KILL; only a process this script started
  local pid=$1 i
  [[ -n ${pid} ]] || return 0
  if kill -0 "${pid}" 2>/dev/null; then
    kill -TERM "${pid}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${pid}" 2>/dev/null && kill -KILL "${pid}" 2>/dev/null
  fi
  wait "${pid}" 2>/dev/null
  return 0
}

stop_peer() { stop_pid "${PEER_PID}"; PEER_PID=""; }

stop_baton() {
  [[ -n ${BATON_PID} ]] || return 0
  stop_box "${BATON_PID}" || say "baton exited with status $?"
  BATON_PID=""
  BOX_PIDS=()
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_peer
  stop_baton
  if ((TESTBED_OURS)) && [[ $(testbed_id) == "${TESTBED_ID}" ]]; then
    kernel_addrs_off
    e2e_cleanup    # stops the boxes it started, testbed down, removes E2E_TMP
  else
    rm -rf "${E2E_TMP}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ prerequisites
ensure_pkg() {  # ensure_pkg COMMAND-OR-PYMODULE PACKAGE
  local what=$1 pkg=$2
  if [[ ${what} == py:* ]]; then
    /usr/bin/python3 -c "import ${what#py:}" 2>/dev/null && return 0
  else
    command -v "${what}" >/dev/null 2>&1 && return 0
  fi
  say "installing ${pkg} (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${pkg}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${pkg}" >/dev/null; } ||
    { say "cannot install ${pkg}"; exit 1; }
}

ensure_prereqs() {
  ensure_pkg haproxy haproxy
  ensure_pkg nginx nginx-light
  ensure_pkg wrk wrk
  ensure_pkg h2load nghttp2-client
  ensure_pkg curl curl
  ensure_pkg openssl openssl
  ensure_pkg py:matplotlib python3-matplotlib
}

# Which testbed is up: the state dir's inode and change time, so that a testbed torn
# down by someone else (and maybe brought up again by them) is told from ours.
testbed_id() { stat -c '%i:%Z' /run/baton-testbed/boxes 2>/dev/null || echo none; }
TESTBED_ID=none

# testbed_still_ours: our testbed is still up (someone else's `testbed.sh down` or
# e2e_cleanup can tear it down under us; then the run stops, and leaves theirs alone).
testbed_still_ours() {
  [[ $(testbed_id) == "${TESTBED_ID}" ]] && [[ -e /run/netns/bt-a && -e /run/netns/bt-client ]]
}

# Waits until no bt-* namespace (and no testbed state dir) is left by someone else,
# polling every 30 s for up to 10 min, then brings the testbed up.
testbed_up() {
  local deadline=$((SECONDS + 600)) busy
  while :; do
    busy=$(ip netns list 2>/dev/null | awk '$1 ~ /^bt-/ { print $1 }' | tr '\n' ' ')
    [[ -e /run/baton-testbed ]] && busy+="(state dir /run/baton-testbed)"
    if [[ -z ${busy} ]]; then
      if "${TESTBED}" up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1; then
        TESTBED_OURS=1
        E2E_TESTBED_OWNED=1  # so e2e_cleanup (tests/e2e/lib.sh) tears it down
        TESTBED_ID=$(testbed_id)
        return 0
      fi
      say "testbed up failed:"; cat "${E2E_TMP}/testbed.log" >&2
      if [[ -z $(ip netns list 2>/dev/null | awk '$1 ~ /^bt-/') ]]; then exit 1; fi
      busy="(someone else's testbed came up)"
    fi
    if ((SECONDS >= deadline)); then
      say "the testbed is still in use after 10 min: ${busy}; giving up"
      exit 1
    fi
    say "testbed in use by someone else: ${busy}; waiting 30 s"
    sleep 30
  done
}

# ------------------------------------------------------------------ CPU accounting
# CPU ticks (utime + stime, all threads) of the LB: baton's process, HAProxy's process,
# or NGINX's master plus its workers (children of the master we started).
LB_PIDS=()
lb_ticks() {
  local pid kid total=0 t
  for pid in "${LB_PIDS[@]}"; do
    t=$(awk '{ print $14 + $15 }' "/proc/${pid}/stat" 2>/dev/null) && total=$((total + t))
    for kid in $(cat "/proc/${pid}/task/${pid}/children" 2>/dev/null); do
      t=$(awk '{ print $14 + $15 }' "/proc/${kid}/stat" 2>/dev/null) && total=$((total + t))
    done
  done
  echo "${total}"
}
ticks_to_s() { awk -v a="$1" -v b="$2" -v hz="${HZ}" 'BEGIN { printf "%.2f", (b - a) / hz }'; }

# ------------------------------------------------------------------ recording
# CSV: round,lb,metric,value,unit,cpu_s,count,status,note
rec() {
  local round=$1 lb=$2 metric=$3 value=$4 unit=$5 cpu=$6 count=$7 status=$8 note=${9:-}
  note=${note//,/;}
  printf '%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "${round}" "${lb}" "${metric}" "${value}" "${unit}" \
    "${cpu}" "${count}" "${status}" "${note}" >>"${CSV}"
  say "round ${round} ${lb} ${metric}: ${value} ${unit} (${status}${cpu:+, ${cpu} CPU s}${note:+; ${note}})"
  [[ ${status} == ok || ${status} == no-resumption ]] ||
    echo "- round ${round}, ${lb}, ${metric}: ${status}${note:+: ${note}}" >>"${FAILURES}"
}

# ------------------------------------------------------------------ measurements
warm_up() {
  local i
  for ((i = 0; i < 20; i++)); do
    inc curl -fsS --http1.1 -o /dev/null -m 2 --cacert "${TLSDIR}/ca.pem" --resolve "${HOST}:443:${VIP}" \
      "https://${HOST}/files/1k.bin" 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}

# What one handshake with OpenSSL's default client offer negotiates (the libssl that
# wrk, h2load and s_time use): protocol, suite, key exchange group, server signature;
# once with SNI www.example.com, once without (s_time and h2load send none to an address).
probe() {
  local lb=$1 sni out proto suite group sig
  for sni in "${HOST}" none; do
    local args=(-connect "${VIP}:443" -CAfile "${TLSDIR}/ca.pem" -verify_hostname "${HOST}")
    if [[ ${sni} == none ]]; then args+=(-noservername); else args+=(-servername "${sni}"); fi
    out=$(timeout 10 ip netns exec bt-client openssl s_client "${args[@]}" </dev/null 2>&1 || true)
    proto=$(sed -n 's/^New, \([^,]*\), Cipher is .*/\1/p' <<<"${out}" | head -n1)
    suite=$(sed -n 's/^New, [^,]*, Cipher is //p' <<<"${out}" | head -n1)
    group=$(sed -n 's/^Server Temp Key: //p' <<<"${out}" | head -n1 | cut -d, -f1)
    sig=$(sed -n 's/^Peer signature type: //p' <<<"${out}" | head -n1)
    echo "| ${lb} | ${sni} | ${proto:-?} | ${suite:-?} | ${group:-?} | ${sig:-?} | $(grep -q 'Verify return code: 0 (ok)' <<<"${out}" && echo verified || echo NOT verified) |" >>"${PROBES}"
  done
}

# wrk_run CONNS SECONDS TAG: keep-alive GETs of /files/1k.bin; sets W_RPS W_REQ W_CPU W_STATUS W_NOTE
wrk_run() {
  local conns=$1 secs=$2 tag=$3 out="${E2E_TMP}/$3.wrk" t0 t1
  t0=$(lb_ticks)
  timeout $((secs + 20)) ip netns exec bt-client wrk -t 1 -c "${conns}" -d "${secs}s" --timeout 5s \
    "${URL_1K}" >"${out}" 2>&1
  local rc=$?
  t1=$(lb_ticks)
  W_CPU=$(ticks_to_s "${t0}" "${t1}")
  W_RPS=$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' "${out}")
  W_REQ=$(awk '/ requests in / { print $1 }' "${out}")
  W_NOTE=$(grep -E 'Socket errors|Non-2xx' "${out}" | tr -s ' \n' ' ' | sed 's/ $//')
  if [[ ${rc} -ne 0 || -z ${W_RPS} || -z ${W_REQ} || ${W_REQ} -eq 0 ]]; then
    W_STATUS=FAIL W_RPS=${W_RPS:-0} W_REQ=${W_REQ:-0}
    W_NOTE="wrk exit ${rc}: $(tail -n 3 "${out}" | tr '\n' ' ')"
  elif [[ -n ${W_NOTE} ]]; then
    W_STATUS=errors
  else
    W_STATUS=ok
  fi
}

# stime_run MODE TAG: HS_PROCS parallel `openssl s_time -MODE` for D_HS s; sets S_RATE
# S_CONNS S_RESUMED S_CPU S_STATUS S_NOTE
stime_run() {
  local mode=$1 tag=$2 i t0 t1 w0 w1 pids=() f conns=0 resumed=0 n r
  t0=$(lb_ticks)
  w0=$(date +%s.%N)
  for ((i = 0; i < HS_PROCS; i++)); do
    timeout $((D_HS + 20)) ip netns exec bt-client openssl s_time -connect "${VIP}:443" \
      "-${mode}" -time "${D_HS}" -www /files/1k.bin >"${E2E_TMP}/${tag}.${i}.stime" 2>&1 &
    pids+=($!)
  done
  local bad=0
  for i in "${pids[@]}"; do wait "${i}" || bad=$((bad + 1)); done
  w1=$(date +%s.%N)
  t1=$(lb_ticks)
  S_CPU=$(ticks_to_s "${t0}" "${t1}")
  for ((i = 0; i < HS_PROCS; i++)); do
    f="${E2E_TMP}/${tag}.${i}.stime"
    # The last "N connections in T real seconds" line is this mode's (-new or -reuse).
    n=$(awk '/connections in .* real seconds/ { n = $1 } END { print n + 0 }' "${f}")
    # One character per connection on lines of their own: 'r' resumed, '*' (or a
    # version letter, 't' or '3') a full handshake.
    r=$(grep -E '^[rt3*]+$' "${f}" | tr -cd 'r' | wc -c)
    conns=$((conns + n)) resumed=$((resumed + r))
  done
  S_CONNS=${conns} S_RESUMED=${resumed}
  S_RATE=$(awk -v n="${conns}" -v a="${w0}" -v b="${w1}" 'BEGIN { if (b > a) printf "%.1f", n / (b - a); else print 0 }')
  S_NOTE="${conns} connections by ${HS_PROCS} clients in $(awk -v a="${w0}" -v b="${w1}" 'BEGIN { printf "%.2f", b - a }') s; ${resumed} resumed"
  if ((conns == 0)); then
    S_STATUS=FAIL S_NOTE="no connection completed; $(tail -n 2 "${E2E_TMP}/${tag}.0.stime" | tr '\n' ' ')"
  elif ((bad > 0)); then
    S_STATUS=errors S_NOTE+="; ${bad} s_time exited non-zero"
  else
    S_STATUS=ok
  fi
}

# bulk_run ROUND TAG: /files/256m.bin; sets B_MBPS B_BYTES B_CPU B_STATUS B_NOTE
bulk_run() {
  local round=$1 tag=$2 out="${E2E_TMP}/$2.curl" sum="${E2E_TMP}/$2.sha" t0 t1 rc http bytes speed secs
  local sink=/dev/null
  : >"${sum}"
  t0=$(lb_ticks)
  if ((round == 1)); then   # checked once per LB per run: the body streams into sha256sum
    inc curl -sS --http1.1 -m 120 --connect-timeout 5 --speed-limit 1024 --speed-time 15 \
      --cacert "${TLSDIR}/ca.pem" --resolve "${HOST}:443:${VIP}" \
      -o >(sha256sum | awk '{ print $1 }' >"${sum}") \
      -w '%{http_code} %{size_download} %{time_total} %{speed_download}' \
      "https://${HOST}/files/256m.bin" >"${out}" 2>"${out}.err"
    rc=$?
  else
    inc curl -sS --http1.1 -m 120 --connect-timeout 5 --speed-limit 1024 --speed-time 15 \
      --cacert "${TLSDIR}/ca.pem" --resolve "${HOST}:443:${VIP}" -o "${sink}" \
      -w '%{http_code} %{size_download} %{time_total} %{speed_download}' \
      "https://${HOST}/files/256m.bin" >"${out}" 2>"${out}.err"
    rc=$?
  fi
  t1=$(lb_ticks)
  sleep 0.3   # the sha256sum process substitution finishes
  read -r http bytes secs speed <"${out}" || true
  http=${http:-000} bytes=${bytes:-0} speed=${speed:-0} secs=${secs:-0}
  B_BYTES=${bytes}
  B_CPU=$(ticks_to_s "${t0}" "${t1}")
  B_MBPS=$(awk -v s="${speed}" 'BEGIN { printf "%.1f", s / 1e6 }')
  B_NOTE="HTTP ${http}, ${bytes} bytes in ${secs} s"
  if [[ ${rc} -ne 0 || ${http} != 200 || ${bytes} -ne ${BULK_SIZE} ]]; then
    B_STATUS=FAIL B_NOTE+="; curl exit ${rc}: $(tr '\n' ' ' <"${out}.err")"
  elif ((round == 1)); then
    if [[ $(cat "${sum}") == "${BULK_SHA}" ]]; then
      B_NOTE+="; sha256 ok"
      B_STATUS=ok
    else
      B_STATUS=FAIL B_NOTE+="; sha256 $(cat "${sum}") != ${BULK_SHA}"
    fi
  else
    B_STATUS=ok
  fi
}

# lat_run TAG: h2load --h1 -c LAT_CONNS at RATE req/s in all for D_LAT s, one request
# in flight per connection; p50/p99 from its per-request log. Sets L_P50 L_P99 L_ACH
# L_CPU L_REQ L_STATUS L_NOTE
lat_run() {
  local tag=$1 out="${E2E_TMP}/$1.h2load" log="${E2E_TMP}/$1.h2log" t0 t1 rc per stats
  per=$(( (RATE + LAT_CONNS - 1) / LAT_CONNS ))
  rm -f "${log}"
  t0=$(lb_ticks)
  timeout $((D_LAT + 20)) ip netns exec bt-client h2load --h1 -c "${LAT_CONNS}" -m 1 --rps "${per}" \
    -D "${D_LAT}" --warm-up-time 1 --log-file "${log}" "${URL_1K}" >"${out}" 2>&1
  rc=$?
  t1=$(lb_ticks)
  L_CPU=$(ticks_to_s "${t0}" "${t1}")
  # log: start time (µs since epoch), status, duration (µs) of each request after the
  # warm-up second (h2load does not log the warm-up's).
  stats=$(/usr/bin/python3 - "${log}" "${D_LAT}" <<'PY'
import sys
rows = []
try:
    for line in open(sys.argv[1]):
        p = line.split()
        if len(p) >= 3:
            rows.append((int(p[0]), int(p[1]), int(p[2])))
except OSError:
    pass
if not rows:
    print("0 0 0 0 0"); sys.exit()
main = rows
span = float(sys.argv[2])
ok = sorted(r[2] for r in main if 200 <= r[1] < 300)
bad = sum(1 for r in main if not 200 <= r[1] < 300)
def pct(q):
    if not ok:
        return 0.0
    return ok[min(len(ok) - 1, int(q * len(ok)))] / 1000.0
print("%.3f %.3f %.1f %d %d" % (pct(0.50), pct(0.99), len(main) / span, len(main), bad))
PY
)
  local bad
  read -r L_P50 L_P99 L_ACH L_REQ bad <<<"${stats}"
  L_NOTE="offered ${RATE}/s (${LAT_CONNS} conns x ${per}/s), achieved ${L_ACH}/s, ${L_REQ} requests"
  if [[ ${rc} -ne 0 || ${L_REQ} -eq 0 ]]; then
    L_STATUS=FAIL L_NOTE+="; h2load exit ${rc}: $(grep -E '^requests:|error' "${out}" | head -n 3 | tr '\n' ' ')"
  elif ((bad > 0)); then
    L_STATUS=errors L_NOTE+="; ${bad} non-2xx"
  elif awk -v a="${L_ACH}" -v r="${RATE}" 'BEGIN { exit !(a < 0.9 * r) }'; then
    L_STATUS=saturated L_NOTE+="; below 90 % of the offered rate"
  else
    L_STATUS=ok
  fi
}

# measure ROUND LB: every metric against whichever LB is on the VIP now.
measure() {
  local round=$1 lb=$2 tag="$2-r$1" c
  warm_up || say "${lb}: warm-up request through the VIP failed"
  ((round == 1)) && probe "${lb}"

  wrk_run "${KA_CONNS}" "${D_KA}" "${tag}-ka"
  rec "${round}" "${lb}" ka_rps "${W_RPS}" req/s "${W_CPU}" "${W_REQ}" "${W_STATUS}" "wrk -c${KA_CONNS} ${D_KA}s; ${W_REQ} requests ${W_NOTE}"

  stime_run new "${tag}-new"
  ((S_RESUMED > 0)) && S_NOTE+="; some resumed: not all full handshakes"
  rec "${round}" "${lb}" full_hs "${S_RATE}" hs/s "${S_CPU}" "${S_CONNS}" "${S_STATUS}" "${S_NOTE}"

  stime_run reuse "${tag}-reuse"
  if [[ ${S_STATUS} == ok ]] && ((S_RESUMED * 10 < S_CONNS * 9)); then
    S_STATUS=no-resumption
    S_NOTE+="; fewer than 90 % resumed: the rate is of mostly full handshakes"
  fi
  rec "${round}" "${lb}" resumed_hs "${S_RATE}" hs/s "${S_CPU}" "${S_CONNS}" "${S_STATUS}" "${S_NOTE}"

  bulk_run "${round}" "${tag}-bulk"
  rec "${round}" "${lb}" bulk_mbps "${B_MBPS}" MB/s "${B_CPU}" "${B_BYTES}" "${B_STATUS}" "${B_NOTE}"

  lat_run "${tag}-lat"
  rec "${round}" "${lb}" lat_p50_ms "${L_P50}" ms "${L_CPU}" "${L_REQ}" "${L_STATUS}" "${L_NOTE}"
  rec "${round}" "${lb}" lat_p99_ms "${L_P99}" ms "${L_CPU}" "${L_REQ}" "${L_STATUS}" "${L_NOTE}"

  if ((round == 1)); then
    for c in "${SWEEP_CONNS[@]}"; do
      wrk_run "${c}" "${D_SWEEP}" "${tag}-sweep${c}"
      rec "${round}" "${lb}" "sweep_rps_c${c}" "${W_RPS}" req/s "${W_CPU}" "${W_REQ}" "${W_STATUS}" "wrk -c${c} ${D_SWEEP}s ${W_NOTE}"
    done
  fi
}

# A load balancer that could not start: every metric of the round is a failure.
rec_all_failed() {
  local round=$1 lb=$2 why=$3 m
  for m in ka_rps full_hs resumed_hs bulk_mbps lat_p50_ms lat_p99_ms; do
    rec "${round}" "${lb}" "${m}" 0 - 0 0 FAIL "${why}"
  done
}

# ------------------------------------------------------------------ the three LBs
flush_neighbours() {
  ip -n bt-router neigh flush to "${FRONT_ADDR}" >/dev/null 2>&1 || true
  ip -n bt-backend neigh flush to "${BACK_ADDR}" >/dev/null 2>&1 || true
}

run_baton() {
  local round=$1 name="baton-r$1" stats
  flush_neighbours
  if ! start_box bt-a "${CONFIG}" "${name}"; then
    BOX_PIDS=()
    rec_all_failed "${round}" baton "baton did not start"
    return
  fi
  BATON_PID=${BOX_PID}
  LB_PIDS=("${BATON_PID}")
  measure "${round}" baton
  settle_stats
  stats=$(box_stat "${name}" '"%d %d %d %d %d" % (s["counters"]["tls_handshakes"], s["counters"].get("tls_resumed", -1), s["counters"]["tls_handshake_failures"], s["counters"]["tls_session_failures"], sum(p["imissed"] for p in s["ports"]))' 2>/dev/null) ||
    stats="? ? ? ? ?"
  local drops
  drops=$(box_stat "${name}" '", ".join(["%s %d" % kv for kv in s["drops"].items() if kv[1]] + ["tcp: %s %d" % kv for kv in s["tcp_drops"].items() if kv[1]]) or "none"' 2>/dev/null) ||
    drops="?"
  stop_baton
  local hs res hf sf missed
  read -r hs res hf sf missed <<<"${stats}"
  [[ ${res} == -1 ]] && res="(no counter)"
  echo "| ${round} | ${hs} | ${res} | ${hf} | ${sf} | ${missed} | ${drops} |" >>"${BATON_NOTES}"
}

set_sysctl() {  # set_sysctl KEY VALUE: in bt-a, remembering the old value once
  local key=$1 val=$2
  if [[ -z ${SAVED_SYSCTL[${key}]+x} ]]; then
    SAVED_SYSCTL[${key}]=$(ip netns exec bt-a sysctl -n "${key}" 2>/dev/null) || return 0
  fi
  ip netns exec bt-a sysctl -qw "${key}=${val}" >/dev/null 2>&1 || true
}

# The kernel of bt-a takes box A's addresses while HAProxy or NGINX runs (they are
# baton's otherwise; l4_compare.sh does the same).
kernel_addrs_on() {
  KERNEL_ADDRS=1
  set_sysctl net.ipv4.conf.all.arp_ignore 0
  set_sysctl net.ipv4.conf.front.arp_ignore 0
  set_sysctl net.ipv4.conf.back.arp_ignore 0
  ip -n bt-a addr add "${FRONT_ADDR}/24" dev front
  ip -n bt-a addr add "${BACK_ADDR}/24" dev back
  ip -n bt-a addr add "${VIP}/32" dev lo
  ip -n bt-a route add default via "${ROUTER_ADDR}" dev front
}

kernel_addrs_off() {
  ((KERNEL_ADDRS)) || return 0
  [[ -e /run/netns/bt-a ]] || { KERNEL_ADDRS=0; return 0; }
  ip -n bt-a route del default via "${ROUTER_ADDR}" dev front 2>/dev/null
  ip -n bt-a addr del "${VIP}/32" dev lo 2>/dev/null
  ip -n bt-a addr del "${BACK_ADDR}/24" dev back 2>/dev/null
  ip -n bt-a addr del "${FRONT_ADDR}/24" dev front 2>/dev/null
  ip -n bt-a neigh flush all >/dev/null 2>&1
  local key
  for key in "${!SAVED_SYSCTL[@]}"; do
    ip netns exec bt-a sysctl -qw "${key}=${SAVED_SYSCTL[${key}]}" >/dev/null 2>&1 || true
  done
  SAVED_SYSCTL=()
  KERNEL_ADDRS=0
}

write_haproxy_cfg() {
  local cfg=$1 i=0 addr
  {
    echo "# generated by bench/tls_compare.sh; runs in ns bt-a"
    echo "global"
    echo "    nbthread ${WORKERS}"
    echo "    maxconn 8192"
    echo "    ssl-default-bind-options ssl-min-ver TLSv1.3"
    echo "    ssl-default-bind-ciphersuites ${SUITES}"
    echo "defaults"
    echo "    mode http"
    echo "    option http-keep-alive"
    echo "    http-reuse always"
    echo "    timeout connect 5s"
    echo "    timeout client 60s"
    echo "    timeout server 60s"
    echo "    timeout http-keep-alive 60s"
    echo "frontend vip"
    echo "    bind ${VIP}:443 ssl crt ${E2E_TMP}/haproxy-site-ecdsa.pem alpn http/1.1"
    echo "    default_backend web"
    echo "backend web"
    echo "    balance roundrobin"
    echo "    source ${BACK_ADDR}"
    for addr in "${BACKENDS[@]}"; do
      i=$((i + 1))
      echo "    server web${i} ${addr}:80"
    done
  } >"${cfg}"
}

write_nginx_cfg() {
  local dir=$1 addr t
  mkdir -p "${dir}/logs"
  for t in body proxy fastcgi uwsgi scgi; do mkdir -p "${dir}/tmp/${t}"; done
  {
    echo "# generated by bench/tls_compare.sh; runs in ns bt-a"
    echo "daemon off;"
    echo "master_process on;"
    echo "user root;"
    echo "worker_processes ${WORKERS};"
    echo "worker_rlimit_nofile 16384;"
    echo "pid ${dir}/nginx.pid;"
    echo "error_log ${dir}/logs/error.log warn;"
    echo "events { worker_connections 8192; }"
    echo "http {"
    echo "    access_log off;"
    echo "    keepalive_timeout 60s;"
    echo "    keepalive_requests 1000000;"
    echo "    client_body_temp_path ${dir}/tmp/body;"
    echo "    proxy_temp_path ${dir}/tmp/proxy;"
    echo "    fastcgi_temp_path ${dir}/tmp/fastcgi;"
    echo "    uwsgi_temp_path ${dir}/tmp/uwsgi;"
    echo "    scgi_temp_path ${dir}/tmp/scgi;"
    echo "    upstream web {"
    for addr in "${BACKENDS[@]}"; do echo "        server ${addr}:80;"; done
    echo "        keepalive 64;"
    echo "        keepalive_requests 1000000;"
    echo "    }"
    echo "    server {"
    echo "        listen ${VIP}:443 ssl;"
    echo "        ssl_certificate ${TLSDIR}/site-ecdsa.pem;"
    echo "        ssl_certificate_key ${TLSDIR}/site-ecdsa.key;"
    echo "        ssl_protocols TLSv1.3;"
    echo "        ssl_session_tickets on;"
    echo "        ssl_prefer_server_ciphers on;"
    echo "        ssl_conf_command Ciphersuites ${SUITES};"
    echo "        location / {"
    echo "            proxy_pass http://web;"
    echo "            proxy_http_version 1.1;"
    echo "            proxy_set_header Connection \"\";"
    echo "            proxy_bind ${BACK_ADDR};"
    echo "            proxy_max_temp_file_size 0;"
    echo "        }"
    echo "    }"
    echo "}"
  } >"${dir}/nginx.conf"
}

# start_peer LB: HAProxy or NGINX in bt-a on the kernel's copy of box A's addresses.
start_peer() {
  local lb=$1 i log="${E2E_TMP}/$1.log"
  flush_neighbours
  kernel_addrs_on
  case ${lb} in
    haproxy)
      ip netns exec bt-a haproxy -f "${E2E_TMP}/haproxy.cfg" -db >>"${log}" 2>&1 &
      PEER_PID=$! ;;
    nginx)
      ip netns exec bt-a nginx -p "${E2E_TMP}/nginx/" -c "${E2E_TMP}/nginx/nginx.conf" \
        -e "${E2E_TMP}/nginx/logs/error.log" >>"${log}" 2>&1 &
      PEER_PID=$! ;;
  esac
  LB_PIDS=("${PEER_PID}")
  for ((i = 0; i < 50; i++)); do
    ip netns exec bt-a ss -Hltn "sport = :443" 2>/dev/null | grep -q "${VIP}:443" && return 0
    kill -0 "${PEER_PID}" 2>/dev/null || break
    sleep 0.1
  done
  say "${lb} did not start:"; cat "${log}" >&2
  return 1
}

run_peer() {
  local round=$1 lb=$2
  if start_peer "${lb}"; then
    measure "${round}" "${lb}"
  else
    rec_all_failed "${round}" "${lb}" "${lb} did not start"
  fi
  stop_peer
  kernel_addrs_off
  flush_neighbours
}

# ------------------------------------------------------------------ main
ensure_prereqs
[[ -f ${BULK} && $(stat -c %s "${BULK}") -eq ${BULK_SIZE} ]] || BULK_SHA=""

COMMIT=$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=0
[[ -n $(git -C "${ROOT}" status --porcelain 2>/dev/null) ]] && DIRTY=1
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "${OUT_DIR}"
BASE="${OUT_DIR}/tls_compare-${STAMP}-${COMMIT}"
CSV="${BASE}.csv" MD="${BASE}.md"
FAILURES="${E2E_TMP}/failures.md" BATON_NOTES="${E2E_TMP}/baton-notes.md" PROBES="${E2E_TMP}/probes.md"
: >"${FAILURES}"; : >"${BATON_NOTES}"; : >"${PROBES}"
echo "round,lb,metric,value,unit,cpu_s,count,status,note" >"${CSV}"

T_START=${SECONDS}
# A private copy of the binary: every round runs the same baton even if the shared build
# directory is rebuilt meanwhile.
cp "${BATON}" "${E2E_TMP}/baton" || { say "cannot copy ${BATON}"; exit 1; }
BATON_BUILT=$(date -r "${BATON}" '+%Y-%m-%d %H:%M:%S')
BATON_SRC=${BATON}
BATON="${E2E_TMP}/baton"
testbed_up
# The testbed makes the data files and certificates.
BULK_SHA=$(sha256sum "${BULK}" | awk '{ print $1 }')   # also leaves it in the page cache
readonly BULK_SHA
cat "${TLSDIR}/site-ecdsa.pem" "${TLSDIR}/site-ecdsa.key" >"${E2E_TMP}/haproxy-site-ecdsa.pem"
chmod 600 "${E2E_TMP}/haproxy-site-ecdsa.pem"
write_haproxy_cfg "${E2E_TMP}/haproxy.cfg"
haproxy -c -q -f "${E2E_TMP}/haproxy.cfg" || { say "haproxy rejects its config"; exit 1; }
write_nginx_cfg "${E2E_TMP}/nginx"
say "testbed up; ${ROUNDS} round(s)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

LOST=""
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < 3; k++)); do
    lb=${LBS_ALL[$(((k + r - 1) % 3))]}   # rotate the order every round
    if ! testbed_still_ours; then
      LOST="the testbed was torn down by someone else before round ${r}, ${lb}"
      say "${LOST}: stopping"
      echo "- ${LOST}; the run stopped there" >>"${FAILURES}"
      break 2
    fi
    case ${lb} in
      baton) run_baton "${r}" ;;
      *) run_peer "${r}" "${lb}" ;;
    esac
    if ! testbed_still_ours; then
      LOST="the testbed was torn down by someone else during round ${r}, ${lb}: its numbers are void"
      say "${LOST}: stopping"
      echo "- ${LOST}; the run stopped there" >>"${FAILURES}"
      break 2
    fi
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
META="${E2E_TMP}/meta.tsv"
{
  printf 'stamp\t%s\n' "$(date -d "@$(date +%s)" '+%Y-%m-%d %H:%M:%S %Z')"
  printf 'rounds\t%s\n' "${ROUNDS}"
  printf 'quick\t%s\n' "${QUICK}"
  printf 'elapsed_s\t%s\n' "$((SECONDS - T_START))"
  printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  printf 'cores\t%s\n' "$(nproc)"
  printf 'mem_gib\t%s\n' "$(free -g | awk '/^Mem:/ { print $2 }')"
  printf 'kernel\t%s\n' "$(uname -r)"
  printf 'load\t%s at the start, %s at the end\n' "${LOAD_START}" "${LOAD_END}"
  printf 'dpdk\t%s\n' "$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)"
  printf 'openssl\t%s\n' "$(openssl version 2>/dev/null)"
  printf 'ipsec_mb\t%s\n' "$(dpkg-query -W -f '${Version}' libipsec-mb1 2>/dev/null || echo unknown)"
  printf 'haproxy\t%s\n' "$(haproxy -v 2>/dev/null | head -n1 | sed 's/ - https.*//')"
  printf 'nginx\t%s\n' "$(nginx -v 2>&1 | sed 's/^nginx version: //') ($(dpkg-query -W -f '${Package} ${Version}' nginx-light 2>/dev/null || echo '?'))"
  printf 'wrk\t%s\n' "$(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }')"
  printf 'h2load\t%s\n' "$(h2load --version 2>&1 | head -n1)"
  printf 'commit\t%s%s\n' "${COMMIT}" "$( ((DIRTY)) && echo ' (working tree has uncommitted changes)')"
  printf 'baton\t%s\n' "\`${BATON_SRC#"${ROOT}"/}\` (built ${BATON_BUILT}), \`configs/demo.toml\` (${WORKERS} worker, idle back-off $(awk -F'[=#]' '/^[[:space:]]*idle_backoff_us/ { gsub(/[[:space:]]/, "", $2); print $2 }' "${CONFIG}") µs), EAL memory: ${EAL_MEM:-hugepages}"
  printf 'workers\t%s\n' "${WORKERS}"
  printf 'd_ka\t%s\nd_hs\t%s\nd_lat\t%s\nd_sweep\t%s\n' "${D_KA}" "${D_HS}" "${D_LAT}" "${D_SWEEP}"
  printf 'ka_conns\t%s\nhs_procs\t%s\nlat_conns\t%s\nrate\t%s\n' "${KA_CONNS}" "${HS_PROCS}" "${LAT_CONNS}" "${RATE}"
  printf 'bulk_sha\t%s\n' "${BULK_SHA}"
} >"${META}"
/usr/bin/python3 "${ROOT}/bench/tls_compare_report.py" --csv "${CSV}" --meta "${META}" \
  --probes "${PROBES}" --baton-notes "${BATON_NOTES}" --failures "${FAILURES}" --out "${BASE}" ||
  { say "report generation failed"; exit 1; }
cat "${MD}"
say "wrote ${MD}, ${CSV} and ${BASE}-{ratios,sweep}.png in $((SECONDS - T_START)) s"
if [[ -n ${LOST} ]] || grep -qE ',(FAIL|errors),' "${CSV}"; then exit 1; fi
exit 0
