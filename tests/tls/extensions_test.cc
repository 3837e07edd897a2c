// record_size_limit (RFC 8449) and the HelloRetryRequest cookie (RFC 8446 4.2.2) against
// libssl: libssl 3.0 does not know record_size_limit, so the client sends it as a custom
// extension (and then ignores ours, which lets us test that we enforce it).

#include <gtest/gtest.h>

#include "crypto/tls/ticket.h"
#include "tests/tls/tls_peer.h"

namespace baton::crypto::tls {
namespace {

using namespace peer;  // NOLINT: test harness

const std::vector<Credential>& Creds() {
  static const std::vector<Credential> creds = {
      IssuedCredential(KeyKind::kRsa2048, {"www.example.com"}, 50)};  // a big flight
  return creds;
}

TlsServerConfig Config() {
  TlsServerConfig c;
  c.credentials = Creds();
  return c;
}

ClientOptions WithLimit(std::optional<uint16_t> limit) {
  ClientOptions o;
  o.record_size_limit = limit;
  o.sni = "www.example.com";
  o.verify_host = "www.example.com";
  return o;
}

// Largest protected record (body) the server sent, and whether there was any.
size_t LargestProtected(const Bytes& log) {
  size_t most = 0;
  for (const auto& [type, len] : Records(log)) {
    if (type == 23) most = std::max<size_t>(most, len);
  }
  return most;
}

TEST(RecordSizeLimit, HonouredForEverythingWeSeal) {
  for (const uint16_t limit : {uint16_t{64}, uint16_t{100}, uint16_t{1000}, uint16_t{4097}}) {
    const TlsServerConfig config = Config();
    ClientCtx cctx(WithLimit(limit));
    Pair pair(config, cctx);
    ASSERT_TRUE(pair.Handshake()) << limit << ": " << pair.failure();
    EXPECT_EQ(cctx.server_limit, 16385) << limit;  // ours, from EncryptedExtensions
    EXPECT_TRUE(pair.ServerSends(Pattern(20000))) << limit;
    EXPECT_TRUE(pair.ClientSends(Pattern(5000))) << limit;  // we accept up to 2^14
    // TLSInnerPlaintext <= limit, so a record body is at most limit + the 16-byte tag.
    EXPECT_EQ(LargestProtected(pair.to_client_log()), limit + 16u) << limit;
  }
}

TEST(RecordSizeLimit, AboveTheMaximumMeansTheMaximum) {
  const TlsServerConfig config = Config();
  ClientCtx cctx(WithLimit(40000));
  Pair pair(config, cctx);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_TRUE(pair.ServerSends(Pattern(40000)));
  EXPECT_EQ(LargestProtected(pair.to_client_log()), 16384u + 1 + 16);
}

TEST(RecordSizeLimit, WithoutTheExtensionNothingChanges) {
  const TlsServerConfig config = Config();
  ClientCtx cctx(WithLimit(std::nullopt));
  Pair pair(config, cctx);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_FALSE(cctx.server_limit.has_value());
  EXPECT_TRUE(pair.ServerSends(Pattern(40000)));
  EXPECT_EQ(LargestProtected(pair.to_client_log()), 16384u + 1 + 16);
}

TEST(RecordSizeLimit, OurLimitIsEnforced) {
  TlsServerConfig config = Config();
  config.record_size_limit = 500;
  ClientCtx cctx(WithLimit(16385));
  Pair pair(config, cctx);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(cctx.server_limit, 500);
  EXPECT_TRUE(pair.ClientSends(Pattern(499)));  // + type byte = 500: fits
  // libssl ignores our limit: a bigger record is record_overflow (RFC 8449 4).
  EXPECT_FALSE(pair.ClientSends(Pattern(500)));
  EXPECT_EQ(pair.server().alert_sent(), Alert::kRecordOverflow);
}

TEST(RecordSizeLimit, TooSmallIsIllegalParameter) {
  for (const uint16_t limit : {uint16_t{0}, uint16_t{1}, uint16_t{63}}) {
    const TlsServerConfig config = Config();
    ClientCtx cctx(WithLimit(limit));
    Pair pair(config, cctx);
    EXPECT_FALSE(pair.Handshake()) << limit;
    EXPECT_EQ(pair.server().alert_sent(), Alert::kIllegalParameter) << limit;
  }
}

TEST(RecordSizeLimit, SurvivesAMemcpy) {
  const TlsServerConfig config = Config();
  ClientCtx cctx(WithLimit(200));
  Pair pair(config, cctx);
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  (void)pair.Pump();
  pair.MoveServer();
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_TRUE(pair.ServerSends(Pattern(3000)));
  EXPECT_EQ(LargestProtected(pair.to_client_log()), 216u);
}

// ---------------------------------------------------------------------------------------
// HelloRetryRequest cookie

TlsServerConfig CookieConfig(uint8_t key_seed = 7) {
  TlsServerConfig c = Config();
  c.groups = {NamedGroup::kSecp256r1};  // the client's share is X25519: HelloRetryRequest
  c.hrr_cookie = true;
  for (size_t i = 0; i < c.cookie_key.size(); ++i) c.cookie_key[i] = static_cast<uint8_t>(key_seed + i);
  return c;
}

ClientOptions RetryClient() {
  ClientOptions o = WithLimit(std::nullopt);
  o.groups = "X25519:P-256";
  return o;
}

// Offset of extension `type`'s data in the first handshake message of `rec` (a
// ServerHello or ClientHello record), or 0.
size_t FindExt(const Bytes& rec, uint16_t type, bool server_hello) {
  size_t off = 5 + 4 + 2 + 32;
  off += 1 + rec[off];                                        // session id
  off += server_hello ? 3 : 2 + (size_t{rec[off]} << 8 | rec[off + 1]);  // suite(s)
  if (!server_hello) off += 1 + rec[off];                     // compression methods
  const size_t end = off + 2 + (size_t{rec[off]} << 8 | rec[off + 1]);
  off += 2;
  while (off + 4 <= end) {
    const uint16_t t = static_cast<uint16_t>(rec[off] << 8 | rec[off + 1]);
    if (t == type) return off + 4;
    off += 4 + (size_t{rec[off + 2]} << 8 | rec[off + 3]);
  }
  return 0;
}

TEST(HelloRetryCookie, RoundTripOnTheSameServer) {
  const TlsServerConfig config = CookieConfig();
  ClientCtx cctx(RetryClient());
  Pair pair(config, cctx);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().group(), 0x17);
  const Bytes& log = pair.to_client_log();
  ASSERT_EQ(log[0], 22);
  EXPECT_NE(FindExt(log, 44, true), 0u) << "the HelloRetryRequest carries a cookie";
  EXPECT_TRUE(pair.ClientSends(Pattern(1000)));
  EXPECT_TRUE(pair.ServerSends(Pattern(1000)));
}

TEST(HelloRetryCookie, AServerWithoutStateTakesTheSecondHello) {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}) {
    for (const bool compat : {true, false}) {
      const TlsServerConfig config = CookieConfig();
      ClientOptions o = RetryClient();
      o.suites = suite;
      o.compat_mode = compat;
      ClientCtx cctx(o);
      Pair pair(config, cctx);
      ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
      ASSERT_EQ(pair.Pump(), TlsStatus::kOk);
      ASSERT_EQ(pair.server().state(), HsState::kExpectRetriedClientHello);
      const TlsServerConfig other_box = CookieConfig();  // same key, another config object
      pair.FreshServer(&other_box);
      ASSERT_TRUE(pair.Handshake()) << suite << " " << compat << ": " << pair.failure();
      EXPECT_EQ(pair.server().group(), 0x17);
      EXPECT_TRUE(pair.ClientSends(Pattern(1000)));
      EXPECT_TRUE(pair.ServerSends(Pattern(1000)));
    }
  }
}

TEST(HelloRetryCookie, StatelessRetryWithResumption) {
  const std::vector<TicketKey> keys = {TicketKey{{1, 2, 3}, {4, 5, 6}}};
  TlsServerConfig config = CookieConfig();
  config.ticket_keys = keys;
  ClientCtx cctx(RetryClient());
  {
    Pair first(config, cctx);
    ASSERT_TRUE(first.Handshake()) << first.failure();
    ASSERT_EQ(cctx.sessions().size(), 2u);
  }
  Pair pair(config, cctx, cctx.sessions()[0]);
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  ASSERT_EQ(pair.Pump(), TlsStatus::kOk);
  ASSERT_EQ(pair.server().state(), HsState::kExpectRetriedClientHello);
  pair.FreshServer();
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_TRUE(pair.server().resumed());  // the binder covers the restored transcript
  EXPECT_EQ(SSL_session_reused(pair.ssl()), 1);
}

class CookieHello : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = CookieConfig();
    cctx_ = std::make_unique<ClientCtx>(RetryClient());
    pair_ = std::make_unique<Pair>(config_, *cctx_);
    ASSERT_EQ(SSL_do_handshake(pair_->ssl()), -1);
    ASSERT_EQ(pair_->Pump(), TlsStatus::kOk);  // HelloRetryRequest to the client
    ASSERT_EQ(SSL_do_handshake(pair_->ssl()), -1);
    const Bytes flight = pair_->TakeFromClient();  // change_cipher_spec + ClientHello2
    ASSERT_EQ(flight[0], 20);
    hello2_.assign(flight.begin() + 6, flight.end());
    ASSERT_EQ(hello2_[0], 22);
    cookie_ = FindExt(hello2_, 44, false);
    ASSERT_NE(cookie_, 0u);
  }
  std::optional<Alert> Fed(const Bytes& in, const TlsServerConfig& config, uint64_t now) {
    auto ctx = CryptoContext::Create();
    TlsServer s(config, *ctx);
    s.set_now_ms(now);
    VecSink out, app;
    last_status_ = s.Input(in, out, app);
    last_state_ = s.state();
    return s.alert_sent();
  }
  std::optional<Alert> Feed(const Bytes& in) { return Fed(in, config_, WallMs()); }
  TlsServerConfig config_;
  std::unique_ptr<ClientCtx> cctx_;
  std::unique_ptr<Pair> pair_;
  Bytes hello2_;
  size_t cookie_ = 0;
  TlsStatus last_status_ = TlsStatus::kOk;
  HsState last_state_ = HsState::kExpectClientHello;
};

TEST_F(CookieHello, GoodCookieOnAFreshServer) {
  EXPECT_FALSE(Feed(hello2_).has_value());
  EXPECT_EQ(last_state_, HsState::kExpectClientFinished);
}

TEST_F(CookieHello, EveryFlippedCookieByteIsIllegalParameter) {
  const size_t len = size_t{hello2_[cookie_]} << 8 | hello2_[cookie_ + 1];
  ASSERT_GT(len, 32u);
  for (size_t i = 0; i < len; ++i) {
    Bytes h = hello2_;
    h[cookie_ + 2 + i] ^= 0x01;
    EXPECT_EQ(Feed(h), Alert::kIllegalParameter) << i;
  }
}

TEST_F(CookieHello, OtherKeyOrStaleCookie) {
  EXPECT_EQ(Fed(hello2_, CookieConfig(8), WallMs()), Alert::kIllegalParameter);
  EXPECT_EQ(Fed(hello2_, config_, WallMs() + 120000), Alert::kIllegalParameter);
  EXPECT_FALSE(Fed(hello2_, config_, WallMs() + 30000).has_value());
}

TEST_F(CookieHello, MissingCookieAfterOurRetry) {
  // The same server that sent the HelloRetryRequest gets a second ClientHello without the
  // cookie (its extension type renamed): illegal_parameter.
  Bytes h = hello2_;
  h[cookie_ - 4] = 0x7a;
  h[cookie_ - 3] = 0x7a;
  EXPECT_EQ(pair_->Feed(h), TlsStatus::kFailed);
  EXPECT_EQ(pair_->server().alert_sent(), Alert::kIllegalParameter);
}

TEST_F(CookieHello, CookiesOffIgnoresACookie) {
  // A server without hrr_cookie that never sent a HelloRetryRequest sees ClientHello2 as
  // a first ClientHello; its cookie is ignored (the share is P-256, so no new retry).
  TlsServerConfig off = config_;
  off.hrr_cookie = false;
  EXPECT_FALSE(Fed(hello2_, off, WallMs()).has_value());
  EXPECT_EQ(last_state_, HsState::kExpectClientFinished);
}

}  // namespace
}  // namespace baton::crypto::tls
