// libFuzzer target: one Ethernet frame into L3Stack::Input on a two-port stack, then
// the neighbour table is driven with RouteIpv4 and Advance. Checks the InputResult
// contract and the drop accounting, that every queued packet comes back exactly once
// when all time has passed, and that the neighbour tables are empty by then.
//
// Input layout (tests/fuzz/gen_corpus.py writes seeds in it):
//   [0]      control: bits 0-1 port (3: a port that does not exist), bits 2-3 RX IPv4
//            checksum state, bit 4 sink out of buffers, bit 5 Start() first,
//            bit 6 LearnFromPeer(route dst, frame source MAC), bit 7 queue a packet
//   [1..4]   now_us (big-endian)
//   [5..8]   destination for RouteIpv4 (host order, big-endian)
//   [9..10]  Advance step in units of 10 ms
//   [11]     control: bits 0-1 RX TCP checksum state, bit 2 send a kTcp segment back
//            with SendTcp
//   [12..]   the frame
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "dataplane/net/bytes.h"
#include "dataplane/net/counters.h"
#include "dataplane/net/l3_stack.h"
#include "tests/packet/fake_sink.h"

namespace {

using namespace baton::dp;

constexpr size_t kPrefixLen = 12;
constexpr uint32_t kVip = 0xc6120b64;  // 198.18.11.100, a local address of port 0
constexpr uint16_t kVlan = 10;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "l3_input_fuzz: invariant violated: %s\n", what);
  std::abort();
}

IpChecksumState ChecksumState(uint8_t bits) {
  switch (bits & 0x03) {
    case 1: return IpChecksumState::kGood;
    case 2: return IpChecksumState::kBad;
    default: return IpChecksumState::kUnknown;
  }
}

uint64_t TotalDrops(const DpCounters& c) {
  uint64_t n = 0;
  for (const uint64_t d : c.drops) n += d;
  return n;
}

// RFC 1071, independent of dataplane/net/checksum.cc.
uint16_t Sum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += (i % 2 == 0) ? uint32_t(p[i]) << 8 : p[i];
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}

void CheckReply(const L3Stack& stack, uint16_t port, const InputResult& r, const uint8_t* f,
                size_t frame_size) {
  if (r.reason != DropReason::kNone) Fail("kReply with a drop reason");
  if (r.tx_len > frame_size) Fail("kReply tx_len beyond the frame");
  const PortIdentity& id = stack.Port(port);
  const size_t l2 = EthernetHeaderLen(id.vlan_id);
  if (r.tx_len < l2) Fail("kReply shorter than its Ethernet header");
  if (MacAddr::Load(f + 6) != id.mac) Fail("kReply not sent from the port's MAC");
  const uint16_t ether_type = LoadBe16(f + l2 - 2);
  if (ether_type != 0x0800) return;
  if (r.tx_len < l2 + 20) Fail("IPv4 reply shorter than an IPv4 header");
  const uint8_t* ip = f + l2;
  const size_t ihl = size_t(ip[0] & 0x0f) * 4;
  const size_t total = LoadBe16(ip + 2);
  if (l2 + total != r.tx_len) Fail("IPv4 reply tx_len != l2 + total length");
  if (ihl < 20 || total < ihl + 8) Fail("IPv4 reply with a bad header or ICMP length");
  if (r.tx.l2_len != l2 || r.tx.l3_len != ihl) Fail("TxMeta lengths do not match the reply");
  if (r.tx.ip_checksum_offload != id.tx_ip_checksum_offload) Fail("offload flag not the port's");
  if (!r.tx.ip_checksum_offload && Sum(ip, ihl) != 0xffff) Fail("reply IPv4 checksum wrong");
  if (Sum(ip + ihl, total - ihl) != 0xffff) Fail("reply ICMP checksum wrong");
}

// One stack for the whole run: a NeighborTable is ~0.5 MiB, and allocating two per
// input made ASan's mmap the whole cost (~250 execs/s). Each input ends by letting all
// time pass (Drain), which must empty both tables; an empty table is indistinguishable
// from a new one, so inputs stay independent. (ip_id_ carries over; nothing checks it.)
struct Fixture {
  Fixture() : stack(Arp(), counters) {
    PortIdentity untagged;
    untagged.mac = MacAddr{{0x02, 0, 0, 0, 0, 0x01}};
    untagged.ip = 0xc6120b0b;  // 198.18.11.11/24 via .1
    untagged.netmask = 0xffffff00;
    untagged.gateway = 0xc6120b01;
    stack.AddPort(untagged);
    PortIdentity tagged;
    tagged.mac = MacAddr{{0x02, 0, 0, 0, 0, 0x02}};
    tagged.ip = 0xc6120c0b;  // 198.18.12.11/31, no gateway
    tagged.netmask = 0xfffffffe;
    tagged.mtu_bytes = 9000;
    tagged.vlan_id = kVlan;
    tagged.tx_ip_checksum_offload = true;
    stack.AddPort(tagged);
    stack.AddLocalAddress(0, kVip);
  }
  static ArpConfig Arp() {
    ArpConfig arp;
    arp.pending_packets = 2;  // small, so the queue-full path is reachable
    return arp;
  }
  DpCounters counters;
  L3Stack stack;
};

Fixture& TheFixture() {
  static Fixture* f = new Fixture;  // never destroyed: no exit-time order questions
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kPrefixLen) return 0;
  const uint8_t ctl = data[0], ctl2 = data[11];
  const uint64_t now_us = LoadBe32(data + 1);
  const uint32_t route_dst = LoadBe32(data + 5);
  const uint64_t step_us = uint64_t(LoadBe16(data + 9)) * 10'000;
  std::vector<uint8_t> frame(data + kPrefixLen, data + size);  // exact size: ASan sees overreads

  Fixture& fx = TheFixture();
  L3Stack& stack = fx.stack;
  DpCounters& counters = fx.counters;
  baton::dp::testkit::FakeSink sink;
  sink.alloc_fails = (ctl & 0x10) != 0;
  if (ctl & 0x20) stack.Start(now_us, sink);

  const uint16_t port_bits = ctl & 0x03;
  const uint16_t rx_port = port_bits == 3 ? 2 : port_bits & 1;
  const uint16_t port = rx_port & 1;  // RouteIpv4 requires an existing port
  RxMeta meta;
  meta.port = rx_port;
  meta.ip_checksum = ChecksumState(ctl >> 2);
  meta.l4_checksum = ChecksumState(ctl2);

  const auto before = counters.drops;
  const uint64_t drops_before = TotalDrops(counters);
  const InputResult r = stack.Input({frame.data(), frame.size()}, meta, now_us, sink);
  const uint64_t moved = TotalDrops(counters) - drops_before;
  switch (r.verdict) {
    case Verdict::kDrop:
      if (r.reason == DropReason::kNone || Idx(r.reason) >= Idx(DropReason::kCount))
        Fail("kDrop without a reason");
      if (moved != 1 || counters.drops[Idx(r.reason)] != before[Idx(r.reason)] + 1)
        Fail("kDrop did not move exactly its own drop counter by one");
      break;
    case Verdict::kReply:
      if (moved != 0) Fail("kReply moved a drop counter");
      CheckReply(stack, rx_port, r, frame.data(), frame.size());
      break;
    case Verdict::kConsumed:
      if (moved != 0) Fail("kConsumed moved a drop counter");
      if (r.reason != DropReason::kNone) Fail("kConsumed with a drop reason");
      break;
    case Verdict::kTcp:
      if (moved != 0) Fail("kTcp moved a drop counter");
      if (r.reason != DropReason::kNone) Fail("kTcp with a drop reason");
      if (r.tcp.l4_len < 20 || size_t(r.tcp.l4_offset) + r.tcp.l4_len > frame.size())
        Fail("kTcp view outside the frame or shorter than a TCP header");
      if (r.tcp.l4_offset < EthernetHeaderLen(stack.Port(rx_port).vlan_id) + 20)
        Fail("kTcp view overlaps the Ethernet/IPv4 headers");
      if (ctl2 & 0x04) {
        // Echo the segment back, as the TCP layer would answer: exercises SendTcp and
        // the ARP queue with frames the sink owns.
        const ByteView seg(frame.data() + r.tcp.l4_offset, r.tcp.l4_len);
        (void)stack.SendTcp(rx_port, r.tcp.dst_ip, r.tcp.src_ip, seg, now_us, sink);
      }
      break;
    default:
      Fail("unknown verdict");
  }

  // The neighbour table: learn, queue, time out, expire. Handles are unique and nonzero.
  if ((ctl & 0x40) && frame.size() >= 12)
    stack.LearnFromPeer(port, route_dst, MacAddr::Load(frame.data() + 6), now_us, sink);
  std::set<PacketHandle> queued;
  PacketHandle next_handle = 1;
  uint64_t t = now_us;
  for (int round = 0; round < 6; ++round) {
    const PacketHandle pkt = (ctl & 0x80) ? next_handle++ : 0;
    const uint32_t dst = route_dst + uint32_t(round & 1);  // two next hops when on-link
    const uint64_t drops_route = TotalDrops(counters);
    const NeighborTable::Resolved res = stack.RouteIpv4(port, dst, pkt, t, sink);
    const uint64_t route_moved = TotalDrops(counters) - drops_route;
    if (res.kind == NeighborTable::ResolveKind::kDropped) {
      if (res.reason == DropReason::kNone) Fail("RouteIpv4 dropped without a reason");
      // A dropped route counts one drop, plus kNoMbuf if a request could not be built.
      if (route_moved < 1) Fail("RouteIpv4 drop not counted");
    } else if (res.kind == NeighborTable::ResolveKind::kQueued && pkt != 0) {
      queued.insert(pkt);
    }
    t += step_us;
    stack.Advance(t, sink);
  }

  // Let all time pass: retries run out, failures and stale entries expire. Afterwards
  // both tables are empty and every queued packet has come back exactly once.
  constexpr uint64_t kFarUs = uint64_t(1) << 62, kFarStepUs = uint64_t(1) << 40;
  for (uint64_t i = 0; i < Fixture::Arp().retries + 4u; ++i)
    stack.Advance(kFarUs + i * kFarStepUs, sink);
  for (uint16_t p = 0; p < stack.PortCount(); ++p)
    if (stack.Neighbors(p).Size() != 0) Fail("neighbour table not empty after all entries expired");

  std::set<PacketHandle> returned;
  // Frames the sink allocated (SendTcp) have their own handles, still held by the sink.
  const auto ours = [&](PacketHandle h) { return queued.count(h) || !sink.FrameOf(h).empty(); };
  for (const auto& rel : sink.released) {
    if (!ours(rel.pkt)) Fail("released a packet that was never queued");
    if (!returned.insert(rel.pkt).second) Fail("packet came back twice");
  }
  for (const auto& d : sink.dropped) {
    if (!ours(d.pkt)) Fail("dropped a packet that was never queued");
    if (!returned.insert(d.pkt).second) Fail("packet came back twice");
  }
  for (const PacketHandle h : queued)
    if (!returned.count(h)) Fail("a queued packet never came back");
  if (sink.bad_handle) Fail("Send() of a handle the sink never gave out");
  if (sink.send_port_mismatch) Fail("Send() on another port than Alloc()");
  for (const auto& s : sink.sent) {
    if (s.frame.size() < 60) Fail("sent a runt frame");
    if (s.port >= stack.PortCount()) Fail("sent on a port that does not exist");
  }
  return 0;
}
