#include "dataplane/tcp/syn_cookie.h"

#include <algorithm>
#include <array>

namespace baton::dp::tcp {
namespace {

// MSS values a cookie can carry (3 bits); the largest not above the peer's is used.
constexpr std::array<uint16_t, 8> kCookieMss = {216, 536, 1200, 1220, 1360, 1400, 1440, 1460};
constexpr uint64_t kSlotUs = 64'000'000;

uint32_t CookieHash(const IsnKey& key, const FlowAddrs& f, SeqNum client_isn,
                    uint64_t slot) noexcept {
  std::array<uint8_t, 2 * 16 + 4 + 4 + 8> msg{};
  size_t n = 0;
  for (uint8_t b : f.local_ip.first(std::min<size_t>(f.local_ip.size(), 16))) msg[n++] = b;
  msg[n++] = static_cast<uint8_t>(f.local_port >> 8);
  msg[n++] = static_cast<uint8_t>(f.local_port);
  for (uint8_t b : f.remote_ip.first(std::min<size_t>(f.remote_ip.size(), 16))) msg[n++] = b;
  msg[n++] = static_cast<uint8_t>(f.remote_port >> 8);
  msg[n++] = static_cast<uint8_t>(f.remote_port);
  for (int i = 3; i >= 0; --i) msg[n++] = static_cast<uint8_t>(client_isn.raw >> (8 * i));
  for (int i = 7; i >= 0; --i) msg[n++] = static_cast<uint8_t>(slot >> (8 * i));
  return static_cast<uint32_t>(SipHash24(key, std::span(msg.data(), n))) & 0xffffff;
}

uint32_t MakeCookie(const IsnKey& key, const FlowAddrs& f, SeqNum client_isn, uint32_t mss_idx,
                    uint64_t slot) noexcept {
  return (static_cast<uint32_t>(slot & 31) << 27) | (mss_idx << 24) |
         CookieHash(key, f, client_isn, slot);
}

}  // namespace

SeqNum SynCookieIsn(const IsnKey& key, const FlowAddrs& flow, SeqNum client_isn,
                    uint16_t peer_mss, uint64_t now_us) noexcept {
  uint32_t idx = 0;
  for (uint32_t i = 0; i < kCookieMss.size(); ++i) {
    if (kCookieMss[i] <= peer_mss) idx = i;
  }
  return SeqNum(MakeCookie(key, flow, client_isn, idx, now_us / kSlotUs));
}

bool SynCookieCheck(const IsnKey& key, const FlowAddrs& flow, SeqNum client_isn, SeqNum cookie,
                    uint64_t now_us, uint16_t& mss_out) noexcept {
  const uint64_t now_slot = now_us / kSlotUs;
  const uint32_t c = cookie.raw;
  const uint32_t mss_idx = (c >> 24) & 7;
  // Only this slot and the previous one are accepted (RFC 4987 3.6: a short lifetime
  // bounds replay of a captured cookie).
  for (uint64_t age = 0; age < 2 && age <= now_slot; ++age) {
    const uint64_t slot = now_slot - age;
    if ((c >> 27) != (slot & 31)) continue;
    if (MakeCookie(key, flow, client_isn, mss_idx, slot) == c) {
      mss_out = kCookieMss[mss_idx];
      return true;
    }
  }
  return false;
}

size_t BuildSynCookieSynAck(const Segment& syn, SeqNum cookie, uint16_t our_mss,
                            uint16_t window, std::span<uint8_t> out) noexcept {
  TcpHeader h;
  h.src_port = syn.hdr.dst_port;
  h.dst_port = syn.hdr.src_port;
  h.seq = cookie;
  h.ack = syn.hdr.seq + 1;
  h.flags = kFlagSyn | kFlagAck;
  h.window = window;
  TcpOptions o;
  o.has_mss = true;
  o.mss_bytes = our_mss;
  size_t n = 0;
  if (BuildSegment(h, o, {}, {}, out, n) != BuildStatus::kOk) return 0;
  return n;
}

}  // namespace baton::dp::tcp
