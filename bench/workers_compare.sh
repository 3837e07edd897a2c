#!/usr/bin/env bash
# The cost of the shared session tables (issue 5): the same TLS download load through
# box A with 1 worker (one queue per port) and with 2 workers (af_packet qpairs=2,
# packets steered to the session's owner through the shared tables), on the same
# testbed in the same run, R rounds; and the stall clients see when one of the two
# workers halts and the other adopts its sessions.
#
#   bench/workers_compare.sh [--rounds N] [--build DIR] [--conns N] [--mib N] [--out DIR]
#
# Load: tests/e2e/flow_client.py, N concurrent TLS 1.3 downloads (byte ranges of a
# file on nginx through :443) of MIB MiB each, sha256 checked. On the 2-vCPU dev VM the
# clients, nginx and both workers share the CPUs, so 2 workers cannot be twice as fast:
# the ratio says what the shared tables and the steering cost there, not how baton
# scales on a real NIC with RSS.
#
# Writes bench/results/workers_compare-YYYYmmdd-HHMMSS-<commit>.{md,csv} and prints the
# Markdown. Exit status 0 when every download arrived intact. Needs root; brings up the
# testbed (or waits for one someone else has up) and tears down what it brought up.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}" || exit 1
ROUNDS=3
BUILD=build
CONNS=100
MIB=8
OUT_DIR="${ROOT}/bench/results"
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --conns) CONNS=${2:?}; shift 2 ;;
    --mib) MIB=${2:?}; shift 2 ;;
    --out) OUT_DIR=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "workers_compare: unknown argument $1" >&2; exit 64 ;;
  esac
done
for v in ROUNDS CONNS MIB; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "workers_compare: --${v,,} wants a positive integer" >&2; exit 64; }
done
(( MIB * 8 <= 256 )) || { echo "workers_compare: --mib at most 32 (8 ranges of a 256 MiB file)" >&2; exit 64; }
[[ $(id -u) -eq 0 ]] || { echo "workers_compare: run as root (namespaces, DPDK)" >&2; exit 1; }
[[ ${BUILD} == /* ]] || BUILD="${ROOT}/${BUILD}"
BATON="${BUILD}/controlplane/baton"
export BATON
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT

for i in $(seq 1 90); do
  ip netns list 2>/dev/null | grep -q '^bt-' || break
  [[ ${i} -eq 1 ]] && echo "workers_compare: waiting for the testbed someone else has up"
  sleep 10
done
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
FILES=/var/tmp/baton-testbed-files
sed -e 's/iface=\(front\|back\|repl\)"/iface=\1,framecnt=4096"/' "${ROOT}/configs/demo.toml" >"${E2E_TMP}/w1.toml"
sed -e 's/^workers = 1 .*/workers = 2/' -e 's/iface=\(front\|back\|repl\)"/iface=\1,qpairs=2,framecnt=4096"/' \
  "${ROOT}/configs/demo.toml" >"${E2E_TMP}/w2.toml"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain 2>/dev/null) ]] && commit="${commit}-dirty"
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "${OUT_DIR}"
out="${OUT_DIR}/workers_compare-${stamp}-${commit}"
echo "round,workers,event,ok,conns,mbit_s,seconds,stall_median_ms,stall_worst_ms,before_median_ms,before_worst_ms" >"${out}.csv"
failed=0

# run ROUND CONFIG WORKERS EVENT TRIGGER
run() {
  local round=$1 cfg=$2 workers=$3 event=$4 trigger=$5 name="r$1-w$3-$4"
  start_box bt-a "${E2E_TMP}/${cfg}.toml" "${name}" --name "wc-$$" || return 1
  ip netns exec bt-client timeout 280 python3 "${ROOT}/tests/e2e/flow_client.py" --mode download \
    --host 198.18.100.10 --port 443 --cafile "${FILES}/tls/ca.pem" --file "${FILES}/files/256m.bin" \
    --conns "${CONNS}" --bytes $((MIB << 20)) --trigger "${trigger}" --trigger-at 0.3 --timeout 240 \
    >"${E2E_TMP}/${name}.out" 2>/dev/null
  stop_box "${BOX_PID}"
  BOX_PIDS=()
  python3 - "${E2E_TMP}/${name}.out" "${round}" "${workers}" "${event}" >>"${out}.csv" <<'PY' || failed=1
import json, sys
r = json.load(open(sys.argv[1]))
s, b = r["stall_ms"], r["stall_before_ms"]
print(",".join(str(x) for x in [sys.argv[2], sys.argv[3], sys.argv[4], r["ok"], r["conns"], r["mbit_s"],
                                 r["seconds"], s["median"], s["worst"], b["median"], b["worst"]]))
sys.exit(0 if r["ok"] == r["conns"] else 1)
PY
}

for round in $(seq 1 "${ROUNDS}"); do
  echo "workers_compare: round ${round}/${ROUNDS}"
  run "${round}" w1 1 none "" || failed=1
  run "${round}" w2 2 none "" || failed=1
  run "${round}" w2 2 halt "${BATON} ctl --name wc-$$ worker halt 1" || failed=1
done

python3 - "${out}.csv" "${commit}" "${CONNS}" "${MIB}" >"${out}.md" <<'PY'
import csv, statistics, sys, platform, os
rows = list(csv.DictReader(open(sys.argv[1])))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# workers_compare at {sys.argv[2]}\n")
print(f"{cpu}, {os.cpu_count()} CPUs, kernel {platform.release()}; {sys.argv[3]} concurrent TLS 1.3 "
      f"downloads of {sys.argv[4]} MiB per run; clients, nginx and baton share the CPUs.\n")
print("| round | workers | event | ok | Mbit/s | s | stall after event median / worst ms | same clients 10 s before |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['round']} | {r['workers']} | {r['event']} | {r['ok']}/{r['conns']} | {r['mbit_s']} | {r['seconds']} | "
          f"{r['stall_median_ms']} / {r['stall_worst_ms']} | {r['before_median_ms']} / {r['before_worst_ms']} |")
def med(w, e):
    v = [float(r["mbit_s"]) for r in rows if r["workers"] == w and r["event"] == e]
    return statistics.median(v) if v else float("nan")
one, two = med("1", "none"), med("2", "none")
print(f"\nMedian throughput: 1 worker {one:.0f} Mbit/s, 2 workers {two:.0f} Mbit/s: ratio 2/1 = {two / one:.2f}.")
halts = [r for r in rows if r["event"] == "halt" and r["stall_median_ms"] not in ("", "None")]
if halts:
    print("Stall at adoption (worker 1 halted, worker 0 takes over), per round median / worst of the "
          "clients' longest gap in the 10 s after the halt: " +
          "; ".join(f"{r['stall_median_ms']} / {r['stall_worst_ms']} ms" for r in halts) + ".")
PY
cat "${out}.md"
echo "(written to ${out}.md and .csv)"
exit "${failed}"
