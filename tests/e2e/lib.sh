# Shared helpers for end-to-end tests and the demo: start/stop baton boxes inside the
# testbed's namespaces, read their counters. Source it; it needs ROOT set to the repo.
# shellcheck shell=bash

TESTBED="${ROOT}/tests/testbed/testbed.sh"
BATON="${BATON:-${ROOT}/build/controlplane/baton}"
E2E_TMP="$(mktemp -d /tmp/baton-e2e.XXXXXX)"
BOX_PIDS=()

# EAL memory arguments: hugepages when they can be had, else --no-huge (said once).
EAL_MEM="$("${ROOT}/scripts/hugepages.sh" 2>/dev/null)" || EAL_MEM="--no-huge -m 512"

E2E_TESTBED_OWNED=0

# testbed_up ARGS...: brings the testbed up for this script, which then owns it: only
# then does e2e_cleanup tear it down. A testbed that is already up is someone else's
# (a bench, another test run): refused, and left alone.
testbed_up() {
  if ip netns list 2>/dev/null | grep -q '^bt-'; then
    echo "a testbed is already up (another run's?); not touching it" >&2
    return 1
  fi
  E2E_TESTBED_OWNED=1
  "${TESTBED}" up "$@"
}

e2e_cleanup() {
  local pid
  for pid in "${BOX_PIDS[@]}"; do stop_box "${pid}" || true; done
  if [[ ${E2E_TESTBED_OWNED} == 1 ]]; then "${TESTBED}" down >/dev/null 2>&1 || true; fi
  rm -rf "${E2E_TMP}"
}

# start_box NS CONFIG NAME [extra baton args...]: runs baton in namespace NS with its own
# stats file $E2E_TMP/NAME.json and log $E2E_TMP/NAME.log; sets BOX_PID. Waits (bounded)
# until it says it is running. --in-memory: DPDK leaves no runtime or hugepage files.
start_box() {
  local ns=$1 config=$2 name=$3
  shift 3
  local log="${E2E_TMP}/${name}.log"
  # shellcheck disable=SC2086  # EAL_MEM is a list of words on purpose
  ip netns exec "${ns}" "${BATON}" run --config "${config}" --stats-file "${E2E_TMP}/${name}.json" \
    --stats-interval-ms 100 "$@" -- ${EAL_MEM} --no-pci --in-memory \
    >"${log}" 2>&1 &
  BOX_PID=$!
  BOX_PIDS+=("${BOX_PID}")
  local i
  for ((i = 0; i < 150; i++)); do
    if grep -q "baton: running" "${log}"; then return 0; fi
    if ! kill -0 "${BOX_PID}" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "baton ${name} did not start; its log:" >&2
  cat "${log}" >&2
  return 1
}

# stop_box PID: SIGTERM, wait up to 10 s, then SIGKILL. Returns baton's exit status.
stop_box() {
  local pid=$1 i
  kill -0 "${pid}" 2>/dev/null || { wait "${pid}" 2>/dev/null; return $?; }
  kill -TERM "${pid}"
  for ((i = 0; i < 100; i++)); do
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "${pid}" 2>/dev/null; then
    echo "baton (pid ${pid}) ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "${pid}"
  fi
  wait "${pid}" 2>/dev/null
}

# box_stat NAME PYTHON_EXPR: evaluates an expression over the stats JSON `s`, e.g.
#   box_stat box-a 's["drops"]["ipv4_bad_ihl"]'
box_stat() {
  /usr/bin/python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print($2)" "${E2E_TMP}/$1.json"
}

# Lets a stats file catch up: workers publish every millisecond, baton writes the
# file every 100 ms (--stats-interval-ms above).
settle_stats() { sleep 0.4; }

PASSED=0
FAILED=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then
    echo "  ok: ${what}"
    PASSED=$((PASSED + 1))
  else
    echo "  FAIL: ${what}"
    FAILED=$((FAILED + 1))
  fi
}
