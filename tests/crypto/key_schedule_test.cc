// HKDF against RFC 5869 and the TLS 1.3 key schedule against the RFC 8448 section 3
// trace ("Simple 1-RTT Handshake"), byte for byte. The handshake messages are hashed with
// our Transcript, so the transcript hashes printed in the RFC are checked too.

#include "crypto/key_schedule.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <vector>

#include "crypto/transcript.h"
#include "tests/crypto/hex.h"
#include "tests/crypto/rfc8448_trace.h"

namespace baton::crypto {
namespace {

using test::Hex;
using test::ToHex;
using Bytes = std::vector<uint8_t>;

// ---- RFC 8448 section 3 inputs ---------------------------------------------------------
// The handshake messages are in tests/crypto/rfc8448_trace.h.
using namespace test::rfc8448;

// {server} extract secret "handshake": IKM is the x25519 shared secret.
const Bytes kEcdheShared = Hex(R"(
  8b d4 05 4f b5 5b 9d 63 fd fb ac f9 f0 4b 9f 0d
  35 e6 d6 3f 53 75 63 ef d4 62 72 90 0f 89 49 2d)");

std::string Hx(const Secret& s) { return ToHex(s.view()); }
std::string Hx(const Digest& d) { return ToHex(d.view()); }
std::string Norm(std::string_view rfc_hex) { return ToHex(Hex(rfc_hex)); }

class Rfc8448Simple1Rtt : public ::testing::Test {
 protected:
  void SetUp() override {
    // Lengths as the RFC prints them, so a mistyped byte shows up here first.
    ASSERT_EQ(kClientHello.size(), 196u);
    ASSERT_EQ(kServerHello.size(), 90u);
    ASSERT_EQ(kEncryptedExtensions.size(), 40u);
    ASSERT_EQ(kCertificate.size(), 445u);
    ASSERT_EQ(kCertificateVerify.size(), 136u);
    ASSERT_EQ(kServerFinished.size(), 36u);
    ASSERT_EQ(kClientFinished.size(), 36u);

    Transcript t(HashAlg::kSha256);
    t.Update(kClientHello);
    t.Update(kServerHello);
    t.Current(th_ch_sh_);
    t.Update(kEncryptedExtensions);
    t.Update(kCertificate);
    t.Update(kCertificateVerify);
    t.Current(th_ch_cv_);
    t.Update(kServerFinished);
    t.Current(th_ch_sf_);
    t.Update(kClientFinished);
    t.Current(th_ch_cf_);

    ASSERT_EQ(EarlySecret(HashAlg::kSha256, {}, early_), CryptoStatus::kOk);
    ASSERT_EQ(HandshakeSecret(early_, kEcdheShared, handshake_), CryptoStatus::kOk);
    ASSERT_EQ(MasterSecret(handshake_, master_), CryptoStatus::kOk);
    ASSERT_EQ(ClientHandshakeTrafficSecret(handshake_, th_ch_sh_.view(), c_hs_), CryptoStatus::kOk);
    ASSERT_EQ(ServerHandshakeTrafficSecret(handshake_, th_ch_sh_.view(), s_hs_), CryptoStatus::kOk);
    ASSERT_EQ(ClientApplicationTrafficSecret(master_, th_ch_sf_.view(), c_ap_), CryptoStatus::kOk);
    ASSERT_EQ(ServerApplicationTrafficSecret(master_, th_ch_sf_.view(), s_ap_), CryptoStatus::kOk);
  }

  Digest th_ch_sh_, th_ch_cv_, th_ch_sf_, th_ch_cf_;
  Secret early_, handshake_, master_, c_hs_, s_hs_, c_ap_, s_ap_;
};

TEST_F(Rfc8448Simple1Rtt, TranscriptHashes) {
  // "hash (32 octets)" inputs of the "c hs traffic", "c ap traffic" and "res master" steps.
  EXPECT_EQ(Hx(th_ch_sh_), Norm("86 0c 06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed"
                                "d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8"));
  EXPECT_EQ(Hx(th_ch_sf_), Norm("96 08 10 2a 0f 1c cc 6d b6 25 0b 7b 7e 41 7b 1a"
                                "00 0e aa da 3d aa e4 77 7a 76 86 c9 ff 83 df 13"));
  EXPECT_EQ(Hx(th_ch_cf_), Norm("20 91 45 a9 6e e8 e2 a1 22 ff 81 00 47 cc 95 26"
                                "84 65 8d 60 49 e8 64 29 42 6d b8 7c 54 ad 14 3d"));
}

TEST_F(Rfc8448Simple1Rtt, EarlyHandshakeAndMasterSecrets) {
  EXPECT_EQ(Hx(early_), Norm("33 ad 0a 1c 60 7e c0 3b 09 e6 cd 98 93 68 0c e2"
                             "10 ad f3 00 aa 1f 26 60 e1 b2 2e 10 f1 70 f9 2a"));
  Digest empty;
  Transcript(HashAlg::kSha256).Current(empty);
  Secret derived;
  ASSERT_EQ(DeriveSecret(early_, "derived", empty.view(), derived), CryptoStatus::kOk);
  EXPECT_EQ(Hx(derived), Norm("6f 26 15 a1 08 c7 02 c5 67 8f 54 fc 9d ba b6 97"
                              "16 c0 76 18 9c 48 25 0c eb ea c3 57 6c 36 11 ba"));
  EXPECT_EQ(Hx(handshake_), Norm("1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01"
                                 "04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac"));
  ASSERT_EQ(DeriveSecret(handshake_, "derived", empty.view(), derived), CryptoStatus::kOk);
  EXPECT_EQ(Hx(derived), Norm("43 de 77 e0 c7 77 13 85 9a 94 4d b9 db 25 90 b5"
                              "31 90 a6 5b 3e e2 e4 f1 2d d7 a0 bb 7c e2 54 b4"));
  EXPECT_EQ(Hx(master_), Norm("18 df 06 84 3d 13 a0 8b f2 a4 49 84 4c 5f 8a 47"
                              "80 01 bc 4d 4c 62 79 84 d5 a4 1d a8 d0 40 29 19"));
}

TEST_F(Rfc8448Simple1Rtt, HandshakeTrafficSecretsAndKeys) {
  EXPECT_EQ(Hx(c_hs_), Norm("b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f"
                            "3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21"));
  EXPECT_EQ(Hx(s_hs_), Norm("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4"
                            "e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38"));
  TrafficKey server_write;
  ASSERT_EQ(DeriveTrafficKey(AeadAlg::kAes128Gcm, s_hs_, server_write), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(ByteView(server_write.key.data(), 16)),
            Norm("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
  EXPECT_EQ(ToHex(server_write.iv), Norm("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
  TrafficKey client_write;
  ASSERT_EQ(DeriveTrafficKey(AeadAlg::kAes128Gcm, c_hs_, client_write), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(ByteView(client_write.key.data(), 16)),
            Norm("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"));
  EXPECT_EQ(ToHex(client_write.iv), Norm("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f"));
}

TEST_F(Rfc8448Simple1Rtt, FinishedKeysAndVerifyData) {
  Secret server_finished_key;
  ASSERT_EQ(FinishedKey(s_hs_, server_finished_key), CryptoStatus::kOk);
  EXPECT_EQ(Hx(server_finished_key), Norm("00 8d 3b 66 f8 16 ea 55 9f 96 b5 37 e8 85 c3 1f"
                                          "c0 68 bf 49 2c 65 2f 01 f2 88 a1 d8 cd c1 9f c8"));
  Digest server_verify;
  ASSERT_EQ(FinishedVerifyData(s_hs_, th_ch_cv_.view(), server_verify), CryptoStatus::kOk);
  EXPECT_EQ(Hx(server_verify), Norm("9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da"
                                    "4a b4 2c 30 95 72 cb 7f ff ee 54 54 b7 8f 07 18"));
  // ...and it is exactly the body of the server Finished message.
  EXPECT_EQ(Hx(server_verify), ToHex(ByteView(kServerFinished).subspan(4)));

  Digest client_verify;
  ASSERT_EQ(FinishedVerifyData(c_hs_, th_ch_sf_.view(), client_verify), CryptoStatus::kOk);
  EXPECT_EQ(Hx(client_verify), Norm("a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03"
                                    "9e c1 76 94 fa c6 e9 85 27 b6 42 f2 ed d5 ce 61"));
}

TEST_F(Rfc8448Simple1Rtt, ApplicationSecretsAndKeys) {
  EXPECT_EQ(Hx(c_ap_), Norm("9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52"
                            "87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5"));
  EXPECT_EQ(Hx(s_ap_), Norm("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32"
                            "82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43"));
  TrafficKey server_write;
  ASSERT_EQ(DeriveTrafficKey(AeadAlg::kAes128Gcm, s_ap_, server_write), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(ByteView(server_write.key.data(), 16)),
            Norm("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"));
  EXPECT_EQ(ToHex(server_write.iv), Norm("cf 78 2b 88 dd 83 54 9a ad f1 e9 84"));
  TrafficKey client_write;
  ASSERT_EQ(DeriveTrafficKey(AeadAlg::kAes128Gcm, c_ap_, client_write), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(ByteView(client_write.key.data(), 16)),
            Norm("17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51"));
  EXPECT_EQ(ToHex(client_write.iv), Norm("5b 78 92 3d ee 08 57 90 33 e5 23 d9"));

  Secret exporter;
  ASSERT_EQ(ExporterMasterSecret(master_, th_ch_sf_.view(), exporter), CryptoStatus::kOk);
  EXPECT_EQ(Hx(exporter), Norm("fe 22 f8 81 17 6e da 18 eb 8f 44 52 9e 67 92 c5"
                               "0c 9a 3f 89 45 2f 68 d8 ae 31 1b 43 09 d3 cf 50"));
}

TEST_F(Rfc8448Simple1Rtt, ResumptionMasterSecretAndTicketPsk) {
  Secret rms;
  ASSERT_EQ(ResumptionMasterSecret(master_, th_ch_cf_.view(), rms), CryptoStatus::kOk);
  EXPECT_EQ(Hx(rms), Norm("7d f2 35 f2 03 1d 2a 05 12 87 d0 2b 02 41 b0 bf"
                          "da f8 6c c8 56 23 1f 2d 5a ba 46 c4 34 ec 19 6c"));
  // RFC 8448 3/4: the NewSessionTicket carries ticket_nonce = 00 00; "{server} generate
  // resumption secret "tls13 resumption"".
  const Bytes nonce = {0x00, 0x00};
  Secret psk;
  ASSERT_EQ(ResumptionPsk(rms, nonce, psk), CryptoStatus::kOk);
  EXPECT_EQ(Hx(psk), Norm("4e cd 0e b6 ec 3b 4d 87 f5 d6 02 8f 92 2c a4 c5"
                          "85 1a 27 7f d4 13 11 c9 e6 2d 2c 94 92 e1 c4 f3"));
  // RFC 8448 4: {client} extract secret "early" from that PSK.
  Secret early;
  ASSERT_EQ(EarlySecret(HashAlg::kSha256, psk.view(), early), CryptoStatus::kOk);
  EXPECT_EQ(Hx(early), Norm("9b 21 88 e9 b2 fc 6d 64 d7 1d c3 29 90 0e 20 bb"
                            "41 91 50 00 f6 78 aa 83 9c bb 79 7c b7 d8 33 2c"));
}

TEST_F(Rfc8448Simple1Rtt, KeyUpdateChainsAndMayOverwriteInPlace) {
  // No RFC 8448 vector for KeyUpdate; check the definition (RFC 8446 7.2) and that the
  // in-place form used by the record layer equals the out-of-place one.
  Secret expected;
  ASSERT_EQ(HkdfExpandLabel(c_ap_, "traffic upd", {},
                            MutByteView(expected.bytes.data(), 32)),
            CryptoStatus::kOk);
  expected.hash = HashAlg::kSha256;
  expected.len = 32;
  Secret next;
  ASSERT_EQ(NextApplicationTrafficSecret(c_ap_, next), CryptoStatus::kOk);
  EXPECT_EQ(Hx(next), Hx(expected));
  EXPECT_NE(Hx(next), Hx(c_ap_));
  Secret in_place = c_ap_;
  ASSERT_EQ(NextApplicationTrafficSecret(in_place, in_place), CryptoStatus::kOk);
  EXPECT_EQ(Hx(in_place), Hx(next));
}

TEST(Hkdf, Rfc5869TestCase1) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = Hex("000102030405060708090a0b0c");
  const Bytes info = Hex("f0f1f2f3f4f5f6f7f8f9");
  Secret prk;
  ASSERT_EQ(HkdfExtract(HashAlg::kSha256, salt, ikm, prk), CryptoStatus::kOk);
  EXPECT_EQ(Hx(prk), "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  Bytes okm(42);
  ASSERT_EQ(HkdfExpand(HashAlg::kSha256, prk.view(), info, okm), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Hkdf, RejectsBadLengthsWithoutTouchingOpenssl) {
  Secret prk;
  ASSERT_EQ(EarlySecret(HashAlg::kSha256, {}, prk), CryptoStatus::kOk);
  Bytes too_long(255 * 32 + 1);
  EXPECT_EQ(HkdfExpand(HashAlg::kSha256, prk.view(), {}, too_long), CryptoStatus::kBadLength);
  Secret out;
  const Bytes short_hash(31);
  EXPECT_EQ(DeriveSecret(prk, "c hs traffic", short_hash, out), CryptoStatus::kBadLength);
  Secret empty;  // never derived
  EXPECT_EQ(DeriveSecret(empty, "derived", Bytes(32), out), CryptoStatus::kBadLength);
  const std::string long_label(250, 'x');
  Bytes okm(32);
  EXPECT_EQ(HkdfExpandLabel(prk, long_label, {}, okm), CryptoStatus::kBadLength);
}

TEST(KeySchedule, Sha384SuiteHasTheRightShape) {
  // Lengths and length checks for the 48-byte hash; values are checked by
  // Sha384MatchesAnIndependentHkdf below (RFC 8448 has no SHA-384 trace).
  Secret early, hs, master, c_hs;
  ASSERT_EQ(EarlySecret(HashAlg::kSha384, {}, early), CryptoStatus::kOk);
  EXPECT_EQ(early.len, 48);
  ASSERT_EQ(HandshakeSecret(early, Bytes(32, 7), hs), CryptoStatus::kOk);
  ASSERT_EQ(MasterSecret(hs, master), CryptoStatus::kOk);
  EXPECT_EQ(master.len, 48);
  ASSERT_EQ(ClientHandshakeTrafficSecret(hs, Bytes(48, 1), c_hs), CryptoStatus::kOk);
  EXPECT_EQ(ClientHandshakeTrafficSecret(hs, Bytes(32, 1), c_hs), CryptoStatus::kBadLength);
  TrafficKey key;
  ASSERT_EQ(DeriveTrafficKey(AeadAlg::kAes256Gcm, c_hs, key), CryptoStatus::kOk);
  Digest verify;
  ASSERT_EQ(FinishedVerifyData(c_hs, Bytes(48, 2), verify), CryptoStatus::kOk);
  EXPECT_EQ(verify.len, 48);
}

// An independent HKDF for the SHA-384 cross-check: RFC 5869 2.2/2.3 written directly over
// OpenSSL's one-shot HMAC, sharing no code with the EVP_KDF path under test.
Bytes RefHmac(const EVP_MD* md, const Bytes& key, const Bytes& data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

Bytes RefExpandLabel(const EVP_MD* md, const Bytes& secret, const std::string& label,
                     const Bytes& context, size_t len) {
  const std::string full = "tls13 " + label;
  Bytes info = {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len),
                static_cast<uint8_t>(full.size())};
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(static_cast<uint8_t>(context.size()));
  info.insert(info.end(), context.begin(), context.end());
  Bytes okm, t;
  for (uint8_t i = 1; okm.size() < len; ++i) {
    Bytes block = t;
    block.insert(block.end(), info.begin(), info.end());
    block.push_back(i);
    t = RefHmac(md, secret, block);
    okm.insert(okm.end(), t.begin(), t.end());
  }
  okm.resize(len);
  return okm;
}

TEST(KeySchedule, Sha384MatchesAnIndependentHkdf) {
  const EVP_MD* md = EVP_sha384();
  const Bytes zeros(48, 0);
  Bytes empty_hash(48);
  unsigned int n = 0;
  ASSERT_EQ(EVP_Digest(nullptr, 0, empty_hash.data(), &n, md, nullptr), 1);
  const Bytes ecdhe = Hex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");
  Bytes th(48);
  for (size_t i = 0; i < th.size(); ++i) th[i] = static_cast<uint8_t>(i * 7);

  const Bytes ref_early = RefHmac(md, zeros, zeros);
  const Bytes ref_hs = RefHmac(md, RefExpandLabel(md, ref_early, "derived", empty_hash, 48), ecdhe);
  const Bytes ref_master = RefHmac(md, RefExpandLabel(md, ref_hs, "derived", empty_hash, 48), zeros);
  const Bytes ref_s_hs = RefExpandLabel(md, ref_hs, "s hs traffic", th, 48);
  const Bytes ref_c_ap = RefExpandLabel(md, ref_master, "c ap traffic", th, 48);
  const Bytes ref_key = RefExpandLabel(md, ref_s_hs, "key", {}, 32);
  const Bytes ref_iv = RefExpandLabel(md, ref_s_hs, "iv", {}, 12);
  const Bytes ref_verify = RefHmac(md, RefExpandLabel(md, ref_s_hs, "finished", {}, 48), th);
  const Bytes ref_upd = RefExpandLabel(md, ref_c_ap, "traffic upd", {}, 48);

  Secret early, hs, master, s_hs, c_ap, upd;
  ASSERT_EQ(EarlySecret(HashAlg::kSha384, {}, early), CryptoStatus::kOk);
  ASSERT_EQ(HandshakeSecret(early, ecdhe, hs), CryptoStatus::kOk);
  ASSERT_EQ(MasterSecret(hs, master), CryptoStatus::kOk);
  ASSERT_EQ(ServerHandshakeTrafficSecret(hs, th, s_hs), CryptoStatus::kOk);
  ASSERT_EQ(ClientApplicationTrafficSecret(master, th, c_ap), CryptoStatus::kOk);
  ASSERT_EQ(NextApplicationTrafficSecret(c_ap, upd), CryptoStatus::kOk);
  TrafficKey key;
  ASSERT_EQ(DeriveTrafficKey(AeadAlg::kAes256Gcm, s_hs, key), CryptoStatus::kOk);
  Digest verify;
  ASSERT_EQ(FinishedVerifyData(s_hs, th, verify), CryptoStatus::kOk);

  EXPECT_EQ(Hx(early), ToHex(ref_early));
  EXPECT_EQ(Hx(hs), ToHex(ref_hs));
  EXPECT_EQ(Hx(master), ToHex(ref_master));
  EXPECT_EQ(Hx(s_hs), ToHex(ref_s_hs));
  EXPECT_EQ(Hx(c_ap), ToHex(ref_c_ap));
  EXPECT_EQ(Hx(upd), ToHex(ref_upd));
  EXPECT_EQ(ToHex(key.key), ToHex(ref_key));
  EXPECT_EQ(ToHex(key.iv), ToHex(ref_iv));
  EXPECT_EQ(Hx(verify), ToHex(ref_verify));
}

TEST(KeySchedule, SuiteLookupUsesWireNumbers) {
  SuiteParams p{};
  ASSERT_TRUE(LookupSuite(0x1301, p));
  EXPECT_EQ(p.aead, AeadAlg::kAes128Gcm);
  EXPECT_EQ(p.hash, HashAlg::kSha256);
  ASSERT_TRUE(LookupSuite(0x1302, p));
  EXPECT_EQ(p.aead, AeadAlg::kAes256Gcm);
  EXPECT_EQ(p.hash, HashAlg::kSha384);
  ASSERT_TRUE(LookupSuite(0x1303, p));
  EXPECT_EQ(p.aead, AeadAlg::kChacha20Poly1305);
  EXPECT_FALSE(LookupSuite(0x1304, p));  // TLS_AES_128_CCM_SHA256: not offered
  EXPECT_FALSE(LookupSuite(0xc02f, p));  // a TLS 1.2 suite
}

}  // namespace
}  // namespace baton::crypto
