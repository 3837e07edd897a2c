#!/usr/bin/env bash
# L4 comparison: one 1 GiB HTTP download through baton (box A, configs/demo.toml,
# listener 198.18.100.10:80 plain L4 to nginx) and through HAProxy `mode tcp` in the
# same namespace (bt-a), on the same testbed, in the same run, R rounds.
#
#   bench/l4_compare.sh [--rounds N] [--build DIR] [--max-time S] [--out DIR]
#
# Each round: (a) baton in bt-a, (b) HAProxy in bt-a with the kernel owning box A's
# addresses (front 198.18.2.11/24, back 198.18.3.11/24, VIP 198.18.100.10/32 on lo)
# for the length of its run. The client (bt-client) streams the file into sha256sum:
# nothing is written to disk. The CPU time of each load balancer over its transfer
# comes from /proc/PID/stat (utime + stime, all threads).
#
# Writes bench/results/l4_compare-YYYYmmdd-HHMMSS-<commit>.{md,csv} and prints the
# Markdown. Exit status 0 when every transfer arrived intact, 1 otherwise.
# Needs root. Waits (up to 15 min) for a testbed someone else has up; tears down
# whatever it brought up.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}" || exit 1

ROUNDS=3
BUILD=build
MAX_TIME=80          # seconds per 1 GiB download (curl -m)
OUT_DIR="${ROOT}/bench/results"
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --max-time) MAX_TIME=${2:?}; shift 2 ;;
    --out) OUT_DIR=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "l4_compare: unknown argument $1" >&2; exit 64 ;;
  esac
done
[[ ${ROUNDS} =~ ^[1-9][0-9]*$ ]] || { echo "l4_compare: --rounds wants a positive integer" >&2; exit 64; }
[[ ${MAX_TIME} =~ ^[1-9][0-9]*$ ]] || { echo "l4_compare: --max-time wants seconds" >&2; exit 64; }
[[ $(id -u) -eq 0 ]] || { echo "l4_compare: run as root (namespaces, DPDK)" >&2; exit 1; }
[[ ${BUILD} == /* ]] || BUILD="${ROOT}/${BUILD}"
export BATON="${BUILD}/controlplane/baton"
[[ -x ${BATON} ]] || { echo "l4_compare: no baton binary at ${BATON} (build first)" >&2; exit 1; }

# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"   # start_box, stop_box, box_stat; sets E2E_TMP, EAL_MEM

readonly CONFIG="${ROOT}/configs/demo.toml"
readonly FILES_DIR=/var/tmp/baton-testbed-files/files
readonly BIG="${FILES_DIR}/1g.bin"
readonly BIG_SIZE=$((1024 * 1024 * 1024))
readonly VIP=198.18.100.10
readonly URL="http://${VIP}/files/1g.bin"
readonly FRONT_ADDR=198.18.2.11 BACK_ADDR=198.18.3.11 ROUTER_ADDR=198.18.2.1
readonly BACKENDS=(198.18.3.101 198.18.3.102 198.18.3.103)
HZ=$(getconf CLK_TCK)
readonly HZ
WORKERS=$(awk -F'[=#]' '/^[[:space:]]*workers[[:space:]]*=/ { gsub(/[[:space:]]/, "", $2); print $2; exit }' "${CONFIG}")
[[ ${WORKERS} =~ ^[0-9]+$ ]] || WORKERS=1
readonly WORKERS

say() { printf 'l4_compare: %s\n' "$*" >&2; }

# ------------------------------------------------------------------ cleanup
TESTBED_OURS=0
HAPROXY_PID=""
KERNEL_ADDRS=0
declare -A SAVED_SYSCTL=()

stop_haproxy() {
  [[ -n ${HAPROXY_PID} ]] || return 0
  local i
  if kill -0 "${HAPROXY_PID}" 2>/dev/null; then
    kill -TERM "${HAPROXY_PID}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "${HAPROXY_PID}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${HAPROXY_PID}" 2>/dev/null && kill -KILL "${HAPROXY_PID}" 2>/dev/null
  fi
  wait "${HAPROXY_PID}" 2>/dev/null
  HAPROXY_PID=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_haproxy
  if ((TESTBED_OURS)); then
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
ensure_haproxy() {
  command -v haproxy >/dev/null 2>&1 && return 0
  say "installing haproxy (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q haproxy >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q haproxy >/dev/null; } ||
    { say "cannot install haproxy"; exit 1; }
}

ensure_big_file() {
  mkdir -p "${FILES_DIR}"
  if [[ -f ${BIG} && $(stat -c %s "${BIG}") -eq ${BIG_SIZE} ]]; then return 0; fi
  say "generating ${BIG} (1 GiB of random bytes)"
  if ! { head -c 1G /dev/urandom >"${BIG}.tmp.$$" && mv -f "${BIG}.tmp.$$" "${BIG}"; }; then
    rm -f "${BIG}.tmp.$$"
    say "cannot write ${BIG}"
    exit 1
  fi
  chmod 644 "${BIG}"
}

# Waits until no bt-* namespace (and no testbed state dir) is left by someone else,
# polling every 30 s for up to 15 min, then brings the testbed up. A lost race with
# another engineer's `up` just means more waiting.
testbed_up() {
  local deadline=$((SECONDS + 900)) busy
  while :; do
    busy=$(ip netns list 2>/dev/null | awk '$1 ~ /^bt-/ { print $1 }' | tr '\n' ' ')
    [[ -e /run/baton-testbed ]] && busy+="(state dir /run/baton-testbed)"
    if [[ -z ${busy} ]]; then
      if "${TESTBED}" up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1; then
        TESTBED_OURS=1
        E2E_TESTBED_OWNED=1  # so e2e_cleanup (tests/e2e/lib.sh) tears it down
        return 0
      fi
      say "testbed up failed:"; cat "${E2E_TMP}/testbed.log" >&2
      if [[ -z $(ip netns list 2>/dev/null | awk '$1 ~ /^bt-/') ]]; then exit 1; fi
      busy="(someone else's testbed came up)"
    fi
    if ((SECONDS >= deadline)); then
      say "the testbed is still in use after 15 min: ${busy}; giving up"
      exit 1
    fi
    say "testbed in use by someone else: ${busy}; waiting 30 s"
    sleep 30
  done
}

# ------------------------------------------------------------------ measuring
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

flush_neighbours() {
  ip -n bt-router neigh flush to "${FRONT_ADDR}" >/dev/null 2>&1 || true
  ip -n bt-backend neigh flush to "${BACK_ADDR}" >/dev/null 2>&1 || true
}

# warm_up: a small request through the VIP until one succeeds (about 10 s at most),
# so ARP and the load balancer are ready before the timed transfer.
warm_up() {
  local i
  for ((i = 0; i < 20; i++)); do
    if ip netns exec bt-client curl -fsS -o /dev/null -m 2 "http://${VIP}/files/1k.bin" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

# download PID TAG: the 1 GiB file from bt-client into sha256sum, with the CPU
# time PID used meanwhile. Sets DL_* variables.
download() {
  local pid=$1 tag=$2 t0 t1 sumpid
  local out="${E2E_TMP}/${tag}.curl" err="${E2E_TMP}/${tag}.curlerr" sum="${E2E_TMP}/${tag}.sha"
  : >"${sum}"
  t0=$(cpu_ticks "${pid}")
  ip netns exec bt-client curl -sS -m "${MAX_TIME}" --connect-timeout 5 \
    --speed-limit 1024 --speed-time 15 \
    -o >(sha256sum | awk '{ print $1 }' >"${sum}") \
    -w '%{http_code} %{size_download} %{time_total} %{speed_download}' \
    "${URL}" >"${out}" 2>"${err}"
  DL_RC=$?
  sumpid=$!
  t1=$(cpu_ticks "${pid}")
  DL_LOAD=$(cut -d' ' -f1 /proc/loadavg)
  wait "${sumpid}" 2>/dev/null
  read -r DL_HTTP DL_BYTES DL_TIME DL_SPEED <"${out}" || true
  DL_HTTP=${DL_HTTP:-000} DL_BYTES=${DL_BYTES:-0} DL_TIME=${DL_TIME:-0} DL_SPEED=${DL_SPEED:-0}
  DL_SHA=$(cat "${sum}")
  DL_ERR=$(tr '\n' ' ' <"${err}")
  DL_CPU=$(awk -v a="${t0}" -v b="${t1}" -v hz="${HZ}" 'BEGIN { printf "%.2f", (b - a) / hz }')
  if [[ ${DL_RC} -eq 0 && ${DL_HTTP} == 200 && ${DL_BYTES} -eq ${BIG_SIZE} && ${DL_SHA} == "${BIG_SHA}" ]]; then
    DL_OK=ok
  else
    DL_OK=FAIL
  fi
}

# One CSV row and, for failures, a paragraph for the report.
record() {
  local round=$1 lb=$2 mbps cpu_gib
  mbps=$(awk -v s="${DL_SPEED}" 'BEGIN { printf "%.1f", s / 1e6 }')
  cpu_gib=$(awk -v c="${DL_CPU}" -v b="${DL_BYTES}" 'BEGIN { if (b > 0) printf "%.2f", c / (b / 1073741824); else print "" }')
  printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "${round}" "${lb}" "${DL_OK}" "${DL_HTTP}" "${DL_BYTES}" \
    "${DL_TIME}" "${mbps}" "${DL_CPU}" "${cpu_gib}" "${DL_LOAD}" "${DL_SHA:-none}" >>"${CSV}"
  say "round ${round} ${lb}: ${DL_OK}, ${mbps} MB/s, ${DL_CPU} CPU s (${DL_BYTES} bytes in ${DL_TIME} s)"
  if [[ ${DL_OK} != ok ]]; then
    {
      echo "### Round ${round}, ${lb}: transfer failed"
      echo
      echo "curl exit ${DL_RC}, HTTP ${DL_HTTP}, ${DL_BYTES} of ${BIG_SIZE} bytes in ${DL_TIME} s;"
      echo "sha256 of what arrived: \`${DL_SHA:-none}\` (expected \`${BIG_SHA}\`)."
      echo "curl said: \`${DL_ERR:-nothing}\`"
      echo
    } >>"${FAILURES}"
  fi
}

run_baton() {
  local round=$1 name="baton-r$1" log stats mtu b2c sess drops missed
  flush_neighbours
  if ! start_box bt-a "${CONFIG}" "${name}"; then
    DL_OK=FAIL DL_RC=- DL_HTTP=000 DL_BYTES=0 DL_TIME=0 DL_SPEED=0 DL_CPU=0 DL_LOAD=- DL_SHA="" DL_ERR="baton did not start"
    record "${round}" baton
    return
  fi
  warm_up || say "baton: warm-up request through the VIP failed"
  OFFLOADS_BATON=$(offload_state)
  mtu=$(ip -n bt-a -o link show front | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
  download "${BOX_PID}" "${name}"
  settle_stats
  stats=$(box_stat "${name}" '"%d %d %d" % (s["counters"]["bytes_backend_to_client"], s["counters"]["sessions_opened"], sum(p["imissed"] for p in s["ports"]))' 2>/dev/null) ||
    stats="? ? ?"
  drops=$(box_stat "${name}" '", ".join(["%s %d" % kv for kv in s["drops"].items() if kv[1]] + ["tcp: %s %d" % kv for kv in s["tcp_drops"].items() if kv[1]]) or "none"' 2>/dev/null) ||
    drops="?"
  stop_box "${BOX_PID}" || say "baton exited with status $?"
  BOX_PIDS=()
  log="${E2E_TMP}/${name}.log"
  read -r b2c sess missed <<<"${stats}"
  echo "| ${round} | ${b2c} | ${sess} | ${missed} | ${mtu} | ${drops} |" >>"${BATON_NOTES}"
  record "${round}" baton
  if [[ ${DL_OK} != ok ]]; then
    {
      echo "baton's log (last 60 lines, with its final stats):"
      echo
      echo '```'
      tail -n 60 "${log}"
      echo '```'
      echo
    } >>"${FAILURES}"
  fi
}

# ------------------------------------------------------------------ HAProxy
set_sysctl() {  # set_sysctl KEY VALUE: in bt-a, remembering the old value once
  local key=$1 val=$2
  if [[ -z ${SAVED_SYSCTL[${key}]+x} ]]; then
    SAVED_SYSCTL[${key}]=$(ip netns exec bt-a sysctl -n "${key}" 2>/dev/null) || return 0
  fi
  ip netns exec bt-a sysctl -qw "${key}=${val}" >/dev/null 2>&1 || true
}

# The kernel of bt-a takes box A's addresses (they are baton's otherwise): answer ARP
# for them (the testbed sets arp_ignore=8 in box namespaces), route replies via the
# router.
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

# Offloads on bt-a's interfaces as the kernel sees them (the testbed turned them off).
offload_state() {
  local ifname
  for ifname in front back; do
    printf '%s: %s; ' "${ifname}" "$(ip netns exec bt-a ethtool -k "${ifname}" 2>/dev/null |
      grep -E '^(rx-checksumming|tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):' |
      sed -E 's/ *\[fixed\]//; s/rx-checksumming/rx-csum/; s/tx-checksumming/tx-csum/; s/tcp-segmentation-offload/tso/; s/generic-segmentation-offload/gso/; s/generic-receive-offload/gro/' |
      tr '\n' ' ' | sed 's/ $//')"
  done | sed 's/; $//'
}

write_haproxy_cfg() {
  local cfg=$1 i=0 addr
  {
    echo "# generated by bench/l4_compare.sh; runs in ns bt-a"
    echo "global"
    echo "    nbthread ${WORKERS}"
    echo "    maxconn 4096"
    echo "defaults"
    echo "    mode tcp"
    echo "    timeout connect 5s"
    echo "    timeout client 10m"
    echo "    timeout server 10m"
    echo "frontend vip"
    echo "    bind ${VIP}:80"
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

run_haproxy() {
  local round=$1 tag="haproxy-r$1" cfg="${E2E_TMP}/haproxy.cfg" i
  write_haproxy_cfg "${cfg}"
  haproxy -c -q -f "${cfg}" || { say "haproxy rejects ${cfg}"; exit 1; }
  flush_neighbours
  kernel_addrs_on
  OFFLOADS_HAPROXY=$(offload_state)
  MTU_HAPROXY=$(ip -n bt-a -o link show front | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
  ip netns exec bt-a haproxy -f "${cfg}" -db >"${E2E_TMP}/${tag}.log" 2>&1 &
  HAPROXY_PID=$!
  for ((i = 0; i < 50; i++)); do
    ip netns exec bt-a ss -Hltn "sport = :80" 2>/dev/null | grep -q "${VIP}:80" && break
    kill -0 "${HAPROXY_PID}" 2>/dev/null || break
    sleep 0.1
  done
  if ! kill -0 "${HAPROXY_PID}" 2>/dev/null; then
    say "haproxy did not start:"; cat "${E2E_TMP}/${tag}.log" >&2
    exit 1
  fi
  warm_up || say "haproxy: warm-up request through the VIP failed"
  download "${HAPROXY_PID}" "${tag}"
  stop_haproxy
  kernel_addrs_off
  flush_neighbours
  record "${round}" haproxy
  if [[ ${DL_OK} != ok ]]; then
    { echo "haproxy's output:"; echo; echo '```'; tail -n 30 "${E2E_TMP}/${tag}.log"; echo '```'; echo; } >>"${FAILURES}"
  fi
}

# ------------------------------------------------------------------ report
summary() {  # prints the Markdown summary tables from the CSV
  /usr/bin/python3 - "${CSV}" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
for r in rows:
    by.setdefault(r["round"], {})[r["lb"]] = r
print("| round | baton MB/s | HAProxy MB/s | baton CPU s | HAProxy CPU s | baton CPU s/GiB | HAProxy CPU s/GiB | load avg (baton, HAProxy) | status |")
print("|---:|---:|---:|---:|---:|---:|---:|---|---|")
tput, cpu = [], []
for rnd in sorted(by, key=int):
    b, h = by[rnd].get("baton"), by[rnd].get("haproxy")
    def f(r, k):
        return r[k] if r and r["status"] == "ok" else "–"
    status = "baton %s, haproxy %s" % (b["status"] if b else "missing", h["status"] if h else "missing")
    print(f"| {rnd} | {f(b,'mb_per_s')} | {f(h,'mb_per_s')} | {f(b,'cpu_s')} | {f(h,'cpu_s')} | "
          f"{f(b,'cpu_s_per_gib')} | {f(h,'cpu_s_per_gib')} | "
          f"{b['loadavg1'] if b else '–'}, {h['loadavg1'] if h else '–'} | {status} |")
    if b and h and b["status"] == "ok" and h["status"] == "ok":
        tput.append(float(b["mb_per_s"]) / float(h["mb_per_s"]))
        hc = float(h["cpu_s_per_gib"])
        if hc > 0:
            cpu.append(float(b["cpu_s_per_gib"]) / hc)
print()
print("Ratio baton / HAProxy over the rounds where both transfers arrived intact "
      f"({len(tput)} of {len(by)}):")
print()
print("| ratio | min | median | max |")
print("|---|---:|---:|---:|")
def line(name, v):
    if v:
        print(f"| {name} | {min(v):.2f} | {statistics.median(v):.2f} | {max(v):.2f} |")
    else:
        print(f"| {name} | – | – | – |")
line("throughput (MB/s; > 1: baton faster)", tput)
line("CPU s per GiB (< 1: baton cheaper)", cpu)
PY
}

write_report() {
  local commit_note=""
  [[ -n $(git -C "${ROOT}" status --porcelain 2>/dev/null) ]] && commit_note=" (working tree has uncommitted changes)"
  {
    echo "# L4 comparison: baton vs HAProxy \`mode tcp\`, 1 GiB download"
    echo
    echo "Run ${STAMP_HUMAN}, ${ROUNDS} round(s); \`bench/l4_compare.sh\`."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| machine | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM |"
    echo "| kernel | $(uname -r) |"
    echo "| load average (1, 5, 15 min) | ${LOAD_START} at the start, ${LOAD_END} at the end: the machine is shared, other work competes for the $(nproc) cores |"
    echo "| DPDK | $(pkg-config --modversion libdpdk 2>/dev/null || echo unknown) |"
    echo "| HAProxy | $(haproxy -v 2>/dev/null | head -n1 | sed 's/ - https.*//') |"
    echo "| baton commit | ${COMMIT}${commit_note} |"
    echo "| baton | \`${BATON#"${ROOT}"/}\`, \`configs/demo.toml\` (${WORKERS} worker, idle back-off $(awk -F'[=#]' '/^[[:space:]]*idle_backoff_us/ { gsub(/[[:space:]]/, "", $2); print $2 }' "${CONFIG}") µs), EAL memory: ${EAL_MEM:-hugepages} |"
    echo "| HAProxy config | \`mode tcp\`, \`nbthread ${WORKERS}\`, roundrobin over 3 nginx, \`source ${BACK_ADDR}\`, no splicing (defaults) |"
    echo "| file | \`/files/1g.bin\`, ${BIG_SIZE} bytes, sha256 \`${BIG_SHA}\` |"
    echo "| client | \`curl\` in bt-client, one connection, body piped into \`sha256sum\`, \`-m ${MAX_TIME}\` |"
    echo "| bt-a offloads, baton run | ${OFFLOADS_BATON:-?} |"
    echo "| bt-a offloads, HAProxy run | ${OFFLOADS_HAPROXY:-?} |"
    echo "| bt-a front MTU | baton run: see below; HAProxy run: ${MTU_HAPROXY:-?} |"
    echo
    echo "MB/s = 10^6 bytes/s as curl measured it (\`%{speed_download}\`). CPU s = utime + stime"
    echo "of the load balancer process (all threads) from /proc/PID/stat, from just before to"
    echo "just after the transfer; baton's includes its polling (idle back-off) time."
    echo
    echo "## Rounds"
    echo
    summary
    echo
    echo "## baton counters per round (from its stats file after the transfer)"
    echo
    echo "| round | bytes backend→client | sessions opened | port imissed | front MTU | drops (non-zero) |"
    echo "|---:|---:|---:|---:|---:|---|"
    cat "${BATON_NOTES}"
    if [[ -s ${FAILURES} ]]; then
      echo
      echo "## Failures"
      echo
      cat "${FAILURES}"
    fi
  } >"${MD}"
}

# ------------------------------------------------------------------ main
ensure_haproxy
ensure_big_file
say "sha256 of ${BIG}..."
BIG_SHA=$(sha256sum "${BIG}" | awk '{ print $1 }')   # also leaves it in the page cache
readonly BIG_SHA
say "sha256 ${BIG_SHA}"

COMMIT=$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)
STAMP=$(date +%Y%m%d-%H%M%S)
STAMP_HUMAN=$(date '+%Y-%m-%d %H:%M:%S %Z')
mkdir -p "${OUT_DIR}"
CSV="${OUT_DIR}/l4_compare-${STAMP}-${COMMIT}.csv"
MD="${OUT_DIR}/l4_compare-${STAMP}-${COMMIT}.md"
FAILURES="${E2E_TMP}/failures.md"
BATON_NOTES="${E2E_TMP}/baton-notes.md"
: >"${FAILURES}"
: >"${BATON_NOTES}"
echo "round,lb,status,http_code,bytes,seconds,mb_per_s,cpu_s,cpu_s_per_gib,loadavg1,sha256" >"${CSV}"

testbed_up
say "testbed up; ${ROUNDS} round(s)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= ROUNDS; r++)); do
  run_baton "${r}"
  run_haproxy "${r}"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
write_report
cat "${MD}"
say "wrote ${MD} and ${CSV}"
if grep -q ',FAIL,' "${CSV}"; then exit 1; fi
exit 0
