#include "dataplane/tcp/isn.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace baton::dp::tcp {
namespace {

constexpr uint64_t Rotl(uint64_t x, int b) noexcept { return (x << b) | (x >> (64 - b)); }

struct SipState {
  uint64_t v0, v1, v2, v3;
  void Round() noexcept {
    v0 += v1; v1 = Rotl(v1, 13); v1 ^= v0; v0 = Rotl(v0, 32);
    v2 += v3; v3 = Rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = Rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = Rotl(v1, 17); v1 ^= v2; v2 = Rotl(v2, 32);
  }
};

uint64_t LoadLe64(const uint8_t* p, size_t n) noexcept {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

uint64_t SipHash24(const IsnKey& key, std::span<const uint8_t> msg) noexcept {
  SipState s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull,
             key.k0 ^ 0x6c7967656e657261ull, key.k1 ^ 0x7465646279746573ull};
  const size_t full = msg.size() / 8 * 8;
  for (size_t i = 0; i < full; i += 8) {
    const uint64_t m = LoadLe64(msg.data() + i, 8);
    s.v3 ^= m;
    s.Round();
    s.Round();
    s.v0 ^= m;
  }
  const uint64_t last = (uint64_t{msg.size() & 0xff} << 56) |
                        LoadLe64(msg.data() + full, msg.size() - full);
  s.v3 ^= last;
  s.Round();
  s.Round();
  s.v0 ^= last;
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SeqNum Rfc6528Isn(const IsnKey& key, std::span<const uint8_t> local_ip, uint16_t local_port,
                  std::span<const uint8_t> remote_ip, uint16_t remote_port,
                  uint64_t now_us) noexcept {
  std::array<uint8_t, 2 * 16 + 4> msg{};
  size_t n = 0;
  for (uint8_t b : local_ip.first(std::min<size_t>(local_ip.size(), 16))) msg[n++] = b;
  msg[n++] = static_cast<uint8_t>(local_port >> 8);
  msg[n++] = static_cast<uint8_t>(local_port);
  for (uint8_t b : remote_ip.first(std::min<size_t>(remote_ip.size(), 16))) msg[n++] = b;
  msg[n++] = static_cast<uint8_t>(remote_port >> 8);
  msg[n++] = static_cast<uint8_t>(remote_port);
  const uint32_t f = static_cast<uint32_t>(SipHash24(key, std::span(msg.data(), n)));
  // RFC 6528 3: M is a timer that ticks every 4 microseconds.
  const uint32_t m = static_cast<uint32_t>(now_us / 4);
  return SeqNum(m + f);
}

}  // namespace baton::dp::tcp
