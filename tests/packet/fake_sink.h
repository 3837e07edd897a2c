// A FrameSink that records what the L3 stack sends, releases and drops, so tests can
// check frames and queued-packet handles after the fact.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "dataplane/net/l3_stack.h"

namespace baton::dp::testkit {

class FakeSink final : public FrameSink {
 public:
  struct Sent {
    uint16_t port;
    std::vector<uint8_t> frame;
    TxMeta tx;
  };
  struct Released {
    uint16_t port;
    PacketHandle pkt;
    MacAddr dst;
  };
  struct Dropped {
    uint16_t port;
    PacketHandle pkt;
  };

  // Make Alloc() fail, as an empty mempool would.
  bool alloc_fails = false;
  // Alloc() hands out this many bytes more than asked, like a real mbuf; the stack must
  // send only what it asked for.
  uint16_t alloc_slack = 64;

  Buffer Alloc(uint16_t port, uint16_t len, const TxMeta& tx) override {
    ++allocs;
    if (alloc_fails) return {};
    const PacketHandle h = next_handle_++;
    Pending& p = frames_[h];
    // Not zero: the stack must write every byte it sends. The slack after `len` stands
    // for the rest of an mbuf, which the stack must not touch.
    p.bytes.assign(size_t(len) + alloc_slack, 0xee);
    p.port = port;
    p.len = len;
    p.tx = tx;
    return {{p.bytes.data(), len}, h};
  }
  void Send(uint16_t port, PacketHandle frame) override {
    auto it = frames_.find(frame);
    if (it == frames_.end()) {
      bad_handle = true;
      return;
    }
    Pending& p = it->second;
    sent.push_back({port, std::vector<uint8_t>(p.bytes.begin(), p.bytes.begin() + p.len), p.tx});
    send_port_mismatch |= port != p.port;
    frames_.erase(it);
  }
  void Discard(PacketHandle frame) override {
    ++discarded;
    frames_.erase(frame);
  }
  // The frame behind a handle the stack queued (for tests that follow a queued frame).
  std::vector<uint8_t> FrameOf(PacketHandle frame) const {
    auto it = frames_.find(frame);
    if (it == frames_.end()) return {};
    return {it->second.bytes.begin(), it->second.bytes.begin() + it->second.len};
  }
  void ReleasePending(uint16_t port, PacketHandle pkt, const MacAddr& dst) override {
    released.push_back({port, pkt, dst});
  }
  void DropPending(uint16_t port, PacketHandle pkt) override { dropped.push_back({port, pkt}); }

  void Clear() {
    sent.clear();
    released.clear();
    dropped.clear();
  }

  std::vector<Sent> sent;
  std::vector<Released> released;
  std::vector<Dropped> dropped;
  int allocs = 0;
  int discarded = 0;
  bool send_port_mismatch = false;
  bool bad_handle = false;

 private:
  struct Pending {
    std::vector<uint8_t> bytes;
    uint16_t port = 0;
    uint16_t len = 0;
    TxMeta tx;
  };
  // Handles start high so they never collide with the small numbers tests queue
  // through RouteIpv4() themselves.
  PacketHandle next_handle_ = 0x10000;
  std::map<PacketHandle, Pending> frames_;
};

}  // namespace baton::dp::testkit
