#!/usr/bin/env bash
# End-to-end: box A terminates TLS (configs/demo.toml: :443 to nginx, ALPN h2 to nginx's
# h2c port, :9443 to echo) for real clients in bt-client: curl, openssl s_client,
# gnutls-cli, wrk and h2load; a 1 GiB download over TLS with sha256 equal at both ends;
# the ECDSA or the RSA chain by signature algorithms; TLS 1.2 suites; a non-TLS client
# refused with an alert; resumption across two processes sharing a ticket key file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${ROOT}/tests/e2e/lib.sh"
trap e2e_cleanup EXIT
VIP=198.18.100.10
HOST=www.example.com
TLSDIR=/var/tmp/baton-testbed-files/tls
CURL=(ip netns exec bt-client curl -sS --cacert "${TLSDIR}/ca.pem" --resolve "${HOST}:443:${VIP}"
      --resolve "${HOST}:9443:${VIP}")

echo "== tls: box A terminates TLS for bt-client, plaintext to bt-backend"
testbed_up --boxes 1 >"${E2E_TMP}/testbed.log" 2>&1 || { cat "${E2E_TMP}/testbed.log"; exit 1; }
start_box bt-a "${ROOT}/configs/demo.toml" box-a

page=$("${CURL[@]}" -m 10 --tlsv1.3 "https://${HOST}/" || true)
check "curl over TLS 1.3 (chain verified against the testbed CA) gets a backend's page" \
  grep -q "backend 198.18.3.10" <<<"${page}"
info=$("${CURL[@]}" -m 10 -v -o /dev/null "https://${HOST}/" 2>&1 || true)
check "curl: TLS 1.3 with ALPN http/1.1" grep -q "SSL connection using TLSv1.3" <<<"${info}"
check "curl: server certificate verified" grep -q "SSL certificate verify ok" <<<"${info}"

for suite in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
  for group in X25519 P-256; do
    out=$(ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" \
            -CAfile "${TLSDIR}/ca.pem" -verify_return_error -tls1_3 -ciphersuites "${suite}" \
            -groups "${group}" -brief </dev/null 2>&1 || true)
    check "openssl s_client ${suite} ${group}: handshake verified" \
      bash -c 'grep -q "Ciphersuite: $2" <<<"$1" && grep -q "Verification: OK" <<<"$1"' _ "${out}" "${suite}"
  done
done
out=$(ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" \
        -CAfile "${TLSDIR}/ca.pem" -tls1_3 -sigalgs "rsa_pss_rsae_sha256" -brief </dev/null 2>&1 || true)
check "openssl s_client offering only RSA-PSS gets the RSA chain" \
  bash -c 'grep -q "Signature type: RSA-PSS" <<<"$1" && grep -q "Verification: OK" <<<"$1"' _ "${out}"
out=$(ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" \
        -CAfile "${TLSDIR}/ca.pem" -tls1_3 -sigalgs "ecdsa_secp256r1_sha256" -brief </dev/null 2>&1 || true)
check "openssl s_client offering only ECDSA gets the ECDSA chain" \
  bash -c 'grep -q "Signature type: ECDSA" <<<"$1" && grep -q "Verification: OK" <<<"$1"' _ "${out}"

# gnutls-cli has no --resolve: connect to the VIP and verify the name given.
out=$( (printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "${HOST}"; sleep 2) |
        timeout 20 ip netns exec bt-client gnutls-cli --x509cafile "${TLSDIR}/ca.pem" \
          --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3" -p 443 --sni-hostname "${HOST}" \
          --verify-hostname "${HOST}" "${VIP}" 2>&1 || true)
check "gnutls-cli over TLS 1.3 verifies and gets the page" \
  bash -c 'grep -q "TLS1.3" <<<"$1" && grep -q "backend 198.18.3.10" <<<"$1"' _ "${out}"

want=$(sha256sum /var/tmp/baton-testbed-files/files/1g.bin | cut -d' ' -f1)
got=$("${CURL[@]}" -m 300 -w '%{speed_download}\n' -o >(sha256sum | cut -d' ' -f1 >"${E2E_TMP}/1g.sha") \
        "https://${HOST}/files/1g.bin" || true)
sleep 1
echo "    1 GiB over TLS: ${got} bytes/s"
check "1 GiB download over TLS has the file's sha256" test "$(cat "${E2E_TMP}/1g.sha")" = "${want}"

wrk_out=$(ip netns exec bt-client wrk -t 1 -c 50 -d 5s --timeout 5s "https://${VIP}/" 2>&1 || true)
echo "${wrk_out}" | grep -E "Requests/sec|requests in|Socket errors|Non-2xx" | sed 's/^/    wrk: /'
check "wrk over TLS: 50 keep-alive connections for 5 s, requests done" grep -qE "[1-9][0-9]* requests in" <<<"${wrk_out}"
check "wrk over TLS: no socket errors and no non-2xx answers" \
  bash -c '! grep -qE "Socket errors|Non-2xx" <<<"$1"' _ "${wrk_out}"

h2_out=$(timeout 60 ip netns exec bt-client h2load -n 2000 -c 20 -m 10 "https://${VIP}/" 2>&1 || true)
echo "${h2_out}" | grep -E "^finished|^requests:|^status codes|Application protocol" | sed 's/^/    h2load: /'
check "h2load: ALPN h2 (routed to nginx's HTTP/2 port), 2000 requests, all 2xx" \
  bash -c 'grep -q "Application protocol: h2" <<<"$1" && grep -q "2000 succeeded" <<<"$1" && grep -q "2000 2xx" <<<"$1"' \
  _ "${h2_out}"
h1_out=$(timeout 60 ip netns exec bt-client h2load --h1 -n 2000 -c 20 "https://${VIP}/" 2>&1 || true)
check "h2load --h1: ALPN http/1.1 to nginx, 2000 requests, all 2xx" \
  bash -c 'grep -q "2000 succeeded" <<<"$1" && grep -q "2000 2xx" <<<"$1"' _ "${h1_out}"

out=$(printf 'hello over tls\n' | timeout 20 ip netns exec bt-client openssl s_client -connect "${VIP}:9443" \
        -servername "${HOST}" -CAfile "${TLSDIR}/ca.pem" -quiet 2>/dev/null || true)
check "echo over TLS on :9443 returns what was sent" grep -q "hello over tls" <<<"${out}"

# TLS 1.2 (ECDHE, AEAD suites only, extended master secret) on the same listener.
info=$("${CURL[@]}" -m 10 -v --tls-max 1.2 -o /dev/null "https://${HOST}/" 2>&1 || true)
check "curl --tls-max 1.2: TLS 1.2, verified" \
  bash -c 'grep -q "SSL connection using TLSv1.2" <<<"$1" && grep -q "SSL certificate verify ok" <<<"$1"' _ "${info}"
for cipher in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 \
              ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-CHACHA20-POLY1305; do
  out=$(ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" \
          -CAfile "${TLSDIR}/ca.pem" -verify_return_error -tls1_2 -cipher "${cipher}" -brief </dev/null 2>&1 || true)
  check "openssl s_client TLS 1.2 ${cipher}: handshake verified" \
    bash -c 'grep -q "Protocol version: TLSv1.2" <<<"$1" && grep -q "Ciphersuite: $2" <<<"$1" && grep -q "Verification: OK" <<<"$1"' \
    _ "${out}" "${cipher}"
done
out=$(ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" -tls1_2 \
        -cipher ECDHE-ECDSA-AES128-SHA -brief </dev/null 2>&1 || true)
check "openssl s_client TLS 1.2 with a CBC suite only: refused" bash -c '! grep -q "CONNECTION ESTABLISHED" <<<"$1"' _ "${out}"
out=$( (printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "${HOST}"; sleep 2) |
        timeout 20 ip netns exec bt-client gnutls-cli --x509cafile "${TLSDIR}/ca.pem" \
          --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" -p 443 --sni-hostname "${HOST}" \
          --verify-hostname "${HOST}" "${VIP}" 2>&1 || true)
check "gnutls-cli over TLS 1.2 verifies and gets the page" \
  bash -c 'grep -q "TLS1.2" <<<"$1" && grep -q "backend 198.18.3.10" <<<"$1"' _ "${out}"

settle_stats
before=$(box_stat box-a 's["counters"]["tls_handshake_failures"]')
out=$(ip netns exec bt-client curl -sS -m 5 "http://${VIP}:443/" 2>&1 || true)
settle_stats
after=$(box_stat box-a 's["counters"]["tls_handshake_failures"]')
check "plain HTTP to the TLS port is refused and counted (${before} -> ${after})" test "${after}" -gt "${before}"

echo "    box A: $(box_stat box-a '"TLS handshakes %d, failures %d/%d, timeouts %d, close_notify %d" % (s["counters"]["tls_handshakes"], s["counters"]["tls_handshake_failures"], s["counters"]["tls_session_failures"], s["counters"]["tls_handshake_timeouts"], s["counters"]["tls_close_notifies"])')"
check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()

# Resumption across two baton processes that share a ticket key file (the first line
# seals, every line opens): a ticket from the first process resumes on the second.
openssl rand -hex 48 >"${E2E_TMP}/ticket.keys"
sed "s|^alpn = \[\"h2\", \"http/1.1\"\]|&\nticket_key_file = \"${E2E_TMP}/ticket.keys\"|" \
  "${ROOT}/configs/demo.toml" >"${E2E_TMP}/tickets.toml"
session() {  # session VERSION-FLAG IN|OUT FILE: one s_client run that saves or offers a session
  local flag=$1 dir=$2 file=$3
  (sleep 1) | ip netns exec bt-client openssl s_client -connect "${VIP}:443" -servername "${HOST}" \
    -CAfile "${TLSDIR}/ca.pem" "${flag}" "-sess_${dir}" "${file}" 2>&1 || true
}
start_box bt-a "${E2E_TMP}/tickets.toml" box-a
session -tls1_3 out "${E2E_TMP}/s13.pem" >/dev/null
session -tls1_2 out "${E2E_TMP}/s12.pem" >/dev/null
stop_box "${BOX_PID}"
BOX_PIDS=()
start_box bt-a "${E2E_TMP}/tickets.toml" box-a
check "TLS 1.3 ticket from the first process resumes on the second" \
  grep -q "^Reused, TLSv1.3" <<<"$(session -tls1_3 in "${E2E_TMP}/s13.pem")"
check "TLS 1.2 ticket from the first process resumes on the second" \
  grep -q "^Reused, TLSv1.2" <<<"$(session -tls1_2 in "${E2E_TMP}/s12.pem")"
settle_stats
check "the second process counted the resumptions" test "$(box_stat box-a 's["counters"]["tls_resumed"]')" -ge 2
stop_box "${BOX_PID}"
BOX_PIDS=()
# Without the shared file each process has its own random key: no resumption.
start_box bt-a "${ROOT}/configs/demo.toml" box-a
check "a process with other ticket keys does a full handshake instead" \
  grep -q "^New, TLSv1.3" <<<"$(session -tls1_3 in "${E2E_TMP}/s13.pem")"
check "baton stops cleanly on SIGTERM" stop_box "${BOX_PID}"
BOX_PIDS=()
echo "tls: ${PASSED} passed, ${FAILED} failed"
[[ ${FAILED} -eq 0 ]]
