#!/usr/bin/env bash
# End-to-end: live reload on box A (docs/CONFIG.md "Live reload"), under wrk load over
# HTTP and HTTPS and a loop of new HTTPS connections: (a) a reloaded config adds a
# backend and changes a weight (a disabled backend stays disabled), then another removes
# a backend that keep-alive connections are on (they carry on), (b) the certificate
# files are swapped for a newly issued one and reloaded, (c) the ticket keys rotate.
# No request may fail. An invalid config and a change that needs a restart are refused
# with their exact errors and change nothing; after the certificate reload a new
# s_client sees the new serial; a ticket from before the rotation still resumes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT
VIP=198.18.100.10
HOST=www.example.com
TLSDIR=/var/tmp/baton-testbed-files/tls
NAME=reload-e2e
CTL=(ip netns exec bt-a "${BATON}" ctl --name "${NAME}")
CONF="${E2E_TMP}/baton.toml"
CERTS="${E2E_TMP}/tls"
WRK_SECONDS=12

echo "== reload: live config reload, certificate reload and ticket-key rotation on box A"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
# Box A runs on copies the test may change: the demo config with pool "web" on .101 and
# .102 only, and the testbed's certificates.
mkdir -p "${CERTS}"
cp "${TLSDIR}"/site-ecdsa.pem "${TLSDIR}"/site-ecdsa.key "${TLSDIR}"/site-rsa.pem "${TLSDIR}"/site-rsa.key "${CERTS}/"
sed -e "s|${TLSDIR}/site-|${CERTS}/site-|g" \
    -e 's|^backends = \["198.18.3.101:80", "198.18.3.102:80", "198.18.3.103:80"\]|backends = ["198.18.3.101:80", "198.18.3.102:80"]|' \
    "${ROOT}/configs/demo.toml" >"${CONF}"
start_box bt-a "${CONF}" box-a --name "${NAME}"

py() { /usr/bin/python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
reload_stat() { "${CTL[@]}" stats --json | py "j['reload']['$1']"; }
web_backends() { "${CTL[@]}" backends --json | py "','.join(b['address'] + '=' + b['admin'] + '/' + str(b['weight']) for b in j if b['pool'] == 'web')"; }
session() {  # session VERSION-FLAG IN|OUT FILE: one s_client run that saves or offers a session
  (sleep 1) | timeout 20 ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" \
    -CAfile "${TLSDIR}/ca.pem" "$1" "-sess_$2" "$3" 2>&1 || true
}
serial() {  # the serial of the ECDSA certificate a new handshake gets
  timeout 20 ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" \
    -CAfile "${TLSDIR}/ca.pem" -sigalgs ecdsa_secp256r1_sha256 </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null || true
}

check "config generation 1 at start" test "$(reload_stat config_generation)" = 1
old_serial=$(serial)
check "s_client sees the testbed certificate (${old_serial})" test -n "${old_serial}"
"${CTL[@]}" backend web 198.18.3.102:80 disable >/dev/null
session -tls1_3 out "${E2E_TMP}/s13.pem" >/dev/null
session -tls1_2 out "${E2E_TMP}/s12.pem" >/dev/null

# ---- Refusals first: nothing may change.
cp "${CONF}" "${E2E_TMP}/bad.toml"
printf '\n[[pool]]\nname = "web"\nbackends = ["198.18.3.103:80"]\n' >>"${E2E_TMP}/bad.toml"
bad_line=$(($(wc -l <"${CONF}") + 3))
rc=0
out=$("${CTL[@]}" reload "${E2E_TMP}/bad.toml" 2>&1) || rc=$?
want="baton ctl: baton says: ${E2E_TMP}/bad.toml:${bad_line}: pool[4].name: got \"web\", expected a name no other pool uses (pool[0] has it)"
check "an invalid config is refused (exit ${rc}) with the loader's exact error" \
  bash -c '[[ $1 == 1 && $2 == "$3" ]]' _ "${rc}" "${out}" "${want}"
[[ ${out} == "${want}" ]] || printf '    got:  %s\n    want: %s\n' "${out}" "${want}"
sed 's|^workers = 1 |workers = 2 |' "${CONF}" >"${E2E_TMP}/workers.toml"
rc=0
out=$("${CTL[@]}" reload "${E2E_TMP}/workers.toml" 2>&1) || rc=$?
want="baton ctl: baton says: ${E2E_TMP}/workers.toml: dataplane.workers: cannot change while running (1 -> 2); restart baton to apply it"
check "a change of workers is refused (exit ${rc}) with its exact error" \
  bash -c '[[ $1 == 1 && $2 == "$3" ]]' _ "${rc}" "${out}" "${want}"
[[ ${out} == "${want}" ]] || printf '    got:  %s\n    want: %s\n' "${out}" "${want}"
check "after the refusals: generation 1, 2 failed reloads, web unchanged ($(web_backends))" \
  bash -c '[[ $1 == 1 && $2 == 2 && $3 == "198.18.3.101:80=enabled/1,198.18.3.102:80=disabled/1" ]]' _ \
  "$(reload_stat config_generation)" "$(reload_stat reloads_failed)" "$(web_backends)"

# ---- Under load: wrk over HTTP and HTTPS (keep-alive), new HTTPS connections in a loop.
ip netns exec bt-client wrk -t 1 -c 20 -d "${WRK_SECONDS}s" --timeout 5s "http://${VIP}/" >"${E2E_TMP}/wrk-http.txt" 2>&1 &
wrk_http=$!
ip netns exec bt-client wrk -t 1 -c 20 -d "${WRK_SECONDS}s" --timeout 5s "https://${VIP}/" >"${E2E_TMP}/wrk-https.txt" 2>&1 &
wrk_https=$!
(
  fails=0
  for _ in $(seq 1 300); do
    ip netns exec bt-client curl -sS -m 5 -o /dev/null --cacert "${TLSDIR}/ca.pem" \
      --resolve "${HOST}:443:${VIP}" "https://${HOST}/" 2>>"${E2E_TMP}/curl-errors.txt" || fails=$((fails + 1))
    [[ -e ${E2E_TMP}/stop-curl ]] && break
  done
  echo "${fails}" >"${E2E_TMP}/curl-fails.txt"
) &
curl_loop=$!
sleep 2

# (a) A backend added, a weight changed; the disabled one stays disabled.
sed -i 's|^backends = \["198.18.3.101:80", "198.18.3.102:80"\]|backends = ["198.18.3.101:80", "198.18.3.102:80", { address = "198.18.3.103:80", weight = 3 }]|' "${CONF}"
out=$("${CTL[@]}" reload 2>&1) || true
check "reload of the changed config (${out})" grep -q "^reload: done; config generation 2" <<<"${out}"
check "web now: 101 enabled, 102 still disabled, 103 weight 3 ($(web_backends))" \
  test "$(web_backends)" = "198.18.3.101:80=enabled/1,198.18.3.102:80=disabled/1,198.18.3.103:80=enabled/3"
"${CTL[@]}" backend web 198.18.3.102:80 enable >/dev/null
sleep 1.5
# (a2) .101 leaves the pool; wrk's keep-alive connections to it keep going.
a101=$("${CTL[@]}" backends --json | py "[b['active_sessions'] for b in j if b['address'] == '198.18.3.101:80' and b['pool'] == 'web'][0]")
check "before .101 leaves: it holds live sessions (${a101})" test "${a101}" -gt 0
sed -i 's|^backends = \["198.18.3.101:80", "198.18.3.102:80", {|backends = ["198.18.3.102:80", {|' "${CONF}"
out=$("${CTL[@]}" reload 2>&1) || true
check "reload without 198.18.3.101:80 (${out})" grep -q "^reload: done; config generation 3" <<<"${out}"
check "web now: 102 enabled again, 103 weight 3 ($(web_backends))" \
  test "$(web_backends)" = "198.18.3.102:80=enabled/1,198.18.3.103:80=enabled/3"
sleep 1.5

# (b) A newly issued certificate from the testbed CA over the files, then reload-certs.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${E2E_TMP}/new.key" 2>/dev/null
openssl req -new -key "${E2E_TMP}/new.key" -subj "/CN=www.example.com" -out "${E2E_TMP}/new.csr" 2>/dev/null
printf 'subjectAltName=DNS:www.example.com,DNS:api.example.com\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
  >"${E2E_TMP}/new.ext"
openssl x509 -req -in "${E2E_TMP}/new.csr" -CA "${TLSDIR}/ca.pem" -CAkey "${TLSDIR}/ca.key" -set_serial 0x5EED0001 \
  -days 2 -sha256 -extfile "${E2E_TMP}/new.ext" -out "${E2E_TMP}/new.pem" 2>/dev/null
cp "${E2E_TMP}/new.pem" "${CERTS}/site-ecdsa.pem"
cp "${E2E_TMP}/new.key" "${CERTS}/site-ecdsa.key"
out=$("${CTL[@]}" reload-certs 2>&1) || true
check "reload-certs (${out})" grep -q "^reload-certs: done" <<<"${out}"
sleep 2

# (c) Ticket keys rotate; a ticket from just before still resumes.
session -tls1_3 out "${E2E_TMP}/r13.pem" >/dev/null
out=$("${CTL[@]}" rotate-ticket-keys 2>&1) || true
check "rotate-ticket-keys (${out})" grep -q "^rotate-ticket-keys: done" <<<"${out}"

wait "${wrk_http}" || true
wait "${wrk_https}" || true
touch "${E2E_TMP}/stop-curl"
wait "${curl_loop}" || true
for f in wrk-http wrk-https; do
  grep -E "requests in|Socket errors|Non-2xx" "${E2E_TMP}/${f}.txt" | sed "s/^/    ${f}: /"
  check "${f}: requests done, no socket errors, no non-2xx answers" \
    bash -c 'grep -qE "[1-9][0-9]* requests in" "$1" && ! grep -qE "Socket errors|Non-2xx" "$1"' _ "${E2E_TMP}/${f}.txt"
done
check "new HTTPS connections through all three changes: none failed ($(cat "${E2E_TMP}/curl-fails.txt"))" \
  test "$(cat "${E2E_TMP}/curl-fails.txt")" = 0
[[ -s ${E2E_TMP}/curl-errors.txt ]] && sed 's/^/    curl: /' "${E2E_TMP}/curl-errors.txt" | head -5

new_serial=$(serial)
check "after reload-certs a new handshake gets the new certificate (${new_serial})" test "${new_serial}" = "serial=5EED0001"
check "TLS 1.3 ticket from before the rotation resumes" grep -q "^Reused, TLSv1.3" <<<"$(session -tls1_3 in "${E2E_TMP}/r13.pem")"
check "TLS 1.3 ticket from before every reload resumes" grep -q "^Reused, TLSv1.3" <<<"$(session -tls1_3 in "${E2E_TMP}/s13.pem")"
check "TLS 1.2 ticket from before every reload resumes" grep -q "^Reused, TLSv1.2" <<<"$(session -tls1_2 in "${E2E_TMP}/s12.pem")"

# A certificate reload that cannot read its files changes nothing.
echo "not a key" >"${CERTS}/site-rsa.key"
rc=0
out=$("${CTL[@]}" reload-certs 2>&1) || rc=$?
check "reload-certs with a broken key file is refused (exit ${rc}) naming the config line" \
  bash -c '[[ $1 == 1 ]] && grep -q "${2}:[0-9]*: listener\[2\].tls.certificates\[1\]: " <<<"$3"' _ "${rc}" "${CONF}" "${out}"
check "the running certificate is still the new one" test "$(serial)" = "serial=5EED0001"

b103=$("${CTL[@]}" backends --json | py "[b['sessions_started'] for b in j if b['address'] == '198.18.3.103:80' and b['pool'] == 'web'][0]")
check "the backend the reload added took new sessions (${b103})" test "${b103}" -gt 0
stats=$("${CTL[@]}" stats --json)
check "reload counters: generation 3, reloads 2 ok 2 failed, certs 1 ok 1 failed, rotations 1" \
  test "$(py "'%d %d %d %d %d %d' % tuple(j['reload'][k] for k in ('config_generation', 'reloads_ok', 'reloads_failed', 'cert_reloads_ok', 'cert_reloads_failed', 'ticket_rotations_ok'))" <<<"${stats}")" = "3 2 2 1 1 1"
metrics=$(ip netns exec bt-a curl -sS -m 5 http://127.0.0.1:9180/metrics || true)
check "metrics: baton_config_generation 3, baton_reloads_total{result=\"failed\"} 2" \
  bash -c 'grep -q "^baton_config_generation 3$" <<<"$1" && grep -q "^baton_reloads_total{result=\"failed\"} 2$" <<<"$1"' _ "${metrics}"
settle_stats
echo "    box A: $(box_stat box-a '"TLS handshakes %d, failures %d/%d, resumed %d; reload resets %d, reconnects %d" % (s["counters"]["tls_handshakes"], s["counters"]["tls_handshake_failures"], s["counters"]["tls_session_failures"], s["counters"]["tls_resumed"], s["counters"]["reload_sessions_reset"], s["counters"]["reload_reconnects"])')"
check "no TLS handshake failed" test "$(box_stat box-a 's["counters"]["tls_handshake_failures"]')" = 0
check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()
echo "reload: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
