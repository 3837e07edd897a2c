// NewSessionTicket and PSK-DHE resumption (RFC 8446 4.6.1, 4.2.11, 4.2.9) against libssl's
// SSL_SESSION, ticket key rotation, and ClientHellos crafted from libssl's: tampered
// binders, psk_ke only, unknown or tampered tickets, expired tickets.

#include <gtest/gtest.h>

#include "crypto/tls/ticket.h"
#include "tests/tls/tls_peer.h"

namespace baton::crypto::tls {
namespace {

using namespace peer;  // NOLINT: test harness

TicketKey MakeTicketKey(uint8_t seed) {
  TicketKey k;
  for (size_t i = 0; i < k.name.size(); ++i) k.name[i] = static_cast<uint8_t>(seed + i);
  for (size_t i = 0; i < k.secret.size(); ++i) k.secret[i] = static_cast<uint8_t>(seed * 31 + i);
  return k;
}

const std::vector<Credential>& Creds() {
  static const std::vector<Credential> creds = {
      IssuedCredential(KeyKind::kP256, {"a.example.com", "b.example.com"}, 40)};
  return creds;
}

TlsServerConfig ConfigWith(const std::vector<TicketKey>& keys) {
  TlsServerConfig c;
  c.credentials = Creds();
  c.ticket_keys = keys;
  return c;
}

ClientOptions Opts(const char* suites = "TLS_AES_128_GCM_SHA256", const char* sni = "a.example.com") {
  ClientOptions o;
  o.suites = suites;
  o.sni = sni;
  o.verify_host = sni;
  return o;
}

// A full handshake that leaves the client holding the server's tickets.
void GetTickets(const TlsServerConfig& config, ClientCtx& cctx, size_t want = 2,
                uint64_t now_ms = WallMs()) {
  Pair pair(config, cctx, nullptr, now_ms);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_FALSE(pair.server().resumed());
  ASSERT_EQ(cctx.sessions().size(), want);
  for (SSL_SESSION* s : cctx.sessions()) EXPECT_EQ(SSL_SESSION_is_resumable(s), 1);
}

// Resumes with `session`; returns whether both sides agree that it resumed.
bool Resume(const TlsServerConfig& config, ClientCtx& cctx, SSL_SESSION* session,
            uint64_t now_ms = WallMs(), std::string* sni = nullptr) {
  Pair pair(config, cctx, session, now_ms);
  EXPECT_TRUE(pair.Handshake()) << pair.failure();
  const bool client = SSL_session_reused(pair.ssl()) == 1;
  EXPECT_EQ(client, pair.server().resumed());
  EXPECT_FALSE(pair.server().alert_sent().has_value());
  EXPECT_EQ(SSL_get_verify_result(pair.ssl()), X509_V_OK);
  EXPECT_TRUE(pair.ClientSends(Pattern(3000)));
  EXPECT_TRUE(pair.ServerSends(Pattern(3000)));
  if (sni != nullptr) *sni = std::string(pair.server().sni());
  return client && pair.server().resumed();
}

TEST(Resumption, EachSuiteResumesAndGetsNewTickets) {
  const std::vector<TicketKey> keys = {MakeTicketKey(1)};
  const TlsServerConfig config = ConfigWith(keys);
  for (const char* suite :
       {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
    ClientCtx cctx(Opts(suite));
    GetTickets(config, cctx);
    std::string sni;
    EXPECT_TRUE(Resume(config, cctx, cctx.sessions()[0], WallMs(), &sni)) << suite;
    EXPECT_EQ(sni, "a.example.com");
    EXPECT_EQ(cctx.sessions().size(), 4u) << "the resumed session issues tickets too";
    EXPECT_TRUE(Resume(config, cctx, cctx.sessions()[1])) << suite;
    EXPECT_TRUE(Resume(config, cctx, cctx.sessions()[3])) << "a ticket from a resumption";
  }
}

TEST(Resumption, GroupsAndHelloRetry) {
  const std::vector<TicketKey> keys = {MakeTicketKey(1)};
  TlsServerConfig config = ConfigWith(keys);
  for (const char* group : {"X25519", "P-256", "P-384"}) {
    ClientOptions o = Opts();
    o.groups = group;
    ClientCtx cctx(o);
    GetTickets(config, cctx);
    EXPECT_TRUE(Resume(config, cctx, cctx.sessions()[0])) << group;
  }
  // HelloRetryRequest: the client's share is X25519, the server wants P-256; the binder
  // of the second ClientHello covers the message_hash and the HelloRetryRequest.
  ClientOptions o = Opts("TLS_AES_256_GCM_SHA384");
  o.groups = "X25519:P-256";
  ClientCtx cctx(o);
  GetTickets(config, cctx);
  config.groups = {NamedGroup::kSecp256r1};
  EXPECT_TRUE(Resume(config, cctx, cctx.sessions()[0]));
}

TEST(Resumption, TicketCountAndNoKeys) {
  std::vector<TicketKey> keys = {MakeTicketKey(1)};
  TlsServerConfig config = ConfigWith(keys);
  config.tickets_per_handshake = 5;
  {
    ClientCtx cctx(Opts());
    GetTickets(config, cctx, 5);
  }
  config.ticket_keys = {};
  {
    ClientCtx cctx(Opts());
    GetTickets(config, cctx, 0);
  }
}

TEST(Resumption, KeyRotation) {
  const std::vector<TicketKey> old_set = {MakeTicketKey(1)};
  const std::vector<TicketKey> rotated = {MakeTicketKey(2), MakeTicketKey(1)};
  const std::vector<TicketKey> new_only = {MakeTicketKey(2)};
  ClientCtx cctx(Opts());
  GetTickets(ConfigWith(old_set), cctx);
  // The old key is still in the set: resumes, and the new tickets are sealed by key 2.
  EXPECT_TRUE(Resume(ConfigWith(rotated), cctx, cctx.sessions()[0]));
  ASSERT_EQ(cctx.sessions().size(), 4u);
  EXPECT_TRUE(Resume(ConfigWith(new_only), cctx, cctx.sessions()[2]));
  // The old key dropped: a ticket it sealed means a full handshake, not an error.
  EXPECT_FALSE(Resume(ConfigWith(new_only), cctx, cctx.sessions()[1]));
  // Another box with the same keys resumes (a fresh server object, same key set).
  EXPECT_TRUE(Resume(ConfigWith(rotated), cctx, cctx.sessions()[1]));
}

TEST(Resumption, ForgedTicketKeyIsAFullHandshake) {
  // Same key name, other secret: the tag does not verify (as for a tampered ticket).
  const std::vector<TicketKey> keys = {MakeTicketKey(1)};
  std::vector<TicketKey> forged = keys;
  forged[0].secret[0] ^= 1;
  ClientCtx cctx(Opts());
  GetTickets(ConfigWith(keys), cctx);
  EXPECT_FALSE(Resume(ConfigWith(forged), cctx, cctx.sessions()[0]));
}

TEST(Resumption, ExpiredTicketIsAFullHandshake) {
  const std::vector<TicketKey> keys = {MakeTicketKey(1)};
  TlsServerConfig config = ConfigWith(keys);
  config.ticket_lifetime_s = 10;
  config.ticket_age_tolerance_ms = 60000;
  config.tickets_per_handshake = 3;  // libssl drops a session the server did not take
  const uint64_t t0 = WallMs();
  ClientCtx cctx(Opts());
  GetTickets(config, cctx, 3, t0);
  // Our clock 20 s on: past the 10 s lifetime (the age check alone would allow it).
  EXPECT_FALSE(Resume(config, cctx, cctx.sessions()[0], t0 + 20000));
  // Within the lifetime but the client's age is 30 s off ours: not accepted.
  config.ticket_age_tolerance_ms = 10000;
  EXPECT_FALSE(Resume(config, cctx, cctx.sessions()[1], t0 + 30000));
  // The lifetime is the ticket's own: one issued with 100 s, 20 s on, is accepted.
  config.ticket_lifetime_s = 100;
  config.ticket_age_tolerance_ms = 60000;
  ClientCtx cctx2(Opts());
  GetTickets(config, cctx2, 3, t0);
  EXPECT_TRUE(Resume(config, cctx2, cctx2.sessions()[0], t0 + 20000));
}

TEST(Resumption, SuiteWithAnotherHashIsAFullHandshake) {
  const std::vector<TicketKey> keys = {MakeTicketKey(1)};
  TlsServerConfig config = ConfigWith(keys);
  ClientCtx cctx(Opts("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"));
  GetTickets(config, cctx);  // AES-128-GCM-SHA256
  config.suites = {CipherSuite::kAes256GcmSha384};
  EXPECT_FALSE(Resume(config, cctx, cctx.sessions()[0]));
  config.suites = {CipherSuite::kChacha20Poly1305Sha256, CipherSuite::kAes128GcmSha256};
  EXPECT_TRUE(Resume(config, cctx, cctx.sessions()[1]));  // libssl offers no ChaCha: AES-128
}

TEST(Resumption, StateMovesByMemcpyMidResumption) {
  const std::vector<TicketKey> keys = {MakeTicketKey(1)};
  const TlsServerConfig config = ConfigWith(keys);
  ClientCtx cctx(Opts("TLS_CHACHA20_POLY1305_SHA256"));
  GetTickets(config, cctx);
  Pair pair(config, cctx, cctx.sessions()[0]);
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  (void)pair.Pump();
  ASSERT_EQ(pair.server().state(), HsState::kExpectClientFinished);
  ASSERT_TRUE(pair.server().resumed());
  pair.MoveServer();  // the client Finished reaches a copy, which sends the tickets
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(SSL_session_reused(pair.ssl()), 1);
  EXPECT_TRUE(pair.server().resumed());
  EXPECT_EQ(cctx.sessions().size(), 4u);
  EXPECT_TRUE(pair.ClientSends(Pattern(100)));
  EXPECT_TRUE(pair.ServerSends(Pattern(100)));
  EXPECT_TRUE(Resume(config, cctx, cctx.sessions()[3]));
}

// ---------------------------------------------------------------------------------------
// ClientHellos from libssl, edited

// Offset of extension `type`'s data in a ClientHello record, or 0.
size_t FindExtension(const Bytes& rec, uint16_t type, size_t* len = nullptr) {
  size_t off = 5 + 4 + 2 + 32;
  off += 1 + rec[off];
  off += 2 + (size_t{rec[off]} << 8 | rec[off + 1]);
  off += 1 + rec[off];
  const size_t end = off + 2 + (size_t{rec[off]} << 8 | rec[off + 1]);
  off += 2;
  while (off + 4 <= end) {
    const uint16_t t = static_cast<uint16_t>(rec[off] << 8 | rec[off + 1]);
    const size_t l = size_t{rec[off + 2]} << 8 | rec[off + 3];
    if (t == type) {
      if (len != nullptr) *len = l;
      return off + 4;
    }
    off += 4 + l;
  }
  return 0;
}

struct Fed {
  TlsStatus status;
  std::optional<Alert> alert;
  bool resumed;
  HsState state;
  Bytes out;
};

Fed FeedFresh(const TlsServerConfig& config, const Bytes& in, uint64_t now_ms = WallMs()) {
  auto ctx = CryptoContext::Create();
  TlsServer s(config, *ctx);
  s.set_now_ms(now_ms);
  VecSink out, app;
  const TlsStatus st = s.Input(in, out, app);
  return {st, s.alert_sent(), s.resumed(), s.state(), out.data};
}

class CraftedHello : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = {MakeTicketKey(1)};
    config_ = ConfigWith(keys_);
    cctx_ = std::make_unique<ClientCtx>(Opts());
    GetTickets(config_, *cctx_);
    Pair pair(config_, *cctx_, cctx_->sessions()[0]);
    ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
    hello_ = pair.TakeFromClient();
    ASSERT_GT(hello_.size(), 200u);
    ASSERT_EQ(hello_[5], 1);
    ASSERT_NE(FindExtension(hello_, 41), 0u);
  }
  std::vector<TicketKey> keys_;
  TlsServerConfig config_;
  std::unique_ptr<ClientCtx> cctx_;
  Bytes hello_;
};

TEST_F(CraftedHello, UnmodifiedResumes) {
  const Fed f = FeedFresh(config_, hello_);
  EXPECT_EQ(f.status, TlsStatus::kOk);
  EXPECT_TRUE(f.resumed);
  EXPECT_EQ(f.state, HsState::kExpectClientFinished);
}

TEST_F(CraftedHello, TamperedBinderIsDecryptError) {
  // pre_shared_key is last, and the binder its last bytes.
  for (const size_t back : {size_t{1}, size_t{10}, size_t{32}}) {
    Bytes h = hello_;
    h[h.size() - back] ^= 0x40;
    const Fed f = FeedFresh(config_, h);
    EXPECT_EQ(f.status, TlsStatus::kFailed) << back;
    EXPECT_EQ(f.alert, Alert::kDecryptError) << back;
    EXPECT_EQ(f.out, (Bytes{21, 3, 3, 0, 2, 2, 51})) << back;  // a plaintext alert
  }
  // A byte of the ClientHello before the binders (the random) changes the binder's
  // transcript: decrypt_error too.
  Bytes h = hello_;
  h[5 + 4 + 2 + 5] ^= 1;
  EXPECT_EQ(FeedFresh(config_, h).alert, Alert::kDecryptError);
}

TEST_F(CraftedHello, TamperedOrUnknownTicketIsAFullHandshake) {
  size_t len = 0;
  const size_t psk = FindExtension(hello_, 41, &len);
  // identities<..>: u16 list length, u16 identity length, identity...
  const size_t identity = psk + 4;
  const size_t identity_len = size_t{hello_[psk + 2]} << 8 | hello_[psk + 3];
  ASSERT_GT(identity_len, 44u);
  for (const size_t at : {size_t{0}, size_t{16}, size_t{30}, identity_len - 1}) {
    Bytes h = hello_;
    h[identity + at] ^= 0x01;  // key name, nonce, ciphertext, tag
    const Fed f = FeedFresh(config_, h);
    EXPECT_EQ(f.status, TlsStatus::kOk) << at;
    EXPECT_FALSE(f.alert.has_value()) << at;
    EXPECT_FALSE(f.resumed) << at;
    EXPECT_EQ(f.state, HsState::kExpectClientFinished) << at;
  }
  // No ticket keys at all: the extension is ignored.
  TlsServerConfig no_keys = config_;
  no_keys.ticket_keys = {};
  const Fed f = FeedFresh(no_keys, hello_);
  EXPECT_FALSE(f.alert.has_value());
  EXPECT_FALSE(f.resumed);
}

TEST_F(CraftedHello, PskKeOnlyIsAFullHandshake) {
  size_t len = 0;
  const size_t modes = FindExtension(hello_, 45, &len);
  ASSERT_NE(modes, 0u);
  ASSERT_EQ(len, 2u);
  ASSERT_EQ(hello_[modes], 1);
  ASSERT_EQ(hello_[modes + 1], 1);  // psk_dhe_ke
  Bytes h = hello_;
  h[modes + 1] = 0;  // psk_ke
  Fed f = FeedFresh(config_, h);
  EXPECT_FALSE(f.alert.has_value());
  EXPECT_FALSE(f.resumed);
  EXPECT_EQ(f.state, HsState::kExpectClientFinished);
  // No psk_key_exchange_modes at all (the type renamed to an unknown one).
  h = hello_;
  h[modes - 4] = 0x7a;
  h[modes - 3] = 0x7a;
  f = FeedFresh(config_, h);
  EXPECT_EQ(f.alert, Alert::kMissingExtension);
}

TEST_F(CraftedHello, TicketForAnotherHostIsAFullHandshake) {
  size_t len = 0;
  const size_t sni = FindExtension(hello_, 0, &len);
  ASSERT_NE(sni, 0u);
  Bytes h = hello_;
  ASSERT_EQ(h[sni + 5], 'a');
  h[sni + 5] = 'b';  // a.example.com -> b.example.com, same certificate
  Fed f = FeedFresh(config_, h);
  EXPECT_FALSE(f.alert.has_value());
  EXPECT_FALSE(f.resumed);
  h[sni + 5] = 'A';  // the same host in other case passes the host check; the binder, over
                     // the edited ClientHello, then fails
  f = FeedFresh(config_, h);
  EXPECT_EQ(f.alert, Alert::kDecryptError);
}

TEST_F(CraftedHello, ExpiredOrEarly) {
  const uint64_t now = WallMs();
  EXPECT_TRUE(FeedFresh(config_, hello_, now).resumed);
  EXPECT_FALSE(FeedFresh(config_, hello_, now + 7201ull * 1000).resumed);
  EXPECT_FALSE(FeedFresh(config_, hello_, now - 60000).resumed);  // issued in our future
}

// ---------------------------------------------------------------------------------------
// Ticket sealing

TEST(Ticket, SealOpenAndEveryFlippedByte) {
  auto ctx = CryptoContext::Create();
  const std::vector<TicketKey> keys = {MakeTicketKey(3), MakeTicketKey(4)};
  TicketContents in;
  in.suite = 0x1302;
  in.psk.hash = HashAlg::kSha384;
  in.psk.len = 48;
  for (size_t i = 0; i < 48; ++i) in.psk.bytes[i] = static_cast<uint8_t>(i);
  in.issue_ms = 0x0102030405060708ull;
  in.age_add = 0xdeadbeef;
  in.lifetime_s = 7200;
  in.sni_len = 3;
  std::memcpy(in.sni.data(), "a.b", 3);
  in.alpn_len = 2;
  std::memcpy(in.alpn.data(), "h2", 2);
  std::array<uint8_t, kMaxTls13TicketBytes> buf{};
  const std::array<uint8_t, kTls13TicketNonceBytes> nonce{9, 9, 9};
  const size_t n = SealTls13Ticket(*ctx, keys[1], nonce, in, buf);
  ASSERT_GT(n, 16u + 12 + 16);
  const Bytes ticket(buf.begin(), buf.begin() + static_cast<long>(n));
  TicketContents out;
  ASSERT_TRUE(OpenTls13Ticket(*ctx, keys, ticket, out));
  EXPECT_EQ(out.suite, in.suite);
  EXPECT_EQ(std::memcmp(out.psk.bytes.data(), in.psk.bytes.data(), 48), 0);
  EXPECT_EQ(out.psk.len, 48);
  EXPECT_EQ(out.issue_ms, in.issue_ms);
  EXPECT_EQ(out.age_add, in.age_add);
  EXPECT_EQ(out.lifetime_s, in.lifetime_s);
  EXPECT_EQ(std::string(out.sni.data(), out.sni_len), "a.b");
  EXPECT_EQ(std::string(out.alpn.data(), out.alpn_len), "h2");
  for (size_t i = 0; i < ticket.size(); ++i) {
    Bytes bad = ticket;
    bad[i] ^= 0x80;
    EXPECT_FALSE(OpenTls13Ticket(*ctx, keys, bad, out)) << i;
  }
  EXPECT_FALSE(OpenTls13Ticket(*ctx, std::span<const TicketKey>(keys).first(1), ticket, out));
  EXPECT_FALSE(OpenTls13Ticket(*ctx, keys, ByteView(ticket).first(ticket.size() - 1), out));
  EXPECT_FALSE(OpenTls13Ticket(*ctx, keys, {}, out));
}

}  // namespace
}  // namespace baton::crypto::tls
