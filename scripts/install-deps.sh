#!/usr/bin/env bash
# Installs what baton needs to build, test and run its demo, idempotently.
# Debian 12 only; needs root. Safe to run again: it installs only what is missing.
set -euo pipefail

PKGS=(
  # build
  build-essential meson ninja-build pkg-config clang-14 libclang-rt-14-dev
  # libraries
  dpdk dpdk-dev libdpdk-dev libipsec-mb-dev libssl-dev libtoml11-dev nlohmann-json3-dev
  libcli11-dev libgtest-dev libgmock-dev googletest libbenchmark-dev libnuma-dev libpcap-dev
  libcpp-httplib-dev
  # testbed and real peers
  iproute2 ethtool iputils-ping arping nginx-light curl socat python3 python3-scapy wrk nftables
  openssl procps kmod python3-prometheus-client gnutls-bin nghttp2-client
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they are absent or older than a day.
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1) ]]; then
    apt-get update -qq
  fi
  if ! apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >/dev/null; then
    # Package lists can be fresh yet stale for a new archive state: refresh once, retry.
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # nginx from Debian starts a service on install; the testbed runs its own instances.
  if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
    systemctl stop nginx || true
    systemctl disable -q nginx 2>/dev/null || true
  fi
  # Without systemd (containers, CI), the package's init script may still have started
  # one; stop it by the PID it recorded.
  if [[ -s /run/nginx.pid ]]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
fi
echo "install-deps: all ${#PKGS[@]} packages present"
