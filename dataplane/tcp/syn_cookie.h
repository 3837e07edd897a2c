// SYN cookies (RFC 4987 3.6): answer a SYN without creating a record, and rebuild the
// connection from the ACK that returns the cookie. The ISN carries
//   bits 31..27: t mod 32, t = now / 64 s;  bits 26..24: MSS index;
//   bits 23..0 : SipHash-2-4(key, 4-tuple, client ISN, t), truncated.
// A cookie is valid in its own 64 s slot and the next one. Like every cookie scheme
// without timestamp encoding, window scaling, timestamps and SACK are not negotiated on
// such connections (the SYN,ACK offers only MSS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/tcp/isn.h"
#include "dataplane/tcp/segment.h"
#include "dataplane/tcp/seq.h"

namespace baton::dp::tcp {

struct FlowAddrs {
  std::span<const uint8_t> local_ip;   // 4 or 16 bytes, network order
  uint16_t local_port = 0;
  std::span<const uint8_t> remote_ip;
  uint16_t remote_port = 0;
};

// The cookie ISN for a SYN from `client_isn` offering `peer_mss` (536 if it had none).
SeqNum SynCookieIsn(const IsnKey& key, const FlowAddrs& flow, SeqNum client_isn,
                    uint16_t peer_mss, uint64_t now_us) noexcept;

// Checks the cookie returned in an ACK (cookie = SEG.ACK - 1, client ISN = SEG.SEQ - 1);
// on success `mss_out` gets the MSS the cookie encoded.
[[nodiscard]] bool SynCookieCheck(const IsnKey& key, const FlowAddrs& flow, SeqNum client_isn,
                                  SeqNum cookie, uint64_t now_us, uint16_t& mss_out) noexcept;

// The stateless SYN,ACK for `syn`: <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK>, MSS only.
// Returns the length written into `out`, 0 if it does not fit.
[[nodiscard]] size_t BuildSynCookieSynAck(const Segment& syn, SeqNum cookie, uint16_t our_mss,
                                          uint16_t window, std::span<uint8_t> out) noexcept;

}  // namespace baton::dp::tcp
