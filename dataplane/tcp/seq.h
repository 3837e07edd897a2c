// TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 3.4).
// A strong type so that sequence space is never mixed with byte counts by accident.
#pragma once

#include <cstdint>

namespace baton::dp::tcp {

struct SeqNum {
  uint32_t raw = 0;

  constexpr SeqNum() noexcept = default;
  constexpr explicit SeqNum(uint32_t v) noexcept : raw(v) {}

  // Advancing by a byte count stays in sequence space; wraps modulo 2^32 on purpose.
  constexpr SeqNum operator+(uint32_t n) const noexcept { return SeqNum(raw + n); }
  constexpr SeqNum operator-(uint32_t n) const noexcept { return SeqNum(raw - n); }
  constexpr SeqNum& operator+=(uint32_t n) noexcept { raw += n; return *this; }
  constexpr bool operator==(const SeqNum&) const noexcept = default;
};

// RFC 9293 3.4: comparisons are modulo 2^32; valid while the two values are less than
// 2^31 apart, which the window limits (RFC 7323 2.3: at most 2^30) guarantee.
constexpr bool operator<(SeqNum a, SeqNum b) noexcept {
  return static_cast<int32_t>(a.raw - b.raw) < 0;
}
constexpr bool operator>(SeqNum a, SeqNum b) noexcept { return b < a; }
constexpr bool operator<=(SeqNum a, SeqNum b) noexcept { return !(b < a); }
constexpr bool operator>=(SeqNum a, SeqNum b) noexcept { return !(a < b); }

// Bytes from `from` up to `to` (to >= from, in sequence order).
constexpr uint32_t SeqDiff(SeqNum to, SeqNum from) noexcept { return to.raw - from.raw; }

constexpr SeqNum SeqMax(SeqNum a, SeqNum b) noexcept { return a < b ? b : a; }
constexpr SeqNum SeqMin(SeqNum a, SeqNum b) noexcept { return a < b ? a : b; }

// lo <= s < hi in sequence order.
constexpr bool SeqInRange(SeqNum s, SeqNum lo, SeqNum hi) noexcept {
  return lo <= s && s < hi;
}

}  // namespace baton::dp::tcp
