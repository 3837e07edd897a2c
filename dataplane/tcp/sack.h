// The sender's SACK scoreboard and the RFC 6675 routines over it (IsLost, SetPipe,
// NextSeg). The scoreboard is plain data inside the connection record: a fixed array
// of SACKed ranges, kept sorted and merged. The holes between them are derived, so no
// per-segment state exists. Everything is in sequence space (bytes), like cwnd.
//
// SACKed data is only advice (RFC 2018 8): the bytes stay in the send ring until the
// cumulative ACK covers them, so a peer that reneges loses nothing.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/tcp/segment.h"
#include "dataplane/tcp/seq.h"

namespace baton::dp::tcp {

// Ranges remembered at once. Linux peers report at most 3 blocks per ACK (4 without
// timestamps); 16 ranges cover 15 holes in flight. When full, the highest range is
// forgotten: less is then known to be SACKed, which only makes the sender retransmit
// more and count more in flight, never less (safe direction).
inline constexpr size_t kScoreboardRanges = 16;
inline constexpr uint32_t kDupThresh = 3;  // RFC 6675 2, RFC 5681 3.2

struct SackRange {
  SeqNum left;   // first SACKed byte
  SeqNum right;  // just after the last SACKed byte
};

struct SackScoreboard {
  SackRange range[kScoreboardRanges] = {};  // ascending, disjoint, never touching
  uint8_t count = 0;
};

// The scalars RFC 6675 routines read, named as in its section 2.
struct SackView {
  SeqNum high_ack;      // HighACK: SND.UNA
  SeqNum high_data;     // HighData: SND.MAX (exclusive end, unlike the RFC's octet)
  SeqNum high_rxt;      // HighRxt: exclusive end of the highest retransmission
  SeqNum rto_lost_end;  // after an RTO every unSACKed byte below this counts as lost
  uint32_t mss_bytes;
};

// A segment to (re)transmit: [seq, seq + len) in sequence space.
struct SackSeg {
  SeqNum seq;
  uint32_t len = 0;
};

inline void SbClear(SackScoreboard& sb) noexcept { sb.count = 0; }

// RFC 6675 Update(): records the blocks of one ACK. Blocks at or below SND.UNA
// (D-SACK, RFC 2883, or stale) and blocks beyond SND.MAX (bogus) are ignored.
// Returns how many bytes were SACKed for the first time: non-zero makes the ACK a
// "duplicate acknowledgment" in the RFC 6675 2 sense.
uint32_t SbUpdate(SackScoreboard& sb, std::span<const SackBlock> blocks, SeqNum una,
                  SeqNum snd_max) noexcept;

// Forgets what the cumulative ACK now covers.
void SbTrim(SackScoreboard& sb, SeqNum una) noexcept;

// True when SACKed data starts at or below `seq` (after SbTrim(una): the peer's
// cumulative ACK stopped at data it had SACKed, which it may have reneged on).
inline bool SbCovers(const SackScoreboard& sb, SeqNum seq) noexcept {
  return sb.count > 0 && sb.range[0].left <= seq;
}

uint32_t SbSackedBytes(const SackScoreboard& sb) noexcept;

// RFC 6675 IsLost(SeqNum): DupThresh discontiguous SACKed ranges above `seq`, or more
// than (DupThresh - 1) * SMSS SACKed bytes above it.
bool SbIsLost(const SackScoreboard& sb, SeqNum seq, uint32_t mss_bytes) noexcept;

// RFC 6675 SetPipe(): bytes presumed in the network. An unSACKed byte counts once
// unless it is lost, and once more if it was retransmitted (below HighRxt).
uint32_t SbPipe(const SackScoreboard& sb, const SackView& v) noexcept;

// RFC 6675 NextSeg() rule (1): the first lost, unSACKed byte at or above HighRxt that is
// below the highest SACKed byte (or below rto_lost_end after a timeout).
bool SbNextLost(const SackScoreboard& sb, const SackView& v, SackSeg& out) noexcept;
// Rule (3): as rule (1) without the IsLost condition (no new data could be sent).
bool SbNextUnsacked(const SackScoreboard& sb, const SackView& v, SackSeg& out) noexcept;
// Rule (4), the rescue retransmission: a segment that ends at the highest unSACKed
// byte, unless that byte was already resent in this episode. The caller allows one per
// recovery episode.
bool SbRescue(const SackScoreboard& sb, const SackView& v, SackSeg& out) noexcept;

}  // namespace baton::dp::tcp
