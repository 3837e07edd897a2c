#!/usr/bin/env bash
# The baton binary's CLI without a NIC: --version, --help, check-config on good and
# broken files (the message names file and line), and run refusing bad input early.
# Usage: cli_test.sh BATON SOURCE_ROOT
set -uo pipefail
baton=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT
passed=0
failed=0
expect() {  # expect DESCRIPTION EXPECTED_STATUS PATTERN -- CMD...
  local what=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [[ ${status} -eq ${want} ]] && grep -qE -- "${pattern}" <<<"${out}"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL: %s\n  exit %s (wanted %s), output:\n%s\n' "${what}" "${status}" "${want}" "${out}"
  fi
}

expect "--version" 0 '^baton [0-9]+\.[0-9]+\.[0-9]+$' -- "${baton}" --version
expect "--help lists run and check-config" 0 'check-config' -- "${baton}" --help
expect "no subcommand is a usage error" 106 'subcommand' -- "${baton}"
# The demo config names the testbed's certificates; here they are made in ${tmp}/tls.
mkdir -p "${tmp}/tls"
cert() {  # cert NAME GENPKEY-ARGS...: a self-signed certificate for www.example.com
  local name=$1
  shift
  openssl req -x509 -newkey "$@" -nodes -keyout "${tmp}/tls/${name}.key" -out "${tmp}/tls/${name}.pem" \
    -subj "/CN=www.example.com" -days 2 2>/dev/null
}
cert site-ecdsa ec -pkeyopt ec_paramgen_curve:P-256
cert site-rsa rsa:2048
sed "s|/var/tmp/baton-testbed-files/tls/|${tmp}/tls/|g" "${root}/configs/demo.toml" >"${tmp}/demo.toml"
expect "check-config accepts the demo config" 0 'demo.toml: ok' -- "${baton}" check-config "${tmp}/demo.toml"
expect "check-config summarises the TLS listeners" 0 'listener https: 198.18.100.10:443 tls -> pool web \(2 certificate' \
  -- "${baton}" check-config "${tmp}/demo.toml"
# A key that belongs to another certificate, and a file that is not PEM at all.
cp "${tmp}/tls/site-rsa.key" "${tmp}/tls/other.key"
sed "0,/site-ecdsa.key/s|site-ecdsa.key|other.key|" "${tmp}/demo.toml" >"${tmp}/mismatch.toml"
expect "check-config: a key that does not match its certificate" 1 \
  'mismatch.toml:82: listener\[2\]\.tls\.certificates\[0\]: .*other.key' -- "${baton}" check-config "${tmp}/mismatch.toml"
echo "not a certificate" >"${tmp}/tls/garbage.pem"
sed "0,/site-ecdsa.pem/s|site-ecdsa.pem|garbage.pem|" "${tmp}/demo.toml" >"${tmp}/garbage.toml"
expect "check-config: a certificate file that is not PEM" 1 \
  'garbage.toml:82: listener\[2\]\.tls\.certificates\[0\]: .*garbage.pem' -- "${baton}" check-config "${tmp}/garbage.toml"
expect "run refuses a bad certificate before touching DPDK" 1 'garbage.toml:82' -- \
  "${baton}" run --config "${tmp}/garbage.toml" --api-socket "${tmp}/api.sock" --metrics off -- --no-huge

cat >"${tmp}/broken.toml" <<'TOML'
[dataplane]
workers = 0

[[port]]
name = "front"
roles = ["front"]
device = "net_af_packet0,iface=front"
address = "198.18.2.300/24"
TOML
expect "check-config names file, line and key of each problem" 1 \
  "broken.toml:2: dataplane.workers: got 0, expected" -- "${baton}" check-config "${tmp}/broken.toml"
expect "check-config reports every problem, not just the first" 1 \
  "broken.toml:8: port\[0\].address: got \"198.18.2.300/24\"" -- "${baton}" check-config "${tmp}/broken.toml"
expect "check-config on a missing file" 1 'cannot read' -- "${baton}" check-config "${tmp}/absent.toml"
expect "run refuses a broken config before touching DPDK" 1 'broken.toml:2' -- \
  "${baton}" run --config "${tmp}/broken.toml" -- --no-huge
expect "EAL arguments belong to run only" 2 'only for' -- "${baton}" check-config "${tmp}/broken.toml" -- --no-huge

echo "cli: ${passed} passed, ${failed} failed"
[[ ${failed} -eq 0 ]]
