// IP addresses as plain values that hold IPv4 today and IPv6 tomorrow.
// Header-only and free of DPDK: controlplane and crypto-free code may include it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace baton::dp {

enum class IpFamily : uint8_t { kNone = 0, kV4 = 4, kV6 = 6 };

// 16 bytes in network order; an IPv4 address sits in the first 4 bytes, the rest zero.
// (Not the ::ffff:a.b.c.d mapping: the family says which it is, so comparisons never
// confuse a v4 address with a v6 one.)
struct IpAddr {
  IpFamily family = IpFamily::kNone;
  std::array<uint8_t, 16> bytes{};

  static constexpr IpAddr V4(uint32_t host_order) noexcept {
    IpAddr a;
    a.family = IpFamily::kV4;
    a.bytes[0] = uint8_t(host_order >> 24);
    a.bytes[1] = uint8_t(host_order >> 16);
    a.bytes[2] = uint8_t(host_order >> 8);
    a.bytes[3] = uint8_t(host_order);
    return a;
  }
  constexpr bool IsV4() const noexcept { return family == IpFamily::kV4; }
  constexpr bool IsSet() const noexcept { return family != IpFamily::kNone; }
  constexpr uint32_t V4HostOrder() const noexcept {
    return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 |
           uint32_t(bytes[3]);
  }
  friend constexpr bool operator==(const IpAddr&, const IpAddr&) = default;

  // Dotted quad or RFC 5952 text; nullopt on anything else (no hostnames).
  static std::optional<IpAddr> Parse(std::string_view text);
  std::string ToString() const;
};

struct IpPrefix {
  IpAddr addr;
  uint8_t length = 0;  // bits

  // "198.18.2.11/24"; nullopt when the address or length is malformed.
  static std::optional<IpPrefix> Parse(std::string_view text);
  bool Contains(const IpAddr& other) const noexcept;
  std::string ToString() const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

}  // namespace baton::dp
