// ProxyBed: ProxyEngines (workers 0..N-1, one by default) sharing one SessionSpace,
// behind one L3Stack with a front and a back port, in memory, on a fake microsecond
// clock. With several workers, each frame arrives on the queue its 4-tuple hashes to;
// the worker serving that queue routes it and hands it to the session's owner, as the
// worker loop does. Halt() stops a worker (its frames wait), TakeOver() lets another
// adopt its sessions and queue, Rebalance() moves sessions between workers. The peers are our own TcpEndpoints:
// clients at 198.18.1.x behind the router 198.18.2.1, backends at 198.18.3.101-103.
//
// Every frame the engine sends is checked the way a switch and a host would check it
// (Ethernet addresses, IPv4 header and checksum, TCP checksum over the pseudo-header),
// with this file's own checksum code, never the code under test's. Peers' segments are
// framed here (checksums filled in here) and go through L3Stack::Input like wire frames;
// Verdict::kTcp goes to ProxyEngine::Input, and every burst ends with Flush().
//
// Links: each direction of the front and back link delays frames (optionally with
// jitter, which reorders) and may lose TCP frames, from a seeded PRNG. ARP requests of
// the engine are answered by the harness (the router and each backend answer for
// themselves), or the bed pre-learns the neighbours with LearnFromPeer().
//
// Heap use and std::function are fine here: tests only.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/api/config.h"
#include "dataplane/net/counters.h"
#include "dataplane/net/l3_stack.h"
#include "crypto/tls/acceptor.h"
#include "dataplane/proxy/engine.h"
#include "dataplane/proxy/session_space.h"
#include "dataplane/tcp/connection.h"
#include "dataplane/tcp/isn.h"
#include "dataplane/tcp/segment.h"
#include "tests/packet/fake_sink.h"
#include "tests/packet/frame_builder.h"

namespace baton::dp::proxytest {

using testkit::Ip4;
using testkit::Mac;

inline constexpr uint16_t kFront = 0;
inline constexpr uint16_t kBack = 1;

inline constexpr uint32_t kFrontIp = Ip4(198, 18, 2, 11);
inline constexpr uint32_t kRouterIp = Ip4(198, 18, 2, 1);
inline constexpr uint32_t kSnatIp = Ip4(198, 18, 3, 11);
inline constexpr uint32_t kVip = Ip4(198, 18, 100, 10);
inline constexpr uint32_t kNetmask24 = 0xffffff00u;
inline constexpr uint16_t kPortRoundRobin = 80;
inline constexpr uint16_t kPortProxyV2 = 81;
inline constexpr uint16_t kPortLeastConn = 82;
inline constexpr uint16_t kBackendPort = 80;
inline constexpr int kBackends = 3;
inline constexpr std::array<uint32_t, kBackends> kBackendIps = {Ip4(198, 18, 3, 101), Ip4(198, 18, 3, 102),
                                                                Ip4(198, 18, 3, 103)};
inline constexpr uint16_t kSnatMin = 20000;
inline constexpr uint16_t kSnatMax = 20999;

inline constexpr MacAddr kFrontMac = Mac(0x02, 0, 0, 0, 2, 11);
inline constexpr MacAddr kBackMac = Mac(0x02, 0, 0, 0, 3, 11);
inline constexpr MacAddr kRouterMac = Mac(0x02, 0, 0, 0, 2, 1);
inline constexpr MacAddr BackendMac(int i) { return Mac(0x02, 0, 0, 0, 3, uint8_t(101 + i)); }

inline constexpr uint64_t kMs = 1000;
inline constexpr uint64_t kSec = 1'000'000;
inline constexpr uint32_t kKiB = 1024;

// Deterministic content of stream `stream` at offset `i`: a shifted or truncated copy
// never matches by accident.
inline uint8_t Pattern(uint64_t stream, uint64_t i) {
  return uint8_t((i * 131 + stream * 71 + 7) ^ (i >> 8) ^ (i >> 16) ^ (stream >> 3));
}
inline std::vector<uint8_t> PatternBytes(uint64_t stream, size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = Pattern(stream, i);
  return b;
}

// ---- The harness's own IPv4/TCP arithmetic (RFC 1071 via testkit::InternetChecksum) --

inline uint16_t Be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// The TCP checksum over the IPv4 pseudo-header (RFC 9293 3.1) and `seg` as it is.
// Over a segment whose checksum field is right, the result is 0.
inline uint16_t TcpChecksum(uint32_t src, uint32_t dst, std::span<const uint8_t> seg) {
  std::vector<uint8_t> b;
  b.reserve(12 + seg.size());
  for (uint32_t ip : {src, dst})
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(ip >> s));
  b.push_back(0);
  b.push_back(testkit::kProtoTcp);
  b.push_back(uint8_t(seg.size() >> 8));
  b.push_back(uint8_t(seg.size()));
  b.insert(b.end(), seg.begin(), seg.end());
  return testkit::InternetChecksum(b.data(), b.size());
}

// An Ethernet + IPv4 + TCP frame for a segment whose checksum field is still zero.
inline std::vector<uint8_t> TcpFrame(const MacAddr& src_mac, const MacAddr& dst_mac, uint32_t src_ip,
                                     uint32_t dst_ip, std::span<const uint8_t> segment, uint16_t ip_id) {
  std::vector<uint8_t> seg(segment.begin(), segment.end());
  seg[16] = seg[17] = 0;
  const uint16_t c = TcpChecksum(src_ip, dst_ip, seg);
  seg[16] = uint8_t(c >> 8);
  seg[17] = uint8_t(c);
  return testkit::Pkt().Eth(src_mac, dst_mac).Ipv4(src_ip, dst_ip).Df().Id(ip_id).L4Raw(testkit::kProtoTcp, seg).Build();
}

// A bare TCP header (no options) for crafted segments.
inline std::vector<uint8_t> RawSegment(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
                                       std::span<const uint8_t> payload = {}) {
  tcp::TcpHeader h;
  h.src_port = sport;
  h.dst_port = dport;
  h.flags = flags;
  h.seq = tcp::SeqNum(seq);
  h.ack = tcp::SeqNum(ack);
  h.window = 8192;
  std::vector<uint8_t> out(tcp::kTcpMaxHeaderLen + payload.size());
  size_t n = 0;
  EXPECT_EQ(tcp::BuildSegment(h, tcp::TcpOptions{}, payload, {}, out, n), tcp::BuildStatus::kOk);
  out.resize(n);
  return out;
}

// ---- Peers ---------------------------------------------------------------------------

// One TCP endpoint of a peer host, with its storage and a small application.
struct Conn {
  std::string name;
  tcp::TcpConnection rec;
  std::vector<uint8_t> snd_buf, rcv_buf;
  uint16_t link = kFront;
  MacAddr mac;  // source MAC of its frames (the router's for clients)
  uint32_t local_ip = 0, remote_ip = 0;
  uint16_t local_port = 0, remote_port = 0;
  int backend = -1;  // which backend host, for backend connections

  // The application: sends `out` (as fast as the send ring takes it), closes after it
  // when asked, reads everything into `in` while `reading`.
  std::vector<uint8_t> out;
  size_t queued = 0;
  bool close_after_send = false;
  bool close_called = false;
  std::vector<uint8_t> in;
  bool reading = true;
  bool deaf = false;  // drops every frame addressed to it (a SYN flooder, say)
  std::function<void(Conn&)> app;  // runs every pass, after reading and before sending

  uint16_t events_seen = 0;  // OR of every tcp::kEv* the endpoint reported
  tcp::TcpState state_at_reset = tcp::TcpState::kClosed;  // the state a reset hit
  uint64_t frames_in = 0, frames_out = 0;

  Conn(std::string n, const tcp::TcpConfig& cfg, uint16_t lport, uint16_t rport, uint32_t snd, uint32_t rcv)
      : name(std::move(n)), snd_buf(snd), rcv_buf(rcv), local_port(lport), remote_port(rport) {
    tcp::TcpEndpoint::Init(rec, cfg, lport, rport, snd, rcv, 0);
  }
  tcp::TcpEndpoint Ep() { return tcp::TcpEndpoint(rec, snd_buf, rcv_buf); }
  tcp::TcpState State() const { return rec.state; }
  bool Established() const { return rec.state == tcp::TcpState::kEstablished; }
  // The handshake completed at some point (the state may have moved on since).
  bool Connected() const { return (events_seen & tcp::kEvConnected) != 0; }
  bool Finished() const { return rec.state == tcp::TcpState::kClosed || rec.state == tcp::TcpState::kTimeWait; }
  bool Reset() const { return (events_seen & tcp::kEvReset) != 0; }
  bool PeerFin() const { return (events_seen & tcp::kEvPeerFin) != 0; }
  // Bytes the peer acknowledged: queued minus what still waits in the send ring.
  size_t Acked() const { return queued - rec.snd_ring.size_bytes; }
  void SendAndClose(std::vector<uint8_t> bytes) {
    out = std::move(bytes);
    queued = 0;
    close_after_send = true;
  }
};

enum class BackendMode : uint8_t { kUp, kRefuse, kBlackHole };

struct BackendHost {
  uint32_t ip = 0;
  MacAddr mac;
  BackendMode mode = BackendMode::kUp;
  bool answers_arp = true;
  int syns = 0;                    // SYNs that reached it (any mode)
  int refused = 0;                 // answered with RST
  int swallowed = 0;               // frames the black hole ate
  std::vector<Conn*> conns;        // accepted connections, in order
};

// A segment that reached a host but no connection of it.
struct Orphan {
  uint16_t link;
  uint32_t src_ip, dst_ip;
  uint16_t src_port, dst_port;
  uint8_t flags;
  uint32_t seq, ack;
  size_t payload_bytes;
};

struct LinkParams {
  double loss = 0;          // probability a TCP frame is lost (ARP never is)
  uint64_t delay_us = 100;  // one way
  uint64_t jitter_us = 0;   // extra uniform delay: reorders frames
};

inline TcpSettings SmallTcp() {
  TcpSettings t;
  t.max_sessions = 64;
  t.buffer_bytes = 16 * kKiB;
  t.syn_backlog = 4;
  t.connect_timeout_ms = 500;
  t.connect_attempts = 3;
  t.idle_timeout_ms = 120'000;
  t.snat_port_min = kSnatMin;
  t.snat_port_max = kSnatMax;
  return t;
}

// Peers: ordinary hosts, with a shorter TIME-WAIT so tests end sooner.
inline tcp::TcpConfig PeerTcp() {
  tcp::TcpConfig c;
  c.msl_us = 500'000;
  return c;
}

struct BedOptions {
  TcpSettings tcp = SmallTcp();
  LinkParams front, back;
  uint64_t seed = 1;
  bool prelearn_neighbors = false;  // LearnFromPeer() instead of answering ARP
  tcp::TcpConfig client_tcp = PeerTcp();
  tcp::TcpConfig backend_tcp = PeerTcp();
  uint32_t client_snd_bytes = 64 * kKiB, client_rcv_bytes = 64 * kKiB;
  uint32_t backend_snd_bytes = 64 * kKiB, backend_rcv_bytes = 64 * kKiB;
  uint64_t tick_us = 1000;  // the engine's timers are polled at least this often
  // Changes the bed's config before the engine starts (e.g. adds a TLS listener, whose
  // certificate files the bed then loads as the data plane does).
  std::function<void(ConfigSnapshot&)> edit_config;
  uint16_t workers = 1;
};

inline ConfigSnapshot BedConfig(const TcpSettings& tcp) {
  ConfigSnapshot c;
  c.tcp = tcp;
  PortConfig front;
  front.name = "front";
  front.roles = kRoleFront;
  front.address = {IpAddr::V4(kFrontIp), 24};
  front.gateway = IpAddr::V4(kRouterIp);
  PortConfig back;
  back.name = "back";
  back.roles = kRoleBack;
  back.address = {IpAddr::V4(kSnatIp), 24};
  c.ports = {front, back};
  PoolConfig rr;
  rr.name = "web";
  rr.algorithm = BalanceAlgorithm::kRoundRobin;
  for (uint32_t ip : kBackendIps) rr.backends.push_back({IpAddr::V4(ip), kBackendPort, 1});
  PoolConfig lc = rr;
  lc.name = "web-lc";
  lc.algorithm = BalanceAlgorithm::kLeastConnections;
  c.pools = {rr, lc};
  ListenerConfig l80{"http", IpAddr::V4(kVip), kPortRoundRobin, ListenerMode::kTcp, 0, false};
  ListenerConfig l81{"http-pp", IpAddr::V4(kVip), kPortProxyV2, ListenerMode::kTcp, 0, true};
  ListenerConfig l82{"http-lc", IpAddr::V4(kVip), kPortLeastConn, ListenerMode::kTcp, 1, false};
  c.listeners = {l80, l81, l82};
  return c;
}

class ProxyBed {
 public:
  explicit ProxyBed(BedOptions o = {})
      : opts_(std::move(o)), config_(BedConfig(opts_.tcp)), l3_(config_.arp, counters_), rng_(opts_.seed) {
    tick_us = opts_.tick_us;
    l3_.AddPort(PortIdentity::FromConfig(config_.ports[kFront], kFrontMac, false));
    l3_.AddPort(PortIdentity::FromConfig(config_.ports[kBack], kBackMac, false));
    l3_.AddLocalAddress(kFront, kVip);
    if (opts_.edit_config) opts_.edit_config(config_);
    tls_ = TlsListeners::Load(config_, tls_errors);
    static int beds = 0;  // DPDK object names must be unique while they live
    SessionSpaceConfig sc;
    sc.name = "bed" + std::to_string(beds++);
    sc.capacity = config_.tcp.max_sessions * opts_.workers;
    sc.buffer_bytes = config_.tcp.buffer_bytes;
    sc.tls_slot_bytes = sizeof(crypto::tls::TlsAcceptor);
    std::string err;
    space_ = SessionSpace::Create(sc, err);
    if (!space_) {
      std::fprintf(stderr, "ProxyBed: %s\n", err.c_str());
      std::abort();
    }
    for (uint16_t w = 0; w < opts_.workers; ++w) {
      engines_.push_back(std::make_unique<ProxyEngine>(config_, kFront, kBack, w, opts_.workers, l3_, counters_,
                                                       tcp::IsnKey{0x0123456789abcdefull, 0xfedcba9876543210ull},
                                                       *space_, &tls_));
      queue_owner_.push_back(w);
    }
    halted_.assign(opts_.workers, false);
    parked_.resize(opts_.workers);
    for (int i = 0; i < kBackends; ++i) {
      backends_[size_t(i)].ip = kBackendIps[size_t(i)];
      backends_[size_t(i)].mac = BackendMac(i);
    }
    if (opts_.prelearn_neighbors) {
      l3_.LearnFromPeer(kFront, kRouterIp, kRouterMac, now_us, sink_);
      for (const BackendHost& b : backends_) l3_.LearnFromPeer(kBack, b.ip, b.mac, now_us, sink_);
    }
    l3_.Start(now_us, sink_);
    CollectEngineOutput();
  }

  // ---- Peers ----

  // A client at 198.18.1.(10 + n % 200), port 40000 + n, connecting to VIP:`vip_port`.
  Conn& Connect(uint16_t vip_port, uint32_t vip = kVip) {
    const uint32_t n = uint32_t(clients_.size());
    const uint32_t ip = Ip4(198, 18, 1, uint8_t(10 + n % 200));
    const uint16_t port = uint16_t(40000 + n);
    auto c = std::make_unique<Conn>("client" + std::to_string(n), opts_.client_tcp, port, vip_port,
                                    opts_.client_snd_bytes, opts_.client_rcv_bytes);
    c->link = kFront;
    c->mac = kRouterMac;
    c->local_ip = ip;
    c->remote_ip = vip;
    c->Ep().Connect(tcp::SeqNum(uint32_t(rng_())), now_us);
    Conn& ref = *c;
    client_by_addr_[Key(ip, port)] = &ref;
    clients_.push_back(std::move(c));
    return ref;
  }

  BackendHost& Backend(int i) { return backends_[size_t(i)]; }
  std::vector<Conn*> BackendConns() {
    std::vector<Conn*> all;
    for (auto& c : backend_conns_) all.push_back(c.get());
    return all;
  }
  Conn* LastBackendConn() { return backend_conns_.empty() ? nullptr : backend_conns_.back().get(); }
  const std::vector<std::unique_ptr<Conn>>& Clients() const { return clients_; }

  // Runs each new backend connection through this before its first segment.
  std::function<void(Conn&)> on_backend_accept;
  // Return false to lose a frame (after the link's own loss), for deterministic cases.
  std::function<bool(bool to_engine, uint16_t link, std::span<const uint8_t> frame)> keep;

  // ---- Crafted segments ----

  // A TCP frame from a host on `link` straight onto the wire toward the engine.
  void Inject(uint16_t link, uint32_t src_ip, uint32_t dst_ip, std::span<const uint8_t> segment) {
    const MacAddr src_mac = link == kFront ? kRouterMac : MacOfBackend(src_ip);
    Enqueue(true, link, TcpFrame(src_mac, link == kFront ? kFrontMac : kBackMac, src_ip, dst_ip, segment, ip_id_++));
  }

  // ---- Running ----

  bool Step() {
    ++steps;
    DeliverToEngine();
    for (uint16_t w = 0; w < Workers(); ++w)
      if (!halted_[w]) engines_[w]->Advance(now_us, sink_);
    EndPass();
    if (now_us >= next_l3_advance_us_) {
      l3_.Advance(now_us, sink_);
      next_l3_advance_us_ = now_us + 10 * kMs;
    }
    CollectEngineOutput();
    DeliverToHosts();
    PumpPeers();
    uint64_t next = now_us + tick_us;
    for (const WireQueue& q : wire_)
      if (!q.empty()) next = std::min(next, q.top().at_us);
    for (Conn* c : AllConns())
      if (c->State() != tcp::TcpState::kClosed) next = std::min(next, c->Ep().NextDeadline());
    now_us = std::max(now_us + 1, next);
    return true;
  }

  // Steps until `done` holds; false when the step or simulated-time budget runs out.
  bool RunUntil(const std::function<bool()>& done, uint64_t max_us = 60 * kSec, uint64_t max_steps = 2'000'000) {
    const uint64_t end_us = now_us + max_us;
    for (uint64_t n = 0; n < max_steps && now_us <= end_us; ++n) {
      if (done()) return true;
      Step();
    }
    return done();
  }
  void RunFor(uint64_t us) {
    const uint64_t end_us = now_us + us;
    while (now_us < end_us) Step();
  }

  // Every session over, every peer connection closed or in TIME-WAIT, nothing on the wire.
  bool Quiet() {
    for (uint16_t w = 0; w < Workers(); ++w)  // a halted worker's counts are frozen
      if ((!halted_[w] && engines_[w]->ActiveSessions() != 0) || !parked_[w].empty()) return false;
    if (!wire_[0].empty() || !wire_[1].empty()) return false;
    for (Conn* c : AllConns())
      if (!c->Finished()) return false;
    return true;
  }

  // ---- Live reload ----

  // What dataplane.cc does for `baton ctl reload` (edit != null) or `reload-certs`
  // (edit == null): a new config generation with its certificates loaded (TLS listeners
  // that keep their name keep their ticket keys), then ProxyEngine::Reconfigure between
  // bursts. Every generation stays alive as long as the bed. Returns the TLS errors; on
  // any, nothing changes.
  std::vector<std::string> Reload(const std::function<void(ConfigSnapshot&)>& edit) {
    auto next = std::make_unique<ConfigSnapshot>(*live_config_);
    if (edit) edit(*next);
    std::vector<std::string> errors;
    auto tls = std::make_unique<TlsListeners>(TlsListeners::Reload(*next, *live_config_, *live_tls_, errors));
    if (!errors.empty()) return errors;
    Switch(std::move(next), std::move(tls));
    return {};
  }
  // `baton ctl rotate-ticket-keys`.
  void RotateTicketKeys() {
    auto next = std::make_unique<ConfigSnapshot>(*live_config_);
    std::vector<std::string> errors;
    auto tls = std::make_unique<TlsListeners>(TlsListeners::RotateTicketKeys(*next, *live_tls_, errors));
    EXPECT_TRUE(errors.empty());
    Switch(std::move(next), std::move(tls));
  }
  const TlsListeners& LiveTls() const { return *live_tls_; }

  // ---- Observation ----

  ProxyEngine& Engine(uint16_t w = 0) { return *engines_[w]; }
  uint16_t Workers() const { return uint16_t(engines_.size()); }
  SessionSpace& Space() { return *space_; }

  // ---- Several workers ----

  // Worker `w` stops between two bursts, as a stuck core would: it runs nothing, and
  // frames for its queue or its sessions wait.
  void Halt(uint16_t w) { halted_[w] = true; }
  // What a worker does when it declares `dead` stalled (Worker::TakeOver): fences it,
  // serves its queue, and adopts its sessions (the whole scan at once here; without
  // `scan`, each session moves at the first packet that meets it). Returns how many
  // sessions the scan adopted.
  uint32_t TakeOver(uint16_t dead, uint16_t by, bool scan = true) {
    if (!space_->beats().Fence(dead)) return 0;
    space_->store().ForgetCore(dead);
    for (uint16_t& q : queue_owner_)
      if (q == dead) q = by;
    state::ScanCursor cursor;
    uint32_t n = 0;
    while (scan && cursor.next < space_->capacity()) n += engines_[by]->AdoptFrom(dead, cursor, 4096, now_us);
    for (Wire& w : parked_[dead]) {  // its inbox: served by `by` from now on
      w.at_us = now_us;
      w.order = order_++;
      wire_[1].push(std::move(w));
    }
    parked_[dead].clear();
    engines_[by]->Flush(now_us, sink_);
    EndPass();
    CollectEngineOutput();
    return n;
  }
  // `baton ctl rebalance`: worker `from` hands `share` of its sessions to `to` at a
  // pass boundary, `to` accepts them from its inbox. Returns how many moved.
  uint32_t Rebalance(uint16_t from, uint16_t to, double share) {
    state::ScanCursor cursor;
    std::vector<uint32_t> moved(space_->capacity());
    uint32_t n = 0;
    while (cursor.next < space_->capacity())
      n += engines_[from]->HandOffShare(to, share, cursor, 4096, std::span(moved).subspan(n));
    for (uint32_t i = 0; i < n; ++i) EXPECT_TRUE(engines_[to]->AcceptHandOff(moved[i], now_us));
    engines_[to]->Flush(now_us, sink_);
    EndPass();
    CollectEngineOutput();
    return n;
  }
  uint32_t ActiveSessions() const {
    uint32_t n = 0;
    for (uint16_t w = 0; w < engines_.size(); ++w)
      if (!halted_[w]) n += engines_[w]->ActiveSessions();
    return n;
  }
  L3Stack& L3() { return l3_; }
  uint64_t Counted(Counter c) const { return counters_.Counted(c); }
  uint64_t Dropped(DropReason r) const { return counters_.Dropped(r); }
  uint64_t TcpDropped(tcp::TcpDrop d) const {
    uint64_t n = 0;
    for (const auto& e : engines_) n += e->TcpDrops()[tcp::TcpIdx(d)];
    return n;
  }
  const DpCounters& Counters() const { return counters_; }
  uint32_t PoolActive(int pool, int backend) const {
    uint32_t n = 0;
    for (uint16_t w = 0; w < engines_.size(); ++w)
      if (!halted_[w]) n += engines_[w]->Pools()[size_t(pool)].Counters()[size_t(backend)].active_sessions;
    return n;
  }
  uint32_t PoolActiveTotal() const {
    uint32_t n = 0;
    for (uint16_t w = 0; w < engines_.size(); ++w) {
      if (halted_[w]) continue;  // its counts are frozen; the adopter counts its sessions
      for (const lb::Pool& p : engines_[w]->Pools())
        for (const lb::BackendCounters& c : p.Counters()) n += c.active_sessions;
    }
    return n;
  }
  // Drop counters other than the ones listed, as "reason=count" text (empty: none).
  std::string UnexpectedDrops(std::initializer_list<DropReason> allowed = {}) const {
    std::string s;
    for (size_t i = 1; i < size_t(DropReason::kCount); ++i) {
      if (counters_.drops[i] == 0) continue;
      if (std::find(allowed.begin(), allowed.end(), DropReason(i)) != allowed.end()) continue;
      s += std::string(kDropKey[i]) + "=" + std::to_string(counters_.drops[i]) + " ";
    }
    return s;
  }
  std::string UnexpectedTcpDrops(std::initializer_list<tcp::TcpDrop> allowed = {}) const {
    std::string s;
    for (size_t i = 1; i < size_t(tcp::TcpDrop::kCount); ++i) {
      const uint64_t n = TcpDropped(tcp::TcpDrop(i));
      if (n == 0) continue;
      if (std::find(allowed.begin(), allowed.end(), tcp::TcpDrop(i)) != allowed.end()) continue;
      s += std::string(tcp::kTcpDropText[i]) + "=" + std::to_string(n) + "; ";
    }
    return s;
  }

  uint64_t now_us = 0;
  uint64_t steps = 0;
  uint64_t tick_us = 1000;  // from BedOptions; may be raised for long idle stretches
  std::vector<Orphan> orphans;          // segments that reached no peer connection
  std::array<int, 2> arp_requests{};    // engine ARP requests seen per link (not announcements)
  std::array<int, 2> arp_answered{};
  int bad_frames = 0;                   // frames that failed the checks below
  std::vector<std::string> tls_errors;   // certificate problems of the edited config
  uint64_t oversize_peer_segments = 0;  // peers' TCP segments longer than the MTU allows
  uint64_t frames_lost = 0;
  uint64_t frames_to_engine = 0, frames_from_engine = 0;
  uint64_t steered = 0;  // frames the receiving worker handed to the session's owner
  bool trace = std::getenv("PROXY_TRACE") != nullptr;

 private:
  struct Wire {
    uint64_t at_us;
    uint64_t order;
    uint16_t link;
    std::vector<uint8_t> frame;
    bool operator>(const Wire& o) const { return at_us != o.at_us ? at_us > o.at_us : order > o.order; }
  };

  static uint64_t Key(uint32_t ip, uint16_t port) { return uint64_t(ip) << 16 | port; }
  MacAddr MacOfBackend(uint32_t ip) const {
    for (const BackendHost& b : backends_)
      if (b.ip == ip) return b.mac;
    return Mac(0x02, 0, 0, 0, 3, 0xee);
  }

  std::vector<Conn*> AllConns() {
    std::vector<Conn*> all;
    all.reserve(clients_.size() + backend_conns_.size());
    for (auto& c : clients_) all.push_back(c.get());
    for (auto& c : backend_conns_) all.push_back(c.get());
    return all;
  }

  void Enqueue(bool to_engine, uint16_t link, std::vector<uint8_t> frame) {
    const LinkParams& lp = link == kFront ? opts_.front : opts_.back;
    const bool is_tcp = frame.size() > 23 && Be16(&frame[12]) == testkit::kEtherIpv4 && frame[23] == testkit::kProtoTcp;
    if (is_tcp && lp.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < lp.loss) {
      ++frames_lost;
      return;
    }
    if (keep && !keep(to_engine, link, frame)) {
      ++frames_lost;
      return;
    }
    const uint64_t jitter = lp.jitter_us ? rng_() % lp.jitter_us : 0;
    wire_[to_engine].push({now_us + lp.delay_us + jitter, order_++, link, std::move(frame)});
  }

  // Pops the next frame due by now from one direction (moving it out of the heap: the
  // ordering fields stay intact, so pop() is still well defined).
  bool PopDue(bool to_engine, Wire& w) {
    WireQueue& q = wire_[to_engine];
    if (q.empty() || q.top().at_us > now_us) return false;
    w = std::move(const_cast<Wire&>(q.top()));
    q.pop();
    return true;
  }

  // One burst: every frame due now goes through L3 and the engine, then Flush().
  void DeliverToEngine() {
    bool any = false;
    for (Wire w; PopDue(true, w);) {
      any = true;
      ++frames_to_engine;
      const InputResult r = l3_.Input(w.frame, RxMeta{w.link, IpChecksumState::kUnknown, IpChecksumState::kUnknown},
                                      now_us, sink_);
      if (r.verdict == Verdict::kTcp) {
        const ByteView seg(w.frame.data() + r.tcp.l4_offset, r.tcp.l4_len);
        if (trace) TraceToEngine(w.link, r.tcp, seg);
        // RSS: the queue by the 4-tuple; its worker routes, the owner runs it.
        const uint32_t hash = seg.size() < 4 ? 0 : FlowHash({r.tcp.src_ip, r.tcp.dst_ip, LoadBe16(&seg[0]),
                                                             LoadBe16(&seg[2])});
        uint16_t worker = queue_owner_[hash % Workers()];
        FlowRoute route;
        for (int hop = 0; hop < 4 && !halted_[worker]; ++hop) {
          const SegmentRef ref{w.link, r.tcp, seg};
          engines_[worker]->Route({&ref, 1}, {&route, 1}, now_us);
          if (route.owner == worker) break;
          worker = route.owner;
          ++steered;
        }
        if (halted_[worker]) {
          parked_[worker].push_back(std::move(w));  // waits in its queue or inbox
          continue;
        }
        engines_[worker]->Input(w.link, r.tcp, seg, route.idx, now_us, sink_);
      } else if (r.verdict == Verdict::kReply) {
        w.frame.resize(r.tx_len);
        Enqueue(false, w.link, std::move(w.frame));
      }
    }
    if (!any) return;
    for (uint16_t w = 0; w < Workers(); ++w)
      if (!halted_[w]) engines_[w]->Flush(now_us, sink_);
  }

  // The pass boundary of every running worker.
  void EndPass() {
    for (uint16_t w = 0; w < Workers(); ++w)
      if (!halted_[w]) engines_[w]->EndPass();
  }

  void TraceToEngine(uint16_t link, const TcpView& v, ByteView bytes) const {
    tcp::Segment seg;
    if (tcp::ParseSegment(bytes, seg) != tcp::ParseStatus::kOk) return;
    std::fprintf(stderr, "%10llu => engine %s %u.%u:%u -> :%u f=%02x seq=%u ack=%u len=%zu wnd=%u\n",
                 static_cast<unsigned long long>(now_us), link == kFront ? "front" : "back", (v.src_ip >> 8) & 0xff,
                 v.src_ip & 0xff, seg.hdr.src_port, seg.hdr.dst_port, seg.hdr.flags, seg.hdr.seq.raw, seg.hdr.ack.raw,
                 seg.payload.size(), seg.hdr.window);
  }

  void CollectEngineOutput() {
    for (testkit::FakeSink::Sent& s : sink_.sent) {
      ++frames_from_engine;
      Enqueue(false, s.port, std::move(s.frame));
    }
    sink_.sent.clear();
    for (const testkit::FakeSink::Released& r : sink_.released) {
      std::vector<uint8_t> f = sink_.FrameOf(r.pkt);
      if (f.size() < 14) {
        ADD_FAILURE() << "released frame unknown to the sink";
        continue;
      }
      r.dst.Store(f.data());
      ++frames_from_engine;
      Enqueue(false, r.port, std::move(f));
    }
    sink_.released.clear();
    sink_.dropped.clear();
    EXPECT_FALSE(sink_.bad_handle);
    EXPECT_FALSE(sink_.send_port_mismatch);
  }

  void DeliverToHosts() {
    for (Wire w; PopDue(false, w);) HostReceive(w.link, w.frame);
  }

  void Bad(const std::string& why, uint16_t link) {
    ++bad_frames;
    ADD_FAILURE() << "engine frame on link " << link << ": " << why;
  }

  void HostReceive(uint16_t link, const std::vector<uint8_t>& f) {
    const MacAddr port_mac = link == kFront ? kFrontMac : kBackMac;
    if (f.size() < 14) return Bad("runt", link);
    const MacAddr dst = MacAddr::Load(f.data()), src = MacAddr::Load(f.data() + 6);
    if (src != port_mac) return Bad("source MAC is not the port's", link);
    const uint16_t type = Be16(&f[12]);
    if (type == testkit::kEtherArp) return HostArp(link, f);
    if (type != testkit::kEtherIpv4) return Bad("unexpected EtherType", link);
    // IPv4, RFC 791: what a host would check before handing the datagram to TCP.
    if (f.size() < 34) return Bad("short IPv4", link);
    const uint8_t* ip = f.data() + 14;
    if (ip[0] != 0x45) return Bad("IPv4 version/IHL", link);
    const uint16_t total = Be16(ip + 2);
    if (total < 40 || size_t(14) + total != f.size()) return Bad("IPv4 total length vs frame", link);
    if (testkit::InternetChecksum(ip, 20) != 0) return Bad("IPv4 header checksum", link);
    if (ip[8] == 0) return Bad("TTL 0", link);
    if ((Be16(ip + 6) & 0x3fff) != 0) return Bad("fragment", link);
    if (ip[9] != testkit::kProtoTcp) return Bad("not TCP", link);
    const uint32_t sip = Be32(ip + 12), dip = Be32(ip + 16);
    const std::span<const uint8_t> seg_bytes(ip + 20, total - 20u);
    if (TcpChecksum(sip, dip, seg_bytes) != 0) return Bad("TCP checksum", link);
    tcp::Segment seg;
    if (tcp::ParseSegment(seg_bytes, seg) != tcp::ParseStatus::kOk) return Bad("TCP parse", link);

    if (link == kFront) {
      if (dst != kRouterMac) return Bad("front frame not to the router's MAC", link);
      auto it = client_by_addr_.find(Key(dip, seg.hdr.dst_port));
      Conn* c = it == client_by_addr_.end() ? nullptr : it->second;
      if (c == nullptr || c->remote_ip != sip || c->remote_port != seg.hdr.src_port)
        return AddOrphan(link, sip, dip, seg);
      return PeerInput(*c, seg);
    }
    BackendHost* b = nullptr;
    for (BackendHost& h : backends_)
      if (h.ip == dip) b = &h;
    if (b == nullptr) return AddOrphan(link, sip, dip, seg);
    if (dst != b->mac) return Bad("back frame not to the backend's MAC", link);
    if (b->mode == BackendMode::kBlackHole) {
      if (seg.Has(tcp::kFlagSyn)) ++b->syns;
      ++b->swallowed;
      return;
    }
    const int bi = int(b - backends_.data());
    auto it = backend_by_flow_.find(FlowKeyOf(bi, sip, seg.hdr.src_port));
    Conn* c = it == backend_by_flow_.end() ? nullptr : it->second;
    const bool bare_syn = (seg.hdr.flags & (tcp::kFlagSyn | tcp::kFlagAck | tcp::kFlagRst)) == tcp::kFlagSyn;
    if (bare_syn && (c == nullptr || c->State() == tcp::TcpState::kClosed)) {
      ++b->syns;
      if (b->mode == BackendMode::kRefuse) {
        ++b->refused;
        return HostReset(link, *b, sip, dip, seg);
      }
      c = Accept(bi, sip, seg.hdr.src_port);
    }
    if (c == nullptr) {
      AddOrphan(link, sip, dip, seg);
      return HostReset(link, *b, sip, dip, seg);  // what any host does (RFC 9293 3.10.7.1)
    }
    PeerInput(*c, seg);
  }

  static uint64_t FlowKeyOf(int backend, uint32_t ip, uint16_t port) {
    return uint64_t(backend) << 48 | uint64_t(ip) << 16 | port;
  }

  Conn* Accept(int bi, uint32_t remote_ip, uint16_t remote_port) {
    BackendHost& b = backends_[size_t(bi)];
    auto c = std::make_unique<Conn>("backend" + std::to_string(bi) + ":" + std::to_string(remote_port),
                                    opts_.backend_tcp, kBackendPort, remote_port, opts_.backend_snd_bytes,
                                    opts_.backend_rcv_bytes);
    c->link = kBack;
    c->mac = b.mac;
    c->local_ip = b.ip;
    c->remote_ip = remote_ip;
    c->backend = bi;
    c->Ep().Listen(tcp::SeqNum(uint32_t(rng_())));
    if (on_backend_accept) on_backend_accept(*c);
    Conn* raw = c.get();
    backend_by_flow_[FlowKeyOf(bi, remote_ip, remote_port)] = raw;
    b.conns.push_back(raw);
    backend_conns_.push_back(std::move(c));
    return raw;
  }

  void HostReset(uint16_t link, const BackendHost& b, uint32_t sip, uint32_t dip, const tcp::Segment& seg) {
    std::array<uint8_t, tcp::kTcpMaxHeaderLen> rst;
    const size_t n = tcp::BuildResetFor(seg, rst);
    if (n != 0) Enqueue(true, link, TcpFrame(b.mac, kBackMac, dip, sip, {rst.data(), n}, ip_id_++));
  }

  void AddOrphan(uint16_t link, uint32_t sip, uint32_t dip, const tcp::Segment& seg) {
    orphans.push_back({link, sip, dip, seg.hdr.src_port, seg.hdr.dst_port, seg.hdr.flags, seg.hdr.seq.raw,
                       seg.hdr.ack.raw, seg.payload.size()});
  }

  void HostArp(uint16_t link, const std::vector<uint8_t>& f) {
    if (f.size() < 42) return Bad("short ARP", link);
    const uint8_t* a = f.data() + 14;
    const uint16_t op = Be16(a + 6);
    const uint32_t spa = Be32(a + 14), tpa = Be32(a + 24);
    if (op != testkit::kArpRequest || spa == tpa) return;  // announcements need no answer
    ++arp_requests[link];
    MacAddr mac;
    bool known = false;
    if (link == kFront && tpa == kRouterIp) {
      mac = kRouterMac;
      known = true;
    }
    for (const BackendHost& b : backends_)
      if (link == kBack && tpa == b.ip && b.answers_arp) {
        mac = b.mac;
        known = true;
      }
    if (!known) return;
    ++arp_answered[link];
    const MacAddr port_mac = link == kFront ? kFrontMac : kBackMac;
    Enqueue(true, link,
            testkit::Pkt().Eth(mac, port_mac).Arp(testkit::kArpReply, mac, tpa, port_mac, spa).PadTo(60).Build());
  }

  void PeerInput(Conn& c, const tcp::Segment& seg) {
    if (c.deaf) return;
    ++c.frames_in;
    tcp::TcpEndpoint ep = c.Ep();
    const tcp::TcpState before = c.State();
    const tcp::InputResult r = ep.Input(seg, now_us);
    if ((r.events & tcp::kEvReset) && !c.Reset()) c.state_at_reset = before;
    c.events_seen |= uint16_t(r.events | c.rec.events);
    c.rec.events = 0;
    if (trace) {
      std::fprintf(stderr, "%10llu -> %-16s f=%02x seq=%u ack=%u len=%zu wnd=%u [%s] %s\n",
                   static_cast<unsigned long long>(now_us), c.name.c_str(), seg.hdr.flags, seg.hdr.seq.raw,
                   seg.hdr.ack.raw, seg.payload.size(), seg.hdr.window,
                   tcp::kTcpStateText[tcp::TcpIdx(c.State())].data(), tcp::kTcpDropText[tcp::TcpIdx(r.drop)].data());
    }
  }

  struct ConnSink final : tcp::SegmentSink {
    ProxyBed* bed;
    Conn* c;
    ConnSink(ProxyBed* b, Conn* cc) : bed(b), c(cc) {}
    void Emit(std::span<const uint8_t> seg) noexcept override {
      ++c->frames_out;
      // A 1500-byte IP MTU leaves 1480 bytes for TCP; a link drops anything longer (and
      // so does L3Stack::Input, as kFrameTooLong).
      if (seg.size() > 1480) ++bed->oversize_peer_segments;
      const MacAddr dst = c->link == kFront ? kFrontMac : kBackMac;
      bed->Enqueue(true, c->link, TcpFrame(c->mac, dst, c->local_ip, c->remote_ip, seg, bed->ip_id_++));
    }
  };

  void Switch(std::unique_ptr<ConfigSnapshot> next, std::unique_ptr<TlsListeners> tls) {
    const uint32_t generation = uint32_t(generations_.size()) + 2;  // the bed's own config is 1
    for (auto& e : engines_) {
      e->Reconfigure(*live_config_, live_tls_, *next, tls.get(), generation, now_us);
      e->Flush(now_us, sink_);  // as the worker's pass does after ApplyAdmin
    }
    live_config_ = next.get();
    live_tls_ = tls.get();
    generations_.emplace_back(std::move(next), std::move(tls));
    CollectEngineOutput();
  }

  void PumpPeers() {
    for (Conn* c : AllConns()) {
      tcp::TcpEndpoint ep = c->Ep();
      if (c->reading) {
        std::array<uint8_t, 16 * 1024> buf;
        for (uint32_t n; (n = ep.Receive(buf)) > 0;) c->in.insert(c->in.end(), buf.begin(), buf.begin() + n);
      }
      if (c->app) c->app(*c);
      if (c->queued < c->out.size())
        c->queued += ep.Send(std::span<const uint8_t>(c->out).subspan(c->queued));
      const tcp::TcpState st = c->State();
      if (c->close_after_send && !c->close_called && c->queued == c->out.size() &&
          (st == tcp::TcpState::kEstablished || st == tcp::TcpState::kCloseWait)) {
        ep.Close();
        c->close_called = true;
      }
      if (c->State() != tcp::TcpState::kClosed && ep.NextDeadline() <= now_us) ep.OnTimer(now_us);
      c->events_seen |= c->rec.events;
      c->rec.events = 0;
      ConnSink out(this, c);
      ep.Output(now_us, out);
    }
  }

  BedOptions opts_;
  ConfigSnapshot config_;
  DpCounters counters_;
  L3Stack l3_;
  testkit::FakeSink sink_;
  TlsListeners tls_;  // before the engines: their sessions point into it
  // Generations made by Reload(), also before the engines; they run the last.
  std::vector<std::pair<std::unique_ptr<ConfigSnapshot>, std::unique_ptr<TlsListeners>>> generations_;
  const ConfigSnapshot* live_config_ = &config_;
  const TlsListeners* live_tls_ = &tls_;
  std::unique_ptr<SessionSpace> space_;  // before the engines: they run its sessions
  std::vector<std::unique_ptr<ProxyEngine>> engines_;
  std::vector<uint16_t> queue_owner_;  // queue -> the worker serving it
  std::vector<bool> halted_;
  std::vector<std::vector<Wire>> parked_;  // frames waiting for a halted worker
  std::mt19937_64 rng_;
  std::array<BackendHost, kBackends> backends_;
  std::vector<std::unique_ptr<Conn>> clients_;
  std::vector<std::unique_ptr<Conn>> backend_conns_;
  std::map<uint64_t, Conn*> client_by_addr_;
  std::map<uint64_t, Conn*> backend_by_flow_;
  using WireQueue = std::priority_queue<Wire, std::vector<Wire>, std::greater<>>;
  std::array<WireQueue, 2> wire_;  // [0]: toward the hosts, [1]: toward the engine
  uint64_t order_ = 0;
  uint16_t ip_id_ = 1;
  uint64_t next_l3_advance_us_ = 0;
};

}  // namespace baton::dp::proxytest
