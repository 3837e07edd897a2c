#include "dataplane/tcp/sack.h"

#include <algorithm>

namespace baton::dp::tcp {
namespace {

uint32_t Width(const SackRange& r) noexcept { return SeqDiff(r.right, r.left); }

SeqNum HighestSacked(const SackScoreboard& sb, const SackView& v) noexcept {
  return sb.count > 0 ? sb.range[sb.count - 1].right : v.high_ack;
}

// Calls fn(start, end, lost_end) for each non-empty hole [start, end) between
// HighACK and HighData, lowest first, until fn returns true. [start, lost_end) is the
// part presumed lost. No SACKed byte lies inside a hole, so IsLost() gives the same
// answer for every byte of it and is evaluated once per hole.
template <typename Fn>
void ForEachHole(const SackScoreboard& sb, const SackView& v, Fn&& fn) noexcept {
  uint32_t bytes_above = SbSackedBytes(sb);
  SeqNum start = v.high_ack;
  for (uint8_t k = 0; k <= sb.count; ++k) {
    const SeqNum end = k < sb.count ? sb.range[k].left : v.high_data;
    if (start < end) {
      const uint32_t ranges_above = static_cast<uint32_t>(sb.count - k);
      const bool lost =
          ranges_above >= kDupThresh || bytes_above > (kDupThresh - 1) * v.mss_bytes;
      const SeqNum lost_end = lost ? end : SeqMin(end, SeqMax(start, v.rto_lost_end));
      if (fn(start, end, lost_end)) return;
    }
    if (k < sb.count) {
      bytes_above -= Width(sb.range[k]);
      start = SeqMax(start, sb.range[k].right);
    }
  }
}

}  // namespace

uint32_t SbSackedBytes(const SackScoreboard& sb) noexcept {
  uint32_t n = 0;
  for (uint8_t i = 0; i < sb.count; ++i) n += Width(sb.range[i]);
  return n;
}

uint32_t SbUpdate(SackScoreboard& sb, std::span<const SackBlock> blocks, SeqNum una,
                  SeqNum snd_max) noexcept {
  const uint32_t before = SbSackedBytes(sb);
  for (const SackBlock& b : blocks) {
    // RFC 2883: a first block at or below the cumulative ACK reports a duplicate.
    if (!(b.left < b.right) || b.right <= una || b.right > snd_max) continue;
    SackRange n{SeqMax(b.left, una), b.right};
    SackRange merged[kScoreboardRanges + 1];
    size_t m = 0;
    bool placed = false;
    for (uint8_t i = 0; i < sb.count; ++i) {
      const SackRange& r = sb.range[i];
      if (r.right < n.left) {
        merged[m++] = r;
      } else if (n.right < r.left) {
        if (!placed) merged[m++] = n;
        placed = true;
        merged[m++] = r;
      } else {  // overlapping or touching: absorb into the new range
        n = {SeqMin(n.left, r.left), SeqMax(n.right, r.right)};
      }
    }
    if (!placed) merged[m++] = n;
    // Full: forget the highest range (see kScoreboardRanges).
    m = std::min(m, kScoreboardRanges);
    std::copy(merged, merged + m, sb.range);
    sb.count = static_cast<uint8_t>(m);
  }
  const uint32_t after = SbSackedBytes(sb);
  return after > before ? after - before : 0;
}

void SbTrim(SackScoreboard& sb, SeqNum una) noexcept {
  uint8_t drop = 0;
  while (drop < sb.count && sb.range[drop].right <= una) ++drop;
  std::copy(sb.range + drop, sb.range + sb.count, sb.range);
  sb.count = static_cast<uint8_t>(sb.count - drop);
  if (sb.count > 0 && sb.range[0].left < una) sb.range[0].left = una;
}

bool SbIsLost(const SackScoreboard& sb, SeqNum seq, uint32_t mss_bytes) noexcept {
  uint32_t ranges = 0, bytes = 0;
  for (uint8_t i = sb.count; i-- > 0;) {
    const SackRange& r = sb.range[i];
    if (r.right <= seq + 1) break;
    ++ranges;
    bytes += SeqDiff(r.right, SeqMax(r.left, seq + 1));
  }
  return ranges >= kDupThresh || bytes > (kDupThresh - 1) * mss_bytes;
}

uint32_t SbPipe(const SackScoreboard& sb, const SackView& v) noexcept {
  uint32_t pipe = 0;
  ForEachHole(sb, v, [&](SeqNum start, SeqNum end, SeqNum lost_end) {
    pipe += SeqDiff(end, lost_end);  // (a) not lost: still in the network
    if (v.high_rxt > start) pipe += SeqDiff(SeqMin(end, v.high_rxt), start);  // (b)
    return false;
  });
  return pipe;
}

bool SbNextLost(const SackScoreboard& sb, const SackView& v, SackSeg& out) noexcept {
  // (1.b): below the highest SACKed byte; after a timeout, below rto_lost_end too.
  const SeqNum limit = SeqMax(HighestSacked(sb, v), v.rto_lost_end);
  bool found = false;
  ForEachHole(sb, v, [&](SeqNum start, SeqNum, SeqNum lost_end) {
    const SeqNum s = SeqMax(start, v.high_rxt);       // (1.a)
    const SeqNum e = SeqMin(lost_end, limit);         // (1.c), (1.b)
    if (s < e) {
      out = {s, std::min(v.mss_bytes, SeqDiff(e, s))};
      found = true;
    }
    return found;
  });
  return found;
}

bool SbNextUnsacked(const SackScoreboard& sb, const SackView& v, SackSeg& out) noexcept {
  const SeqNum limit = HighestSacked(sb, v);
  bool found = false;
  ForEachHole(sb, v, [&](SeqNum start, SeqNum end, SeqNum) {
    const SeqNum s = SeqMax(start, v.high_rxt);
    const SeqNum e = SeqMin(end, limit);
    if (s < e) {
      out = {s, std::min(v.mss_bytes, SeqDiff(e, s))};
      found = true;
    }
    return found;
  });
  return found;
}

bool SbRescue(const SackScoreboard& sb, const SackView& v, SackSeg& out) noexcept {
  bool found = false;
  ForEachHole(sb, v, [&](SeqNum start, SeqNum end, SeqNum) {
    const uint32_t len = std::min(v.mss_bytes, SeqDiff(end, start));
    out = {end - len, len};  // keep the last hole seen: the highest one
    found = true;
    return false;
  });
  // Already resent in this episode (at or below HighRxt): a rescue would only repeat it.
  return found && out.seq + out.len > v.high_rxt;
}

}  // namespace baton::dp::tcp
