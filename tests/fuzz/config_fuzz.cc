// libFuzzer target: cp::ParseConfig on arbitrary text. It must return a snapshot or
// throw ConfigError (controlplane/config.h); any other exception, a crash or a
// sanitizer report is a bug. The error text must keep its documented shape: one
// problem per line, each starting with the origin ("fuzz:"). A snapshot it returns must
// respect the ranges and rules docs/CONFIG.md promises (a few, cheap to check here).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "controlplane/config.h"

namespace {

constexpr size_t kMaxInputBytes = 4096;  // toml11 is slow on some deep inputs; configs are small

[[noreturn]] void Fail(const char* what, const char* detail) {
  std::fprintf(stderr, "config_fuzz: invariant violated: %s\n%s\n", what, detail);
  std::abort();
}

void CheckErrorText(std::string_view text) {
  if (text.empty()) Fail("ConfigError with an empty message", "");
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    if (line.substr(0, 5) != "fuzz:") Fail("ConfigError line without the origin", std::string(text).c_str());
    start = end + 1;
  }
}

bool IsPow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

uint32_t Mask(uint8_t len) { return len == 0 ? 0 : ~uint32_t(0) << (32 - len); }

void CheckSnapshot(const baton::dp::ConfigSnapshot& s) {
  const auto& d = s.dataplane;
  if (s.source != "fuzz" || s.generation != 0) Fail("snapshot source/generation", "");
  if (d.workers < 1 || d.workers > 64) Fail("workers out of range", "");
  if (d.idle_backoff_us > 1'000'000) Fail("idle_backoff_us out of range", "");
  if (d.idle_polls_before_sleep < 1 || d.idle_polls_before_sleep > 1'000'000)
    Fail("idle_polls_before_sleep out of range", "");
  if (d.mbufs_per_port < 511 || d.mbufs_per_port > 1'048'575) Fail("mbufs_per_port out of range", "");
  if (d.rx_descriptors < 64 || d.rx_descriptors > 8192 || !IsPow2(d.rx_descriptors))
    Fail("rx_descriptors out of range", "");
  if (d.tx_descriptors < 64 || d.tx_descriptors > 8192 || !IsPow2(d.tx_descriptors))
    Fail("tx_descriptors out of range", "");
  if (d.burst < 1 || d.burst > 256) Fail("burst out of range", "");
  const auto& a = s.arp;
  if (a.reachable_ms < 1000 || a.reachable_ms > 3'600'000) Fail("reachable_ms out of range", "");
  if (a.stale_ms < a.reachable_ms || a.stale_ms > 86'400'000) Fail("stale_ms out of range", "");
  if (a.retry_ms < 100 || a.retry_ms > 60'000) Fail("retry_ms out of range", "");
  if (a.retries < 1 || a.retries > 10) Fail("retries out of range", "");
  if (a.pending_packets > 64) Fail("pending_packets out of range", "");
  if (s.ports.empty()) Fail("snapshot without ports", "");
  uint8_t roles_seen = 0;
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const auto& p = s.ports[i];
    if (p.name.empty() || p.name.size() > 16) Fail("port name length", p.name.c_str());
    if (p.roles == 0 || (p.roles & ~0x7u) != 0) Fail("port roles", p.name.c_str());
    if (roles_seen & p.roles) Fail("a role on two ports", p.name.c_str());
    roles_seen |= p.roles;
    if (p.device.empty() || p.device.find(' ') != std::string::npos) Fail("port device", p.device.c_str());
    if (!p.address.addr.IsV4() || p.address.length < 1 || p.address.length > 32)
      Fail("port address", p.name.c_str());
    if (p.gateway.IsSet()) {
      const uint32_t m = Mask(p.address.length);
      const uint32_t ip = p.address.addr.V4HostOrder(), gw = p.gateway.V4HostOrder();
      if (!p.gateway.IsV4() || (gw & m) != (ip & m) || gw == ip) Fail("port gateway", p.name.c_str());
    }
    if (p.mtu_bytes < 576 || p.mtu_bytes > 9000) Fail("port mtu", p.name.c_str());
    if (p.vlan_id > 4094) Fail("port vlan", p.name.c_str());
    for (size_t j = 0; j < i; ++j) {
      const auto& q = s.ports[j];
      if (q.name == p.name) Fail("two ports with one name", p.name.c_str());
      const uint32_t m = Mask(std::min(p.address.length, q.address.length));
      if ((p.address.addr.V4HostOrder() & m) == (q.address.addr.V4HostOrder() & m))
        Fail("overlapping subnets", p.name.c_str());
    }
  }
  if (!(roles_seen & baton::dp::kRoleFront)) Fail("no front port", "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    CheckSnapshot(baton::cp::ParseConfig(text, "fuzz"));
  } catch (const baton::cp::ConfigError& e) {
    CheckErrorText(e.what());
  } catch (const std::exception& e) {
    Fail("exception other than ConfigError", e.what());
  } catch (...) {
    Fail("non-std exception", "");
  }
  return 0;
}
