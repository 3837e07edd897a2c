// Byte views and explicit big-endian loads/stores: packets are parsed from bytes,
// never by casting structs onto them (STYLE.md 11).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace baton::dp {

using ByteView = std::span<const uint8_t>;
using MutByteView = std::span<uint8_t>;

inline uint16_t LoadBe16(const uint8_t* p) noexcept { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t LoadBe32(const uint8_t* p) noexcept {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
inline void StoreBe16(uint8_t* p, uint16_t v) noexcept {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void StoreBe32(uint8_t* p, uint32_t v) noexcept {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

struct MacAddr {
  std::array<uint8_t, 6> b{};

  static MacAddr Load(const uint8_t* p) noexcept {
    MacAddr m;
    std::memcpy(m.b.data(), p, 6);
    return m;
  }
  static constexpr MacAddr Broadcast() noexcept { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  void Store(uint8_t* p) const noexcept { std::memcpy(p, b.data(), 6); }
  constexpr bool IsMulticast() const noexcept { return (b[0] & 1) != 0; }  // includes broadcast
  constexpr bool IsBroadcast() const noexcept { return *this == Broadcast(); }
  constexpr bool IsZero() const noexcept { return *this == MacAddr{}; }
  friend constexpr bool operator==(const MacAddr&, const MacAddr&) = default;
  std::string ToString() const;
};

}  // namespace baton::dp
