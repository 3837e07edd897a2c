// Test harness: endpoints with their buffers, and a simulated link with a seeded PRNG
// and a simulated clock. Heap use is fine here (tests only).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tcp/connection.h"
#include "dataplane/tcp/segment.h"

namespace baton::dp::tcp::test {

// One endpoint: the record, its storage, and the segments it emitted.
struct Peer final : SegmentSink {
  TcpConnection conn;
  std::vector<uint8_t> snd_buf;
  std::vector<uint8_t> rcv_buf;
  std::vector<std::vector<uint8_t>> out;

  Peer(const TcpConfig& cfg, uint16_t local, uint16_t remote, uint32_t snd_cap,
       uint32_t rcv_cap)
      : snd_buf(snd_cap), rcv_buf(rcv_cap) {
    TcpEndpoint::Init(conn, cfg, local, remote, snd_cap, rcv_cap, 0);
  }
  TcpEndpoint Ep() { return TcpEndpoint(conn, snd_buf, rcv_buf); }
  void Emit(std::span<const uint8_t> seg) noexcept override { out.emplace_back(seg.begin(), seg.end()); }

  // Runs Output and returns the parsed segments it produced.
  std::vector<Segment> Flush(uint64_t now_us) {
    out.clear();
    Ep().Output(now_us, *this);
    std::vector<Segment> segs;
    for (const auto& b : out) {
      Segment s;
      EXPECT_EQ(ParseSegment(b, s), ParseStatus::kOk);
      segs.push_back(s);
    }
    return segs;
  }
};

// A segment built in memory for crafted tests.
inline Segment Seg(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window = 65535,
                   std::span<const uint8_t> payload = {}) {
  Segment s;
  s.hdr.src_port = 40000;
  s.hdr.dst_port = 443;
  s.hdr.flags = flags;
  s.hdr.seq = SeqNum(seq);
  s.hdr.ack = SeqNum(ack);
  s.hdr.window = window;
  s.payload = payload;
  return s;
}

struct LinkParams {
  double drop = 0.0;
  double duplicate = 0.0;
  uint64_t delay_us = 5'000;
  uint64_t jitter_us = 0;  // uniform extra delay: reorders segments
};

// Two endpoints joined by a lossy link; time advances to the next event.
class Sim {
 public:
  Sim(uint64_t seed, LinkParams lp) : rng_(seed), lp_(lp) {}

  // Optional filter: return false to drop a specific segment (deterministic tests).
  std::function<bool(int from, const Segment&)> keep;

  uint64_t now_us = 0;
  bool trace = std::getenv("TCP_TRACE") != nullptr;  // debugging aid: one line per segment

  void Transmit(int from, Peer& p) {
    p.out.clear();
    p.Ep().Output(now_us, p);
    for (auto& bytes : p.out) {
      Segment s;
      if (ParseSegment(bytes, s) != ParseStatus::kOk) {
        ADD_FAILURE() << "endpoint emitted an unparsable segment";
        continue;
      }
      ++sent_;
      if (keep && !keep(from, s)) continue;
      if (Chance(lp_.drop)) continue;
      const int copies = Chance(lp_.duplicate) ? 2 : 1;
      for (int i = 0; i < copies; ++i) {
        const uint64_t jitter = lp_.jitter_us ? rng_() % lp_.jitter_us : 0;
        inflight_.push_back({now_us + lp_.delay_us + jitter, 1 - from, bytes});
      }
    }
  }

  uint64_t NextDelivery() const {
    uint64_t t = UINT64_MAX;
    for (const auto& f : inflight_) t = std::min(t, f.at_us);
    return t;
  }

  // Delivers every segment due by now_us to peers[to]; returns how many.
  int Deliver(Peer* peers[2]) {
    int n = 0;
    for (size_t i = 0; i < inflight_.size();) {
      if (inflight_[i].at_us > now_us) {
        ++i;
        continue;
      }
      const InFlight f = std::move(inflight_[i]);
      inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(i));
      Segment s;
      if (ParseSegment(f.bytes, s) != ParseStatus::kOk) ADD_FAILURE();
      const InputResult r = peers[f.to]->Ep().Input(s, now_us);
      if (trace) {
        std::fprintf(stderr, "%10llu %d->%d f=%02x seq=%u ack=%u len=%zu wnd=%u ts=%u/%u -> %s [%s] rto=%u srtt=%u\n",
                     static_cast<unsigned long long>(now_us), 1 - f.to, f.to, s.hdr.flags,
                     s.hdr.seq.raw, s.hdr.ack.raw, s.payload.size(), s.hdr.window,
                     s.opts.ts_val, s.opts.ts_ecr, kTcpDropText[TcpIdx(r.drop)].data(),
                     kTcpStateText[TcpIdx(peers[f.to]->conn.state)].data(),
                     peers[f.to]->conn.rtt.rto_us, peers[f.to]->conn.rtt.srtt_us);
      }
      ++n;
    }
    return n;
  }

  uint64_t sent() const { return sent_; }
  std::mt19937_64& rng() { return rng_; }

 private:
  struct InFlight {
    uint64_t at_us;
    int to;
    std::vector<uint8_t> bytes;
  };
  bool Chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::mt19937_64 rng_;
  LinkParams lp_;
  std::deque<InFlight> inflight_;
  uint64_t sent_ = 0;
};

}  // namespace baton::dp::tcp::test
