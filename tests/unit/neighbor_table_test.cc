// ARP resolution, retries, refresh and expiry, through L3Stack (frames on a FakeSink)
// and directly on NeighborTable (eviction, backward-shift deletion). Time is a plain
// now_us value that each test moves by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "dataplane/net/l3_stack.h"
#include "dataplane/net/neighbor_table.h"
#include "tests/packet/fake_sink.h"
#include "tests/packet/frame_builder.h"

namespace baton::dp {
namespace {

using namespace testkit;
using Kind = NeighborTable::ResolveKind;

constexpr MacAddr kOurMac = Mac(0x02, 0, 0, 0, 0, 0x01);
constexpr MacAddr kOurMac2 = Mac(0x02, 0, 0, 0, 1, 0x01);
constexpr MacAddr kPeerMac = Mac(0x02, 0, 0, 0, 0, 0x0a);
constexpr MacAddr kGatewayMac = Mac(0x02, 0, 0, 0, 0, 0xfe);
constexpr MacAddr kBroadcast = Mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
constexpr MacAddr kZeroMac = Mac(0, 0, 0, 0, 0, 0);

constexpr uint32_t kOurIp = Ip4(10, 0, 0, 1);
constexpr uint32_t kPeerIp = Ip4(10, 0, 0, 10);
constexpr uint32_t kGateway = Ip4(10, 0, 0, 254);
constexpr uint32_t kRemoteIp = Ip4(198, 51, 100, 7);
constexpr uint32_t kOurIp2 = Ip4(192, 168, 7, 1);
constexpr uint16_t kVid2 = 20;

constexpr uint64_t kMs = 1000;  // now_us per millisecond
constexpr uint64_t kT0 = 1'000'000;

ArpConfig TestArp() {
  ArpConfig c;
  c.reachable_ms = 30'000;
  c.stale_ms = 300'000;
  c.retry_ms = 1'000;
  c.retries = 3;
  c.pending_packets = 4;
  return c;
}

PortIdentity Port0(uint32_t gateway = kGateway) {
  PortIdentity p;
  p.mac = kOurMac;
  p.ip = kOurIp;
  p.netmask = 0xffffff00u;
  p.gateway = gateway;
  return p;
}

PortIdentity Port1NoGatewayVlan() {
  PortIdentity p;
  p.mac = kOurMac2;
  p.ip = kOurIp2;
  p.netmask = 0xffffff00u;
  p.gateway = 0;
  p.vlan_id = kVid2;
  return p;
}

// The frames we expect the stack to emit, written with the test's own builder.
Bytes BroadcastRequest(uint32_t target) {
  return Pkt().Eth(kOurMac, kBroadcast).Arp(kArpRequest, kOurMac, kOurIp, kZeroMac, target).PadTo(60).Build();
}
Bytes UnicastRefresh(uint32_t target, const MacAddr& mac) {
  return Pkt().Eth(kOurMac, mac).Arp(kArpRequest, kOurMac, kOurIp, mac, target).PadTo(60).Build();
}
Pkt ReplyFrom(const MacAddr& mac, uint32_t ip) {
  return Pkt().Eth(mac, kOurMac).Arp(kArpReply, mac, ip, kOurMac, kOurIp).PadTo(60);
}

class ArpResolution : public ::testing::Test {
 protected:
  explicit ArpResolution(ArpConfig arp = TestArp()) : stack_(arp, counters_) {}

  void SetUp() override { stack_.AddPort(Port0()); }

  NeighborTable::Resolved Route(uint32_t dst, PacketHandle pkt, uint64_t now_us) {
    return stack_.RouteIpv4(0, dst, pkt, now_us, sink_);
  }
  InputResult Feed(const Pkt& pkt, uint64_t now_us) {
    Bytes f = pkt.Build();
    return stack_.Input({f.data(), f.size()}, RxMeta{}, now_us, sink_);
  }
  const NeighborTable& Table() const { return stack_.Neighbors(0); }
  uint64_t Drops(DropReason r) const { return counters_.Dropped(r); }
  uint64_t Count(Counter c) const { return counters_.Counted(c); }
  uint64_t AllDrops() const {
    uint64_t n = 0;
    for (uint64_t d : counters_.drops) n += d;
    return n;
  }

  DpCounters counters_;
  L3Stack stack_;
  FakeSink sink_;
};

// ----- Start() -----

TEST(ArpStart, AnnouncesEachPortAndAsksForTheGateway) {
  DpCounters counters;
  L3Stack stack(TestArp(), counters);
  stack.AddPort(Port0());
  stack.AddPort(Port1NoGatewayVlan());
  FakeSink sink;
  stack.Start(kT0, sink);

  // RFC 5227 2.3: announcement = request with sender IP = target IP = ours, broadcast.
  const Bytes announce0 =
      Pkt().Eth(kOurMac, kBroadcast).Arp(kArpRequest, kOurMac, kOurIp, kZeroMac, kOurIp).PadTo(60).Build();
  const Bytes announce1 = Pkt()
                              .Eth(kOurMac2, kBroadcast)
                              .Vlan(kVid2)
                              .Arp(kArpRequest, kOurMac2, kOurIp2, kZeroMac, kOurIp2)
                              .PadTo(60)
                              .Build();
  ASSERT_EQ(sink.sent.size(), 3u);
  EXPECT_EQ(sink.sent[0].port, 0);
  EXPECT_EQ(sink.sent[0].frame, announce0);
  EXPECT_EQ(sink.sent[1].port, 0);
  EXPECT_EQ(sink.sent[1].frame, BroadcastRequest(kGateway));
  EXPECT_EQ(sink.sent[2].port, 1);
  EXPECT_EQ(sink.sent[2].frame, announce1);
  for (const auto& s : sink.sent) EXPECT_FALSE(s.tx.ip_checksum_offload);
  EXPECT_FALSE(sink.send_port_mismatch);

  EXPECT_EQ(counters.Counted(Counter::kGratuitousArpSent), 2u);
  EXPECT_EQ(counters.Counted(Counter::kArpRequestsSent), 1u);
  EXPECT_EQ(stack.Neighbors(0).Find(kGateway).state, NeighborState::kIncomplete);
  EXPECT_EQ(stack.Neighbors(0).Find(kGateway).pending, 0);
  EXPECT_EQ(stack.Neighbors(1).Size(), 0u);
}

TEST(ArpStart, NoBufferCountsNoMbuf) {
  DpCounters counters;
  L3Stack stack(TestArp(), counters);
  stack.AddPort(Port0());
  FakeSink sink;
  sink.alloc_fails = true;
  stack.Start(kT0, sink);
  EXPECT_TRUE(sink.sent.empty());
  EXPECT_EQ(counters.Dropped(DropReason::kNoMbuf), 2u);  // announcement and gateway request
  EXPECT_EQ(stack.Neighbors(0).Find(kGateway).state, NeighborState::kIncomplete) << "retried later";
}

TEST(ArpStart, SentCountersCountOnlyFramesSent) {
  // With Alloc() failing, Start() on one port with a gateway sends nothing: the *_sent
  // counters stay 0 (the frames are counted as kNoMbuf drops instead).
  DpCounters counters;
  L3Stack stack(TestArp(), counters);
  stack.AddPort(Port0());
  FakeSink sink;
  sink.alloc_fails = true;
  stack.Start(kT0, sink);
  ASSERT_TRUE(sink.sent.empty());
  EXPECT_EQ(counters.Counted(Counter::kGratuitousArpSent), 0u);
  EXPECT_EQ(counters.Counted(Counter::kArpRequestsSent), 0u);
}

// ----- Resolution of an on-link host -----

TEST_F(ArpResolution, OnLinkMissQueuesAndSendsOneRequest) {
  EXPECT_EQ(Route(kPeerIp, 101, kT0).kind, Kind::kQueued);
  EXPECT_EQ(Route(kPeerIp, 102, kT0 + 10).kind, Kind::kQueued);
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].frame, BroadcastRequest(kPeerIp));
  const NeighborTable::View v = Table().Find(kPeerIp);
  EXPECT_EQ(v.state, NeighborState::kIncomplete);
  EXPECT_EQ(v.pending, 2);
  EXPECT_EQ(v.requests_sent, 1);
  EXPECT_EQ(AllDrops(), 0u);
}

TEST_F(ArpResolution, RetriesThenDropsEveryQueuedPacket) {
  for (PacketHandle h = 1; h <= 3; ++h) ASSERT_EQ(Route(kPeerIp, h, kT0).kind, Kind::kQueued);
  ASSERT_EQ(sink_.sent.size(), 1u);

  stack_.Advance(kT0 + 999 * kMs, sink_);
  EXPECT_EQ(sink_.sent.size(), 1u) << "no retry before retry_ms";
  stack_.Advance(kT0 + 1000 * kMs, sink_);
  EXPECT_EQ(sink_.sent.size(), 2u);
  stack_.Advance(kT0 + 1500 * kMs, sink_);
  EXPECT_EQ(sink_.sent.size(), 2u);
  stack_.Advance(kT0 + 2000 * kMs, sink_);
  ASSERT_EQ(sink_.sent.size(), 3u);  // `retries` requests in all
  for (const auto& s : sink_.sent) EXPECT_EQ(s.frame, BroadcastRequest(kPeerIp));
  EXPECT_TRUE(sink_.dropped.empty());

  stack_.Advance(kT0 + 3000 * kMs, sink_);
  EXPECT_EQ(sink_.sent.size(), 3u);
  ASSERT_EQ(sink_.dropped.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sink_.dropped[i].pkt, PacketHandle(i + 1));
    EXPECT_EQ(sink_.dropped[i].port, 0);
  }
  EXPECT_EQ(Drops(DropReason::kArpUnresolved), 3u);
  EXPECT_EQ(AllDrops(), 3u);
  EXPECT_EQ(Count(Counter::kArpRequestsSent), 3u);
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kFailed);
  EXPECT_EQ(Table().Find(kPeerIp).pending, 0);

  stack_.Advance(kT0 + 10'000 * kMs, sink_);
  EXPECT_EQ(sink_.dropped.size(), 3u) << "each packet is dropped once";
  EXPECT_EQ(sink_.sent.size(), 3u) << "a failed entry is not asked for by Advance()";
}

TEST_F(ArpResolution, FailedNextHopIsNotAskedAgainBeforeRetryMs) {
  ASSERT_EQ(Route(kPeerIp, 1, kT0).kind, Kind::kQueued);
  for (uint64_t t = 1; t <= 3; ++t) stack_.Advance(kT0 + t * 1000 * kMs, sink_);
  ASSERT_EQ(Table().Find(kPeerIp).state, NeighborState::kFailed);
  const uint64_t failed_at = kT0 + 3000 * kMs;
  sink_.Clear();

  const NeighborTable::Resolved r = Route(kPeerIp, 2, failed_at + 999 * kMs);
  EXPECT_EQ(r.kind, Kind::kDropped);
  EXPECT_EQ(r.reason, DropReason::kArpUnresolved);
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_TRUE(sink_.dropped.empty()) << "a packet refused by RouteIpv4 stays the caller's";
  EXPECT_EQ(Drops(DropReason::kArpUnresolved), 2u);  // 1 queued + 1 refused

  EXPECT_EQ(Route(kPeerIp, 3, failed_at + 1000 * kMs).kind, Kind::kQueued);
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].frame, BroadcastRequest(kPeerIp));
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kIncomplete);
  EXPECT_EQ(Table().Find(kPeerIp).requests_sent, 1);
}

TEST_F(ArpResolution, ReplyReleasesQueuedPacketsInOrder) {
  for (PacketHandle h : {7, 3, 9}) ASSERT_EQ(Route(kPeerIp, h, kT0).kind, Kind::kQueued);
  const InputResult r = Feed(ReplyFrom(kPeerMac, kPeerIp), kT0 + 5 * kMs);
  EXPECT_EQ(r.verdict, Verdict::kConsumed);
  ASSERT_EQ(sink_.released.size(), 3u);
  const PacketHandle order[] = {7, 3, 9};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sink_.released[i].pkt, order[i]);
    EXPECT_EQ(sink_.released[i].dst, kPeerMac);
    EXPECT_EQ(sink_.released[i].port, 0);
  }
  EXPECT_TRUE(sink_.dropped.empty());
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kReachable);
  EXPECT_EQ(Table().Find(kPeerIp).pending, 0);

  const NeighborTable::Resolved hit = Route(kPeerIp, 10, kT0 + 6 * kMs);
  EXPECT_EQ(hit.kind, Kind::kHit);
  EXPECT_EQ(hit.mac, kPeerMac);
  EXPECT_EQ(sink_.released.size(), 3u) << "a hit is sent by the caller, not released";

  stack_.Advance(kT0 + 10'000 * kMs, sink_);
  EXPECT_TRUE(sink_.dropped.empty());
  EXPECT_EQ(sink_.sent.size(), 1u) << "no retries once resolved";
}

TEST_F(ArpResolution, RequestFromTheNextHopAlsoReleasesQueuedPackets) {
  ASSERT_EQ(Route(kPeerIp, 21, kT0).kind, Kind::kQueued);
  const Pkt request =
      Pkt().Eth(kPeerMac, kBroadcast).Arp(kArpRequest, kPeerMac, kPeerIp, kZeroMac, kOurIp).PadTo(60);
  const InputResult r = Feed(request, kT0 + 1);
  EXPECT_EQ(r.verdict, Verdict::kReply);
  ASSERT_EQ(sink_.released.size(), 1u);
  EXPECT_EQ(sink_.released[0].pkt, 21u);
  EXPECT_EQ(sink_.released[0].dst, kPeerMac);
}

TEST(ArpConfigLimits, PendingPacketsIsCappedAtKMaxPending) {
  ArpConfig arp = TestArp();
  arp.pending_packets = 1000;
  DpCounters counters;
  L3Stack stack(arp, counters);
  stack.AddPort(Port0());
  FakeSink sink;
  for (PacketHandle h = 1; h <= NeighborTable::kMaxPending; ++h)
    ASSERT_EQ(stack.RouteIpv4(0, kPeerIp, h, kT0, sink).kind, Kind::kQueued) << h;
  EXPECT_EQ(stack.RouteIpv4(0, kPeerIp, 999, kT0, sink).reason, DropReason::kArpQueueFull);
  EXPECT_EQ(stack.Neighbors(0).Find(kPeerIp).pending, NeighborTable::kMaxPending);
}

TEST_F(ArpResolution, FullQueueDropsTheNextPacket) {
  for (PacketHandle h = 1; h <= 4; ++h) ASSERT_EQ(Route(kPeerIp, h, kT0).kind, Kind::kQueued);
  const NeighborTable::Resolved r = Route(kPeerIp, 5, kT0);
  EXPECT_EQ(r.kind, Kind::kDropped);
  EXPECT_EQ(r.reason, DropReason::kArpQueueFull);
  EXPECT_EQ(Drops(DropReason::kArpQueueFull), 1u);
  EXPECT_EQ(AllDrops(), 1u);
  EXPECT_EQ(Table().Find(kPeerIp).pending, 4);
  Feed(ReplyFrom(kPeerMac, kPeerIp), kT0 + 1);
  ASSERT_EQ(sink_.released.size(), 4u);
  EXPECT_EQ(sink_.released.back().pkt, 4u);
}

TEST_F(ArpResolution, OffLinkGoesThroughTheGateway) {
  EXPECT_EQ(Route(kRemoteIp, 1, kT0).kind, Kind::kQueued);
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].frame, BroadcastRequest(kGateway));
  EXPECT_EQ(Table().Find(kGateway).pending, 1);
  EXPECT_EQ(Table().Find(kRemoteIp).state, NeighborState::kFree);

  Feed(ReplyFrom(kGatewayMac, kGateway), kT0 + 1);
  ASSERT_EQ(sink_.released.size(), 1u);
  EXPECT_EQ(sink_.released[0].dst, kGatewayMac);
  const NeighborTable::Resolved r = Route(Ip4(203, 0, 113, 9), 2, kT0 + 2);
  EXPECT_EQ(r.kind, Kind::kHit);
  EXPECT_EQ(r.mac, kGatewayMac);
}

TEST(ArpNoGateway, OffLinkWithoutGatewayIsNoNextHop) {
  DpCounters counters;
  L3Stack stack(TestArp(), counters);
  stack.AddPort(Port0(/*gateway=*/0));
  FakeSink sink;
  const NeighborTable::Resolved r = stack.RouteIpv4(0, kRemoteIp, 1, kT0, sink);
  EXPECT_EQ(r.kind, Kind::kDropped);
  EXPECT_EQ(r.reason, DropReason::kNoNextHop);
  EXPECT_EQ(counters.Dropped(DropReason::kNoNextHop), 1u);
  EXPECT_TRUE(sink.sent.empty());
  EXPECT_TRUE(sink.dropped.empty());
  // On-link still works without a gateway.
  EXPECT_EQ(stack.RouteIpv4(0, kPeerIp, 2, kT0, sink).kind, Kind::kQueued);
}

// ----- Reachable, refresh, expiry -----

TEST_F(ArpResolution, PastReachableTimeOneUnicastRefreshPerRetryInterval) {
  stack_.LearnFromPeer(0, kPeerIp, kPeerMac, kT0, sink_);
  const uint64_t reachable_end = kT0 + 30'000 * kMs;

  EXPECT_EQ(Route(kPeerIp, 1, reachable_end).kind, Kind::kHit);
  EXPECT_TRUE(sink_.sent.empty()) << "still within reachable_ms";

  for (uint64_t i = 0; i < 5; ++i)
    EXPECT_EQ(Route(kPeerIp, 2, reachable_end + 1 + i * 100 * kMs).kind, Kind::kHit);
  ASSERT_EQ(sink_.sent.size(), 1u) << "one refresh for a burst of packets";
  EXPECT_EQ(sink_.sent[0].frame, UnicastRefresh(kPeerIp, kPeerMac));

  EXPECT_EQ(Route(kPeerIp, 3, reachable_end + 1000 * kMs).kind, Kind::kHit);
  EXPECT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(Route(kPeerIp, 3, reachable_end + 1 + 1000 * kMs).kind, Kind::kHit);
  ASSERT_EQ(sink_.sent.size(), 2u) << "next refresh one retry interval later";
  EXPECT_EQ(sink_.sent[1].frame, UnicastRefresh(kPeerIp, kPeerMac));
  EXPECT_EQ(Count(Counter::kArpRequestsSent), 2u);

  // The answer to the refresh confirms the entry: no more refreshes for reachable_ms.
  Feed(ReplyFrom(kPeerMac, kPeerIp), reachable_end + 2000 * kMs);
  EXPECT_EQ(Route(kPeerIp, 4, reachable_end + 3000 * kMs).kind, Kind::kHit);
  EXPECT_EQ(sink_.sent.size(), 2u);
}

TEST_F(ArpResolution, NeighbourSilentToEveryRefreshIsDropped) {
  stack_.LearnFromPeer(0, kPeerIp, kPeerMac, kT0, sink_);
  const uint64_t reachable_end = kT0 + 30'000 * kMs;
  // `retries` (3) unicast refreshes, one per retry interval, none answered.
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(Route(kPeerIp, 1, reachable_end + 1 + i * 1000 * kMs).kind, Kind::kHit);
    stack_.Advance(reachable_end + 1 + i * 1000 * kMs, sink_);
  }
  ASSERT_EQ(sink_.sent.size(), 3u);
  for (const auto& f : sink_.sent) EXPECT_EQ(f.frame, UnicastRefresh(kPeerIp, kPeerMac));
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kReachable) << "last refresh still pending";

  stack_.Advance(reachable_end + 1 + 3000 * kMs, sink_);
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kFree) << "long before stale_ms";
  EXPECT_EQ(Count(Counter::kArpEntriesExpired), 1u);
  sink_.Clear();
  EXPECT_EQ(Route(kPeerIp, 2, reachable_end + 3002 * kMs).kind, Kind::kQueued);
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].frame, BroadcastRequest(kPeerIp)) << "then a fresh broadcast resolution";
}

TEST_F(ArpResolution, EntryExpiresAfterStaleMs) {
  stack_.LearnFromPeer(0, kPeerIp, kPeerMac, kT0, sink_);
  stack_.Advance(kT0 + 300'000 * kMs, sink_);
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kReachable);
  EXPECT_EQ(Count(Counter::kArpEntriesExpired), 0u);
  stack_.Advance(kT0 + 300'000 * kMs + 1, sink_);
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kFree);
  EXPECT_EQ(Table().Size(), 0u);
  EXPECT_EQ(Count(Counter::kArpEntriesExpired), 1u);

  // Gone means a fresh resolution.
  EXPECT_EQ(Route(kPeerIp, 1, kT0 + 300'001 * kMs).kind, Kind::kQueued);
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].frame, BroadcastRequest(kPeerIp));
}

TEST_F(ArpResolution, FailedEntryExpiresToo) {
  ASSERT_EQ(Route(kPeerIp, 0, kT0).kind, Kind::kQueued);
  for (uint64_t t = 1; t <= 3; ++t) stack_.Advance(kT0 + t * 1000 * kMs, sink_);
  ASSERT_EQ(Table().Find(kPeerIp).state, NeighborState::kFailed);
  stack_.Advance(kT0 + 400'000 * kMs, sink_);
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kFree);
  EXPECT_EQ(Count(Counter::kArpEntriesExpired), 1u);
}

// ----- Learning -----

TEST_F(ArpResolution, LearnFromPeerCreatesAndUpdates) {
  stack_.LearnFromPeer(0, kPeerIp, kPeerMac, kT0, sink_);
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kReachable);
  EXPECT_EQ(Table().Find(kPeerIp).mac, kPeerMac);
  EXPECT_EQ(Count(Counter::kArpEntriesLearned), 1u);
  const NeighborTable::Resolved r = Route(kPeerIp, 1, kT0 + 1);
  EXPECT_EQ(r.kind, Kind::kHit);
  EXPECT_EQ(r.mac, kPeerMac);

  stack_.LearnFromPeer(0, kPeerIp, kPeerMac, kT0 + 2, sink_);
  EXPECT_EQ(Count(Counter::kArpEntriesLearned), 1u) << "same MAC again is a confirmation";
  stack_.LearnFromPeer(0, kPeerIp, kGatewayMac, kT0 + 3, sink_);
  EXPECT_EQ(Count(Counter::kArpEntriesLearned), 2u);
  EXPECT_EQ(Table().Find(kPeerIp).mac, kGatewayMac);

  stack_.LearnFromPeer(7, kPeerIp, kPeerMac, kT0, sink_);  // no such port: ignored
  EXPECT_TRUE(sink_.sent.empty());
}

TEST_F(ArpResolution, LearnFromPeerReleasesQueuedPackets) {
  ASSERT_EQ(Route(kPeerIp, 11, kT0).kind, Kind::kQueued);
  stack_.LearnFromPeer(0, kPeerIp, kPeerMac, kT0 + 1, sink_);
  ASSERT_EQ(sink_.released.size(), 1u);
  EXPECT_EQ(sink_.released[0].pkt, 11u);
  EXPECT_EQ(sink_.released[0].dst, kPeerMac);
}

TEST_F(ArpResolution, ReplyFromUnknownHostNotForUsCreatesNothing) {
  const InputResult r =
      Feed(Pkt().Eth(kPeerMac, kBroadcast).Arp(kArpReply, kPeerMac, kPeerIp, kGatewayMac, Ip4(10, 0, 0, 3)),
           kT0);
  EXPECT_EQ(r.reason, DropReason::kArpNotForUs);
  EXPECT_EQ(Table().Size(), 0u);
  EXPECT_EQ(Table().Find(kPeerIp).state, NeighborState::kFree);
  EXPECT_EQ(Count(Counter::kArpEntriesLearned), 0u);
}

// ----- NeighborTable directly: capacity, eviction, deletion -----

struct RecordingEvents final : NeighborTable::Events {
  bool SendArpRequest(uint32_t ip, const MacAddr* unicast) override {
    requests.push_back(ip);
    unicast_requests += unicast != nullptr;
    return true;
  }
  void ReleasePending(PacketHandle pkt, const MacAddr&) override { released.push_back(pkt); }
  void DropPending(PacketHandle pkt, DropReason) override { dropped.push_back(pkt); }
  std::vector<uint32_t> requests;
  int unicast_requests = 0;
  std::vector<PacketHandle> released, dropped;
};

MacAddr MacFor(uint32_t ip) {
  return Mac(0x02, 0x42, uint8_t(ip >> 24), uint8_t(ip >> 16), uint8_t(ip >> 8), uint8_t(ip));
}

constexpr uint32_t kMax = NeighborTable::kMaxEntries;

TEST(NeighborTableCapacity, FullTableEvictsTheLeastRecentlyConfirmed) {
  DpCounters counters;
  auto table = std::make_unique<NeighborTable>(TestArp(), counters);
  RecordingEvents ev;
  constexpr uint32_t kExtra = 100;
  const uint32_t base = Ip4(10, 1, 0, 0);
  for (uint32_t i = 0; i < kMax + kExtra; ++i) {
    table->Learn(base + i, MacFor(base + i), /*create=*/true, kT0 + i, ev);
    ASSERT_LE(table->Size(), kMax);
  }
  EXPECT_EQ(table->Size(), kMax);
  EXPECT_EQ(counters.Counted(Counter::kArpEntriesEvicted), kExtra);
  EXPECT_EQ(counters.Counted(Counter::kArpEntriesLearned), kMax + kExtra);
  for (uint32_t i = 0; i < kMax + kExtra; ++i) {
    const NeighborTable::View v = table->Find(base + i);
    if (i < kExtra) {
      EXPECT_EQ(v.state, NeighborState::kFree) << "oldest should be evicted: " << i;
    } else {
      EXPECT_EQ(v.state, NeighborState::kReachable) << i;
      EXPECT_EQ(v.mac, MacFor(base + i)) << i;
    }
  }
  // Refreshing an old survivor protects it: the next eviction takes the next oldest.
  table->Learn(base + kExtra, MacFor(base + kExtra), false, kT0 + 10'000, ev);
  table->Learn(Ip4(10, 2, 0, 1), MacFor(Ip4(10, 2, 0, 1)), true, kT0 + 10'001, ev);
  EXPECT_EQ(table->Find(base + kExtra).state, NeighborState::kReachable);
  EXPECT_EQ(table->Find(base + kExtra + 1).state, NeighborState::kFree);
  EXPECT_EQ(table->Find(Ip4(10, 2, 0, 1)).state, NeighborState::kReachable);
  EXPECT_EQ(table->Size(), kMax);
}

TEST(NeighborTableCapacity, EntriesWithWaitingPacketsAreNeverEvicted) {
  DpCounters counters;
  auto table = std::make_unique<NeighborTable>(TestArp(), counters);
  RecordingEvents ev;
  const uint32_t base = Ip4(10, 3, 0, 0);
  for (uint32_t i = 0; i < kMax; ++i)
    ASSERT_EQ(table->Resolve(base + i, PacketHandle(i + 1), kT0 + i, ev).kind, Kind::kQueued);
  EXPECT_EQ(ev.requests.size(), kMax);

  // Every entry holds a packet: nothing can make room.
  const NeighborTable::Resolved r = table->Resolve(Ip4(10, 4, 0, 1), 5000, kT0 + kMax, ev);
  EXPECT_EQ(r.kind, Kind::kDropped);
  EXPECT_EQ(r.reason, DropReason::kArpQueueFull);
  table->Learn(Ip4(10, 4, 0, 2), MacFor(1), /*create=*/true, kT0 + kMax, ev);
  EXPECT_EQ(table->Find(Ip4(10, 4, 0, 2)).state, NeighborState::kFree);
  EXPECT_EQ(table->Size(), kMax);
  EXPECT_TRUE(ev.dropped.empty());

  // Once one resolves and its packet leaves, that one is the only candidate.
  const uint32_t resolved_ip = base + 500;
  table->Learn(resolved_ip, MacFor(resolved_ip), false, kT0 + kMax + 1, ev);
  ASSERT_EQ(ev.released.size(), 1u);
  EXPECT_EQ(ev.released[0], 501u);
  EXPECT_EQ(table->Resolve(Ip4(10, 4, 0, 1), 5001, kT0 + kMax + 2, ev).kind, Kind::kQueued);
  EXPECT_EQ(table->Find(resolved_ip).state, NeighborState::kFree);
  for (uint32_t i = 0; i < kMax; ++i) {
    if (base + i == resolved_ip) continue;
    ASSERT_EQ(table->Find(base + i).pending, 1) << i;
  }
  EXPECT_EQ(counters.Counted(Counter::kArpEntriesEvicted), 1u);
}

// Many inserts, refreshes and expiries against a std::map model. With up to ~700 live
// entries in 1024 slots, probe chains are long and every expiry exercises the
// backward-shift deletion, including runs that wrap past the last slot.
TEST(NeighborTableModel, RandomLearnAndExpireMatchesAMap) {
  constexpr uint32_t kPool = 700;  // below kMaxEntries, so no eviction: the model stays exact
  const ArpConfig arp = TestArp();
  const uint64_t stale_us = uint64_t(arp.stale_ms) * kMs;

  for (uint32_t seed : {1u, 2u, 3u, 20240601u}) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    DpCounters counters;
    auto table = std::make_unique<NeighborTable>(arp, counters);
    RecordingEvents ev;
    struct Want {
      MacAddr mac;
      uint64_t confirmed_us;
    };
    std::map<uint32_t, Want> model;
    std::vector<uint32_t> pool(kPool);
    // Random addresses spread over the whole space, so homes hit every slot.
    for (uint32_t& ip : pool) ip = Ip4(10, 0, 0, 0) | (rng() & 0x00ffffffu) | 1u;
    uint64_t now = kT0;
    uint64_t expired = 0;
    size_t max_live = 0;

    for (int step = 0; step < 20'000; ++step) {
      // 0..0.4 s a step: about 500 live entries, and a pool address is relearned every
      // ~230 s on average, so many gaps exceed stale_ms (300 s) and entries expire.
      now += (rng() % 400) * kMs;
      const uint32_t ip = pool[rng() % kPool];
      const uint32_t op = rng() % 10;
      if (op < 6) {
        const MacAddr mac = MacFor(ip ^ (rng() % 2));
        table->Learn(ip, mac, /*create=*/true, now, ev);
        model[ip] = {mac, now};
      } else if (op < 8) {
        // Update-only learning must not create.
        const MacAddr mac = MacFor(ip);
        table->Learn(ip, mac, /*create=*/false, now, ev);
        if (auto it = model.find(ip); it != model.end()) it->second = {mac, now};
      } else {
        table->Advance(now, ev);
        for (auto it = model.begin(); it != model.end();) {
          if (now - it->second.confirmed_us > stale_us) {
            it = model.erase(it);
            ++expired;
          } else {
            ++it;
          }
        }
      }

      max_live = std::max(max_live, model.size());
      if (step % 97 == 0 || op >= 8) {
        ASSERT_EQ(table->Size(), model.size()) << "step " << step;
        for (uint32_t p : pool) {
          const NeighborTable::View v = table->Find(p);
          const auto it = model.find(p);
          if (it == model.end()) {
            ASSERT_EQ(v.state, NeighborState::kFree) << "step " << step << " ip " << p;
          } else {
            ASSERT_EQ(v.state, NeighborState::kReachable) << "step " << step << " ip " << p;
            ASSERT_EQ(v.mac, it->second.mac) << "step " << step << " ip " << p;
          }
        }
      }
    }
    EXPECT_EQ(counters.Counted(Counter::kArpEntriesExpired), expired);
    EXPECT_GT(expired, 1000u) << "the walk should expire plenty of entries";
    EXPECT_GT(max_live, 400u) << "the walk should load the table well past half";
    EXPECT_TRUE(ev.requests.empty());
  }
}

}  // namespace
}  // namespace baton::dp
