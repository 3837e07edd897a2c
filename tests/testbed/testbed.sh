#!/usr/bin/env bash
# baton testbed: a small data centre in network namespaces (see
# shared design TESTBED.md).
#
#   testbed.sh up [--boxes N]   build it (N = 1 or 2, default 1); starts the
#                               backend services and waits until they accept
#   testbed.sh down             stop what up started (by PID), delete the
#                               namespaces, remove the state dir; always safe
#   testbed.sh status           exit 0 fully up, 1 down, 2 partial
#   testbed.sh exec NS CMD...   run CMD in NS ("bt-a" or just "a")
#
# Topology (all addresses inside the namespaces, 198.18.0.0/15 only):
#   bt-client  eth0 198.18.1.2/24 (+ .3-.50), default via 198.18.1.1
#   bt-router  to-client 198.18.1.1/24; bridge br-front 198.18.2.1/24 with
#              ports a-front/b-front; VIP 198.18.100.10/32 via box A (1 box)
#              or ECMP over boxes A and B (2 boxes, L4 hash)
#   bt-sw      bridges br-back (a-back, b-back, to-backend) and br-repl
#              (a-repl, b-repl), no addresses
#   bt-a/bt-b  interfaces front/back/repl: no kernel address, IPv6 off; the
#              DPDK box process owns 198.18.{2,3,4}.11 (A) / .12 (B)
#   bt-backend eth0 198.18.3.101/24, .102, .103: nginx :80, echo :9000,
#              sink :9001, reset :9002 on each address
set -euo pipefail

readonly STATE_DIR=/run/baton-testbed
readonly FILES_DIR=/var/tmp/baton-testbed-files
readonly NGINX_DIR="${STATE_DIR}/nginx"
readonly NGINX_BIN=/usr/sbin/nginx
readonly PYTHON_BIN=/usr/bin/python3
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly SERVICES_PY="${SCRIPT_DIR}/services.py"

readonly ALL_NS=(bt-client bt-router bt-sw bt-a bt-b bt-backend)
readonly BACKEND_ADDRS=(198.18.3.101 198.18.3.102 198.18.3.103)
readonly VIP=198.18.100.10
readonly HTTP_PORT=80
readonly H2C_PORT=8080    # nginx speaking HTTP/2 without TLS (behind a TLS listener's ALPN h2 route)
readonly ECHO_PORT=9000
readonly SINK_PORT=9001
readonly RESET_PORT=9002
readonly SERVICES=(nginx echo sink reset)
readonly OFFLOAD_FLAGS=(tx off rx off tso off gso off gro off)

UP_DONE=0

log() { printf 'testbed: %s\n' "$*"; }
warn() { printf 'testbed: warning: %s\n' "$*" >&2; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

need_root() {
    [[ ${EUID} -eq 0 ]] || die "must run as root"
}

nsx() {
    local ns=$1
    shift
    ip netns exec "${ns}" "$@"
}

ns_sysctl() {
    local ns=$1
    shift
    nsx "${ns}" sysctl -qw "$@" >/dev/null
}

ns_exists() {
    [[ -e "/run/netns/$1" ]]
}

present_namespaces() {
    local ns
    for ns in "${ALL_NS[@]}"; do
        if ns_exists "${ns}"; then
            printf '%s\n' "${ns}"
        fi
    done
}

# Any namespace named bt-*, ours or a stale one from an older layout.
stale_namespaces() {
    ip netns list 2>/dev/null | awk '$1 ~ /^bt-/ { print $1 }'
}

box_letters() {
    local boxes=$1
    if [[ ${boxes} -eq 2 ]]; then
        printf 'a\nb\n'
    else
        printf 'a\n'
    fi
}

box_index() {
    case $1 in
        a) echo 11 ;;
        b) echo 12 ;;
        *) die "unknown box $1" ;;
    esac
}

expected_namespaces() {
    local boxes=$1 letter
    printf 'bt-client\nbt-router\nbt-sw\n'
    for letter in $(box_letters "${boxes}"); do
        printf 'bt-%s\n' "${letter}"
    done
    printf 'bt-backend\n'
}

recorded_boxes() {
    if [[ -r "${STATE_DIR}/boxes" ]]; then
        cat "${STATE_DIR}/boxes"
    elif ns_exists bt-b; then
        echo 2
    else
        echo 1
    fi
}

# ---------------------------------------------------------------- processes

pid_alive() {
    local pid=$1 state
    [[ -r "/proc/${pid}/stat" ]] || return 1
    state=$(awk '{ print $3 }' "/proc/${pid}/stat" 2>/dev/null) || return 1
    [[ -n ${state} && ${state} != Z && ${state} != X ]]
}

pid_matches() {
    local pid=$1 pattern=$2
    tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q -- "${pattern}"
}

pidfile_of() {
    case $1 in
        nginx) echo "${NGINX_DIR}/nginx.pid" ;;
        echo | sink | reset) echo "${STATE_DIR}/$1.pid" ;;
        *) die "unknown service $1" ;;
    esac
}

cmd_pattern_of() {
    case $1 in
        nginx) echo "nginx: master process" ;;
        echo | sink | reset) echo "services.py $1" ;;
        *) die "unknown service $1" ;;
    esac
}

service_pid() {
    local pidfile
    pidfile=$(pidfile_of "$1")
    [[ -r ${pidfile} ]] || return 1
    tr -dc '0-9' <"${pidfile}"
}

wait_pid_gone() {
    local pid=$1 tries=$2
    while ((tries-- > 0)); do
        pid_alive "${pid}" || return 0
        sleep 0.1
    done
    ! pid_alive "${pid}"
}

stop_pid() {
    local pid=$1 what=$2
    pid_alive "${pid}" || return 0
    kill -TERM "${pid}" 2>/dev/null || true
    if ! wait_pid_gone "${pid}" 50; then
        warn "${what} (pid ${pid}) ignored SIGTERM; sending SIGKILL"
        kill -KILL "${pid}" 2>/dev/null || true
        wait_pid_gone "${pid}" 20 || warn "${what} (pid ${pid}) still alive"
    fi
}

stop_service() {
    local name=$1 pid
    pid=$(service_pid "${name}") || return 0
    [[ -n ${pid} ]] || return 0
    if pid_alive "${pid}" && pid_matches "${pid}" "$(cmd_pattern_of "${name}")"; then
        log "stopping ${name} (pid ${pid})"
        stop_pid "${pid}" "${name}"
    fi
    rm -f "$(pidfile_of "${name}")"
}

# Processes still inside a testbed namespace (nginx workers orphaned by a
# SIGKILLed master, a half-started service, a box a test forgot): stop them
# by PID before their namespace loses its name.
stop_strays() {
    local ns pid
    for ns in $(present_namespaces); do
        for pid in $(ip netns pids "${ns}" 2>/dev/null); do
            [[ ${pid} -ne $$ ]] || continue
            pid_alive "${pid}" || continue
            warn "stray process in ${ns}: pid ${pid}: $(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)"
            stop_pid "${pid}" "pid ${pid} in ${ns}"
        done
    done
}

# ---------------------------------------------------------------- down

delete_namespaces() {
    local ns
    for ns in "${ALL_NS[@]}"; do
        if ns_exists "${ns}"; then
            ip netns del "${ns}" 2>/dev/null || warn "could not delete ${ns}"
        fi
    done
}

do_down() {
    local svc
    for svc in "${SERVICES[@]}"; do
        stop_service "${svc}"
    done
    stop_strays
    delete_namespaces
    rm -rf "${STATE_DIR}"
}

cmd_down() {
    need_root
    [[ $# -eq 0 ]] || die "down takes no arguments"
    do_down
    log "down"
}

# ---------------------------------------------------------------- up: checks

refuse_if_stale() {
    local stale
    stale=$(stale_namespaces | tr '\n' ' ')
    if [[ -n ${stale} || -e ${STATE_DIR} ]]; then
        printf 'testbed: error: a testbed (or leftovers of one) already exists:\n' >&2
        [[ -z ${stale} ]] || printf '  namespaces: %s\n' "${stale}" >&2
        [[ ! -e ${STATE_DIR} ]] || printf '  state dir:  %s\n' "${STATE_DIR}" >&2
        printf 'run: tests/testbed/testbed.sh down\n' >&2
        exit 1
    fi
}

check_tools() {
    local tool
    for tool in ip ethtool sysctl setsid curl "${NGINX_BIN}" "${PYTHON_BIN}"; do
        command -v "${tool}" >/dev/null || die "missing tool: ${tool}"
    done
    [[ -r ${SERVICES_PY} ]] || die "missing ${SERVICES_PY}"
}

# ---------------------------------------------------------------- up: links

add_namespace() {
    local ns=$1
    ip netns add "${ns}"
    ip -n "${ns}" link set lo up
    # Set before any interface exists so that new interfaces inherit it.
    ns_sysctl "${ns}" net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
}

# veth NS1 IF1 NS2 IF2: a veth pair created directly inside the namespaces.
veth() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
}

add_bridge() {
    local ns=$1 br=$2
    ip -n "${ns}" link add "${br}" type bridge stp_state 0 forward_delay 0
    ip -n "${ns}" link set "${br}" up
    # Hosts with br_netfilter loaded would pass bridged frames through iptables and
    # conntrack, which reassembles IP fragments and drops odd frames before they
    # reach a box: our bridges must be plain wires.
    local key
    for key in bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; do
        if [[ -e /proc/sys/net/bridge/${key} ]]; then
            ns_sysctl "${ns}" "net.bridge.${key}=0" || warn "cannot turn off ${key} in ${ns}"
        fi
    done
}

enslave() {
    local ns=$1 port=$2 br=$3
    ip -n "${ns}" link set "${port}" master "${br}"
    ip -n "${ns}" link set "${port}" up
}

build_client() {
    local i
    veth bt-client eth0 bt-router to-client
    ip -n bt-client link set eth0 up
    {
        for i in $(seq 2 50); do
            printf 'addr add 198.18.1.%d/24 dev eth0\n' "${i}"
        done
    } | ip -n bt-client -batch -
    ns_sysctl bt-client net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0
}

build_router() {
    ns_sysctl bt-router net.ipv4.ip_forward=1 \
        net.ipv4.fib_multipath_hash_policy=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.all.send_redirects=0 \
        net.ipv4.conf.default.send_redirects=0
    ip -n bt-router addr add 198.18.1.1/24 dev to-client
    ip -n bt-router link set to-client up
    add_bridge bt-router br-front
    ip -n bt-router addr add 198.18.2.1/24 dev br-front
}

build_switch() {
    ns_sysctl bt-sw net.ipv4.ip_forward=0
    add_bridge bt-sw br-back
    add_bridge bt-sw br-repl
}

box_sysctls() {
    local ns=$1 conf
    ns_sysctl "${ns}" net.ipv4.ip_forward=0
    for conf in all default; do
        ns_sysctl "${ns}" "net.ipv4.conf.${conf}.arp_ignore=8" \
            "net.ipv4.conf.${conf}.arp_announce=2" \
            "net.ipv6.conf.${conf}.disable_ipv6=1"
    done
}

# box_iface NS IF SUBNET_OCTET INDEX: no address, IPv6 off, ARP silenced,
# a fixed locally administered MAC 02:ba:70:<subnet>:00:<index> (decimal
# digits: box A front is 02:ba:70:02:00:11).
box_iface() {
    local ns=$1 ifname=$2 subnet=$3 index=$4
    ip -n "${ns}" link set "${ifname}" address \
        "$(printf '02:ba:70:%02d:00:%02d' "${subnet}" "${index}")"
    ns_sysctl "${ns}" "net.ipv6.conf.${ifname}.disable_ipv6=1" \
        "net.ipv4.conf.${ifname}.arp_ignore=8" \
        "net.ipv4.conf.${ifname}.arp_announce=2"
    ip -n "${ns}" link set "${ifname}" up
}

build_box() {
    local letter=$1 ns="bt-$1" index
    index=$(box_index "${letter}")
    add_namespace "${ns}"
    box_sysctls "${ns}"
    veth "${ns}" front bt-router "${letter}-front"
    veth "${ns}" back bt-sw "${letter}-back"
    veth "${ns}" repl bt-sw "${letter}-repl"
    box_iface "${ns}" front 2 "${index}"
    box_iface "${ns}" back 3 "${index}"
    box_iface "${ns}" repl 4 "${index}"
    enslave bt-router "${letter}-front" br-front
    enslave bt-sw "${letter}-back" br-back
    enslave bt-sw "${letter}-repl" br-repl
}

build_backend() {
    local addr
    veth bt-backend eth0 bt-sw to-backend
    enslave bt-sw to-backend br-back
    ns_sysctl bt-backend net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.all.arp_announce=2
    for addr in "${BACKEND_ADDRS[@]}"; do
        ip -n bt-backend addr add "${addr}/24" dev eth0
    done
    ip -n bt-backend link set eth0 up
}

ns_links() {
    ip -n "$1" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
        grep -vx lo || true
}

offloads_off() {
    local ns ifname
    for ns in $(present_namespaces); do
        for ifname in $(ns_links "${ns}"); do
            nsx "${ns}" ethtool -K "${ifname}" "${OFFLOAD_FLAGS[@]}" \
                >/dev/null 2>&1 || true
            check_offloads "${ns}" "${ifname}"
        done
    done
}

check_offloads() {
    local ns=$1 ifname=$2 features
    features=$(nsx "${ns}" ethtool -k "${ifname}" 2>/dev/null) || return 0
    if grep -Eq '^(tx-checksumming|generic-segmentation-offload|generic-receive-offload|tcp-segmentation-offload): on' <<<"${features}"; then
        warn "offloads still on for ${ns}/${ifname}"
    fi
}

add_routes() {
    local boxes=$1
    ip -n bt-client route add default via 198.18.1.1 dev eth0
    if [[ ${boxes} -eq 2 ]]; then
        ip -n bt-router route add "${VIP}/32" \
            nexthop via 198.18.2.11 dev br-front weight 1 \
            nexthop via 198.18.2.12 dev br-front weight 1
    else
        ip -n bt-router route add "${VIP}/32" via 198.18.2.11 dev br-front
    fi
}

build_network() {
    local boxes=$1 ns letter
    for ns in bt-client bt-router bt-sw bt-backend; do
        add_namespace "${ns}"
    done
    build_client
    build_router
    build_switch
    for letter in $(box_letters "${boxes}"); do
        build_box "${letter}"
    done
    build_backend
    offloads_off
    add_routes "${boxes}"
}

# ---------------------------------------------------------------- up: services

# ensure_file NAME BYTES: random content, generated once and kept.
ensure_file() {
    local path="${FILES_DIR}/files/$1" size=$2
    if [[ -f ${path} && $(stat -c %s "${path}") -eq ${size} ]]; then
        return 0
    fi
    log "generating ${path} (${size} bytes)"
    head -c "${size}" /dev/urandom >"${path}.tmp.$$"
    mv -f "${path}.tmp.$$" "${path}"
}

ensure_files() {
    mkdir -p "${FILES_DIR}/files"
    chmod 755 "${FILES_DIR}" "${FILES_DIR}/files"
    ensure_file 1k.bin 1024
    ensure_file 1m.bin $((1024 * 1024))
    ensure_file 256m.bin $((256 * 1024 * 1024))
    ensure_file 1g.bin $((1024 * 1024 * 1024))
}

# ensure_leaf NAME KEYSPEC...: a certificate for www.example.com and api.example.com,
# signed by the testbed CA, with its key (openssl genpkey KEYSPEC).
ensure_leaf() {
    local dir=$1 name=$2
    shift 2
    [[ -f ${dir}/${name}.pem ]] && openssl x509 -checkend 86400 -noout -in "${dir}/${name}.pem" >/dev/null 2>&1 &&
        return 0
    openssl genpkey "$@" -out "${dir}/${name}.key" 2>/dev/null
    openssl req -new -key "${dir}/${name}.key" -subj "/CN=www.example.com" -out "${dir}/${name}.csr" 2>/dev/null
    printf 'subjectAltName=DNS:www.example.com,DNS:api.example.com\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
        >"${dir}/${name}.ext"
    openssl x509 -req -in "${dir}/${name}.csr" -CA "${dir}/ca.pem" -CAkey "${dir}/ca.key" -CAcreateserial \
        -days 30 -sha256 -extfile "${dir}/${name}.ext" -out "${dir}/${name}.pem" 2>/dev/null
    rm -f "${dir}/${name}.csr" "${dir}/${name}.ext"
}

# Test PKI for TLS listeners (TESTBED.md): a CA, and ECDSA P-256 and RSA-2048 site
# certificates for www.example.com and api.example.com. Made once, renewed near expiry.
ensure_certs() {
    local dir="${FILES_DIR}/tls"
    mkdir -p "${dir}"
    if ! openssl x509 -checkend 86400 -noout -in "${dir}/ca.pem" >/dev/null 2>&1; then
        log "generating the testbed CA in ${dir}"
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${dir}/ca.key" 2>/dev/null
        openssl req -x509 -new -key "${dir}/ca.key" -subj "/CN=baton testbed CA" -days 60 -sha256 \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
            -out "${dir}/ca.pem" 2>/dev/null
        rm -f "${dir}/site-ecdsa.pem" "${dir}/site-rsa.pem"
    fi
    ensure_leaf "${dir}" site-ecdsa -algorithm EC -pkeyopt ec_paramgen_curve:P-256
    ensure_leaf "${dir}" site-rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
}

nginx_listens() {
    local addr
    for addr in "${BACKEND_ADDRS[@]}"; do
        printf '        listen %s:%d reuseport backlog=4096;\n' "${addr}" "${HTTP_PORT}"
        printf '        listen %s:%d http2 reuseport backlog=4096;\n' "${addr}" "${H2C_PORT}"
    done
}

# Descriptor limit for nginx: the hard limit, at most 65536.
nofile_limit() {
    local hard
    hard=$(ulimit -Hn)
    if [[ ${hard} == unlimited || ${hard} -gt 65536 ]]; then
        hard=65536
    fi
    echo "${hard}"
}

write_nginx_conf() {
    local tmp nofile
    nofile=$(nofile_limit)
    mkdir -p "${NGINX_DIR}"
    for tmp in body proxy fastcgi uwsgi scgi; do
        mkdir -p "${NGINX_DIR}/tmp/${tmp}"
    done
    cat >"${NGINX_DIR}/nginx.conf" <<EOF
# generated by tests/testbed/testbed.sh; runs in ns bt-backend
user root;
daemon on;
worker_processes 1;
worker_rlimit_nofile ${nofile};
pid ${NGINX_DIR}/nginx.pid;
error_log ${NGINX_DIR}/error.log warn;
events {
    worker_connections $((nofile / 2));
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    server_tokens off;
    client_body_temp_path ${NGINX_DIR}/tmp/body;
    proxy_temp_path ${NGINX_DIR}/tmp/proxy;
    fastcgi_temp_path ${NGINX_DIR}/tmp/fastcgi;
    uwsgi_temp_path ${NGINX_DIR}/tmp/uwsgi;
    scgi_temp_path ${NGINX_DIR}/tmp/scgi;
    types {
        text/html html;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    server {
$(nginx_listens)
        server_name _;
        root ${FILES_DIR};
        location = / {
            default_type text/html;
            return 200 "<html><body><h1>backend \$server_addr</h1></body></html>\n";
        }
        location /files/ {
        }
        location / {
            return 404;
        }
    }
}
EOF
}

start_nginx() {
    nsx bt-backend "${NGINX_BIN}" -p "${NGINX_DIR}/" -c "${NGINX_DIR}/nginx.conf" \
        -e "${NGINX_DIR}/error.log" -t -q
    nsx bt-backend "${NGINX_BIN}" -p "${NGINX_DIR}/" -c "${NGINX_DIR}/nginx.conf" \
        -e "${NGINX_DIR}/error.log" </dev/null >>"${NGINX_DIR}/nginx.out" 2>&1
}

# start_py_service NAME PORT: detached; services.py writes its pid file once
# every listener is bound.
start_py_service() {
    local name=$1 port=$2 addr binds=()
    for addr in "${BACKEND_ADDRS[@]}"; do
        binds+=(--bind "${addr}")
    done
    setsid -f ip netns exec bt-backend "${PYTHON_BIN}" "${SERVICES_PY}" \
        "${name}" "${binds[@]}" --port "${port}" \
        --pidfile "${STATE_DIR}/${name}.pid" \
        </dev/null >>"${STATE_DIR}/${name}.log" 2>&1
}

start_services() {
    ensure_files
    ensure_certs
    write_nginx_conf
    start_nginx
    start_py_service echo "${ECHO_PORT}"
    start_py_service sink "${SINK_PORT}"
    start_py_service reset "${RESET_PORT}"
}

wait_pidfile() {
    local name=$1 tries=100 pid
    while ((tries-- > 0)); do
        if pid=$(service_pid "${name}") && [[ -n ${pid} ]] && pid_alive "${pid}"; then
            return 0
        fi
        sleep 0.1
    done
    die "${name} did not start (see ${STATE_DIR})"
}

tcp_accepts() {
    local addr=$1 port=$2
    # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
    nsx bt-backend timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "${addr}" "${port}" \
        2>/dev/null
}

http_ok() {
    nsx bt-backend curl -fsS -o /dev/null --max-time 2 "http://$1:${HTTP_PORT}/" \
        2>/dev/null
}

# wait_until DESCRIPTION CMD...: bounded retries (about 10 s).
wait_until() {
    local what=$1 tries=50
    shift
    until "$@"; do
        ((--tries > 0)) || die "${what} not reachable"
        sleep 0.2
    done
}

wait_ready() {
    local svc addr
    for svc in "${SERVICES[@]}"; do
        wait_pidfile "${svc}"
    done
    for addr in "${BACKEND_ADDRS[@]}"; do
        wait_until "nginx on ${addr}:${HTTP_PORT}" http_ok "${addr}"
        wait_until "echo on ${addr}:${ECHO_PORT}" tcp_accepts "${addr}" "${ECHO_PORT}"
        wait_until "sink on ${addr}:${SINK_PORT}" tcp_accepts "${addr}" "${SINK_PORT}"
        wait_until "reset on ${addr}:${RESET_PORT}" tcp_accepts "${addr}" "${RESET_PORT}"
    done
}

# ---------------------------------------------------------------- up

print_summary() {
    local boxes=$1 letter index svc
    log "up with ${boxes} box(es); namespaces: $(present_namespaces | tr '\n' ' ')"
    for letter in $(box_letters "${boxes}"); do
        index=$(box_index "${letter}")
        log "  bt-${letter}: front 198.18.2.${index}  back 198.18.3.${index}  repl 198.18.4.${index} (for the DPDK process; kernel has none)"
    done
    log "  VIP route in bt-router: $(ip -n bt-router route show "${VIP}/32" | tr -s ' \t\n' ' ')"
    log "  backends ${BACKEND_ADDRS[*]}: nginx :${HTTP_PORT}, echo :${ECHO_PORT}, sink :${SINK_PORT}, reset :${RESET_PORT}"
    for svc in "${SERVICES[@]}"; do
        log "  ${svc} pid $(service_pid "${svc}")"
    done
    log "tear down with: tests/testbed/testbed.sh down"
}

on_up_exit() {
    local rc=$?
    if [[ ${UP_DONE} -ne 1 ]]; then
        printf 'testbed: up failed (exit %d); tearing down what was built\n' "${rc}" >&2
        trap - INT TERM
        do_down >&2 || true
        exit "$((rc == 0 ? 1 : rc))"
    fi
}

parse_boxes() {
    local boxes=1
    while [[ $# -gt 0 ]]; do
        case $1 in
            --boxes) [[ $# -ge 2 ]] || die "--boxes needs a value"; boxes=$2; shift 2 ;;
            --boxes=*) boxes=${1#--boxes=}; shift ;;
            *) die "unknown argument to up: $1" ;;
        esac
    done
    [[ ${boxes} == 1 || ${boxes} == 2 ]] || die "--boxes must be 1 or 2"
    echo "${boxes}"
}

cmd_up() {
    local boxes
    need_root
    boxes=$(parse_boxes "$@")
    check_tools
    refuse_if_stale
    if ! mkdir "${STATE_DIR}" 2>/dev/null; then
        refuse_if_stale
        die "cannot create ${STATE_DIR}"
    fi
    trap on_up_exit EXIT
    trap 'exit 130' INT TERM
    echo "${boxes}" >"${STATE_DIR}/boxes"
    build_network "${boxes}"
    start_services
    wait_ready
    UP_DONE=1
    trap - EXIT INT TERM
    print_summary "${boxes}"
}

# ---------------------------------------------------------------- status

# Indent `ip -br addr` lines; long address lists become "first ... last (N)".
condense_addrs() {
    awk '{
        line = sprintf("    %-16s %-8s", $1, $2)
        n = NF - 2
        if (n > 4) line = line " " $3 " " $4 " ... " $NF " (" n " addresses)"
        else for (i = 3; i <= NF; i++) line = line " " $i
        print line
    }'
}

status_namespaces() {
    local boxes=$1 ns missing=0
    for ns in $(expected_namespaces "${boxes}"); do
        if ns_exists "${ns}"; then
            printf '%-11s present\n' "${ns}"
            ip -n "${ns}" -br addr show | grep -v '^lo ' | condense_addrs
        else
            printf '%-11s MISSING\n' "${ns}"
            missing=1
        fi
    done
    return "${missing}"
}

status_services() {
    local svc pid dead=0
    for svc in "${SERVICES[@]}"; do
        if pid=$(service_pid "${svc}") && [[ -n ${pid} ]] && pid_alive "${pid}"; then
            printf 'service %-5s pid %-7s alive\n' "${svc}" "${pid}"
        else
            printf 'service %-5s pid %-7s DEAD\n' "${svc}" "${pid:--}"
            dead=1
        fi
    done
    return "${dead}"
}

cmd_status() {
    local boxes ok=1
    need_root
    if [[ ! -e ${STATE_DIR} && -z $(stale_namespaces) ]]; then
        echo "testbed is down"
        exit 1
    fi
    boxes=$(recorded_boxes)
    echo "testbed state dir ${STATE_DIR}: $([[ -e ${STATE_DIR} ]] && echo present || echo MISSING); boxes: ${boxes}"
    status_namespaces "${boxes}" || ok=0
    status_services || ok=0
    if ns_exists bt-router; then
        echo "VIP route: $(ip -n bt-router route show "${VIP}/32" | tr -s ' \t\n' ' ')"
    fi
    if [[ ${ok} -eq 1 && -e ${STATE_DIR} ]]; then
        echo "testbed is up"
        exit 0
    fi
    echo "testbed is PARTIAL (run tests/testbed/testbed.sh down)"
    exit 2
}

# ---------------------------------------------------------------- exec

cmd_exec() {
    [[ $# -ge 2 ]] || die "usage: testbed.sh exec NS CMD..."
    local ns=$1
    shift
    [[ ${ns} == bt-* ]] || ns="bt-${ns}"
    exec ip netns exec "${ns}" "$@"
}

main() {
    local cmd=${1:-}
    [[ $# -eq 0 ]] || shift
    case ${cmd} in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        exec) cmd_exec "$@" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 64 ;;
    esac
}

main "$@"
