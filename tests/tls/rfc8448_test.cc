// RFC 8448 section 3 (Simple 1-RTT Handshake), byte for byte: the trace's ClientHello in,
// our ServerHello record and encrypted server flight out. The trace's inputs are injected
// through the config's test hooks: randomness (the server's X25519 private key, then
// ServerHello.random) and the CertificateVerify signature (RSA-PSS is randomized). The
// trace's messages are those of tests/crypto/key_schedule_test.cc.

#include <gtest/gtest.h>

#include <cstring>

#include "crypto/tls/server.h"
#include "tests/crypto/hex.h"
#include "tests/crypto/rfc8448_trace.h"
#include "tests/tls/tls_peer.h"

namespace baton::crypto::tls {
namespace {

using test::Hex;
using test::ToHex;
using Bytes = std::vector<uint8_t>;

// ---- RFC 8448 section 3 ----------------------------------------------------------------
using namespace test::rfc8448;  // the trace's messages (tests/crypto/rfc8448_trace.h)

// {server} create an ephemeral x25519 key pair: private key. (Checked below: it gives the
// trace's ServerHello key_share and, with the client's, the trace's shared secret.)
const Bytes kServerX25519Private = Hex(R"(
  b1 58 0e ea df 6d d5 89 b8 ef 4f 2d 56 52 57 8c c8 10 e9 98 01 91 ec 8d 05 83 08 ce a2
  16 a2 1e)");

// {server} derive write traffic keys for handshake data.
const Bytes kServerHsKey = Hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc");
const Bytes kServerHsIv = Hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30");

// The randomness the server asks for, in order: X25519 key, then ServerHello.random.
struct TraceRandom {
  Bytes stream;
  size_t at = 0;
};
bool TraceRandomFn(void* ctx, uint8_t* out, size_t len) noexcept {
  auto* r = static_cast<TraceRandom*>(ctx);
  if (r->at + len > r->stream.size()) return false;
  std::memcpy(out, r->stream.data() + r->at, len);
  r->at += len;
  return true;
}

bool TraceSignature(void* /*ctx*/, uint16_t scheme, ByteView /*th*/,
                    std::vector<uint8_t>& signature) noexcept {
  // CertificateVerify: 0f 00 00 84 | 08 04 (rsa_pss_rsae_sha256) | 00 80 | signature
  if (scheme != 0x0804) return false;
  signature.assign(kCertificateVerify.begin() + 8, kCertificateVerify.end());
  return true;
}

Bytes Concat(std::initializer_list<const Bytes*> parts) {
  Bytes out;
  for (const Bytes* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

TEST(Rfc8448, SimpleOneRttServerFlight) {
  // The trace's certificate (RSA-1024, so built by hand: LoadCredential wants 2048 bits);
  // the key only has to be RSA, the signature comes from the trace.
  const size_t cert_len = size_t{kCertificate[8]} << 16 | size_t{kCertificate[9]} << 8 | kCertificate[10];
  const Bytes cert_der(kCertificate.begin() + 11, kCertificate.begin() + 11 + static_cast<long>(cert_len));
  ASSERT_EQ(cert_der.size(), 0x1b0u);
  const std::vector<Credential> creds = {
      Credential{{cert_der}, peer::CachedKey(peer::KeyKind::kRsa2048)}};
  TraceRandom rnd;
  const Bytes server_random(kServerHello.begin() + 6, kServerHello.begin() + 38);
  rnd.stream = Concat({&kServerX25519Private, &server_random});

  TlsServerConfig config;
  config.credentials = creds;
  config.random = &TraceRandomFn;
  config.random_ctx = &rnd;
  config.sign_for_test = &TraceSignature;
  // The trace's server lists x25519, P-256, P-384, P-521 and ffdhe2048..8192.
  config.ee_supported_groups = {0x001d, 0x0017, 0x0018, 0x0019, 0x0100,
                                0x0101, 0x0102, 0x0103, 0x0104};
  auto ctx = CryptoContext::Create();
  TlsServer server(config, *ctx);
  peer::VecSink out, app;
  const Bytes header = {0x16, 0x03, 0x01, 0x00, 0xc4};  // {client} send handshake record
  ASSERT_EQ(header[4], kClientHello.size());
  EXPECT_EQ(server.Input(Concat({&header, &kClientHello}), out, app), TlsStatus::kOk);
  ASSERT_EQ(server.state(), HsState::kExpectClientFinished) << (server.alert_sent() ? int(*server.alert_sent()) : -1);
  EXPECT_EQ(rnd.at, 64u);

  // {server} send handshake record: 16 03 03 00 5a || ServerHello.
  const Bytes sh_header = {0x16, 0x03, 0x03, 0x00, 0x5a};
  const Bytes sh_record = Concat({&sh_header, &kServerHello});
  ASSERT_GE(out.data.size(), sh_record.size());
  EXPECT_EQ(ToHex({out.data.data(), sh_record.size()}), ToHex(sh_record));

  // {server} send handshake record: 17 03 03 02 a2 || the flight sealed with the trace's
  // server handshake key and iv, sequence 0. AEAD is deterministic: sealing the trace's
  // plaintext with the trace's key gives the trace's record.
  const Bytes flight =
      Concat({&kEncryptedExtensions, &kCertificate, &kCertificateVerify, &kServerFinished});
  TrafficKey tk;
  tk.alg = AeadAlg::kAes128Gcm;
  std::memcpy(tk.key.data(), kServerHsKey.data(), 16);
  std::memcpy(tk.iv.data(), kServerHsIv.data(), 12);
  AeadKey key;
  ASSERT_EQ(ctx->Expand(tk, key), CryptoStatus::kOk);
  std::array<uint8_t, kMaxRecordBytes> expected{};
  size_t written = 0;
  ASSERT_EQ(Protect(*ctx, key, 0, ContentType::kHandshake, flight, 0, expected, written),
            RecordStatus::kOk);
  ASSERT_EQ(written, 5u + 0x2a2);
  EXPECT_EQ(expected[3], 0x02);
  EXPECT_EQ(expected[4], 0xa2);
  const Bytes rest(out.data.begin() + static_cast<long>(sh_record.size()), out.data.end());
  EXPECT_EQ(ToHex(rest), ToHex({expected.data(), written}));
}

}  // namespace
}  // namespace baton::crypto::tls
