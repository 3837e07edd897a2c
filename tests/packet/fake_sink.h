// A FrameSink that records what the L3 stack sends, releases and drops, so tests can
// check frames and queued-packet handles after the fact.
#pragma once

#include <cstdint>
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

  MutByteView Alloc(uint16_t port, uint16_t len) override {
    ++allocs;
    if (alloc_fails) return {};
    buf_.assign(size_t(len) + alloc_slack, 0xee);  // not zero: the stack must clear it
    buf_port_ = port;
    return {buf_.data(), buf_.size()};
  }
  void Send(uint16_t port, uint16_t len, const TxMeta& tx) override {
    sent.push_back({port, std::vector<uint8_t>(buf_.begin(), buf_.begin() + len), tx});
    send_port_mismatch |= port != buf_port_;
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
  bool send_port_mismatch = false;

 private:
  std::vector<uint8_t> buf_;
  uint16_t buf_port_ = 0;
};

}  // namespace baton::dp::testkit
