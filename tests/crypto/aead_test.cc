// AEAD through ipsec-mb, checked three ways:
//  - known answers from the specs (GCM spec test cases 4 and 16, RFC 8439 2.8.2, and the
//    RFC 8448 client Finished record, which also exercises the TLS 1.3 nonce);
//  - differential: every seal is opened by OpenSSL EVP and every EVP seal is opened by us,
//    over random keys, nonces, AAD and the record lengths that matter for TLS;
//  - tampering: any flipped bit in ciphertext, tag or AAD gives kBadTag and a wiped buffer.

#include "crypto/aead.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/crypto/hex.h"

namespace baton::crypto {
namespace {

using test::Hex;
using test::ToHex;
using Bytes = std::vector<uint8_t>;

constexpr size_t kLengths[] = {0, 1, 15, 16, 17, 255, 1400, 16384, 16384 + 256};
constexpr size_t kAadLengths[] = {0, 5, 13, 16, 29};  // 5: TLS 1.3 header; 13: TLS 1.2

const EVP_CIPHER* EvpCipher(AeadAlg alg) {
  switch (alg) {
    case AeadAlg::kAes128Gcm: return EVP_aes_128_gcm();
    case AeadAlg::kAes256Gcm: return EVP_aes_256_gcm();
    case AeadAlg::kChacha20Poly1305: return EVP_chacha20_poly1305();
  }
  return nullptr;
}

// OpenSSL as the reference implementation. Returns false on any EVP failure or bad tag.
bool EvpAead(bool seal, AeadAlg alg, const TrafficKey& key, const Nonce& nonce,
             const Bytes& aad, Bytes& data, std::array<uint8_t, 16>& tag) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  bool ok = ctx != nullptr;
  int len = 0;
  ok = ok && EVP_CipherInit_ex(ctx, EvpCipher(alg), nullptr, nullptr, nullptr, seal ? 1 : 0) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1;
  ok = ok && EVP_CipherInit_ex(ctx, nullptr, nullptr, key.key.data(), nonce.data(), -1) == 1;
  if (ok && !aad.empty()) ok = EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), int(aad.size())) == 1;
  Bytes out(data.size() + 32);
  int out_len = 0;
  if (ok && !data.empty()) {
    ok = EVP_CipherUpdate(ctx, out.data(), &len, data.data(), int(data.size())) == 1;
    out_len = len;
  }
  if (ok && !seal) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag.data()) == 1;
  ok = ok && EVP_CipherFinal_ex(ctx, out.data() + out_len, &len) == 1;
  out_len += len;
  if (ok && seal) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag.data()) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (ok) data.assign(out.begin(), out.begin() + out_len);
  return ok;
}

TrafficKey MakeKey(AeadAlg alg, const Bytes& key, const Bytes& iv) {
  TrafficKey k;
  k.alg = alg;
  std::copy(key.begin(), key.end(), k.key.begin());
  std::copy(iv.begin(), iv.end(), k.iv.begin());
  return k;
}

class AeadTest : public ::testing::TestWithParam<AeadAlg> {
 protected:
  void SetUp() override {
    auto c = CryptoContext::Create();
    ASSERT_TRUE(c.has_value());
    ctx_.emplace(std::move(*c));
  }

  Bytes Random(size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }

  TrafficKey RandomKey(AeadAlg alg) {
    return MakeKey(alg, Random(AeadKeyBytes(alg)), Random(kAeadIvBytes));
  }

  std::optional<CryptoContext> ctx_;
  std::mt19937_64 rng_{20240611};  // fixed seed: failures reproduce
};

std::string AlgName(const ::testing::TestParamInfo<AeadAlg>& info) {
  switch (info.param) {
    case AeadAlg::kAes128Gcm: return "Aes128Gcm";
    case AeadAlg::kAes256Gcm: return "Aes256Gcm";
    case AeadAlg::kChacha20Poly1305: return "Chacha20Poly1305";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(AllAlgs, AeadTest,
                         ::testing::Values(AeadAlg::kAes128Gcm, AeadAlg::kAes256Gcm,
                                           AeadAlg::kChacha20Poly1305),
                         AlgName);

TEST_P(AeadTest, SealMatchesOpensslAndOpensslOpensIt) {
  const AeadAlg alg = GetParam();
  for (const size_t len : kLengths) {
    for (const size_t aad_len : kAadLengths) {
      const TrafficKey raw = RandomKey(alg);
      AeadKey key;
      ASSERT_EQ(ctx_->Expand(raw, key), CryptoStatus::kOk);
      const uint64_t seq = rng_();
      const Bytes aad = Random(aad_len);
      const Bytes plain = Random(len);

      Bytes ours = plain;
      std::array<uint8_t, 16> our_tag{};
      ASSERT_EQ(ctx_->Seal(key, seq, aad, ours, our_tag), CryptoStatus::kOk);

      Bytes theirs = plain;
      std::array<uint8_t, 16> their_tag{};
      const Nonce nonce = Tls13Nonce(raw.iv, seq);
      ASSERT_TRUE(EvpAead(true, alg, raw, nonce, aad, theirs, their_tag));
      ASSERT_EQ(ToHex(ours), ToHex(theirs)) << "len " << len << " aad " << aad_len;
      ASSERT_EQ(ToHex(our_tag), ToHex(their_tag)) << "len " << len << " aad " << aad_len;

      // And OpenSSL opens what we sealed.
      ASSERT_TRUE(EvpAead(false, alg, raw, nonce, aad, ours, our_tag));
      ASSERT_EQ(ours, plain);
    }
  }
}

TEST_P(AeadTest, OpensWhatOpensslSealed) {
  const AeadAlg alg = GetParam();
  for (const size_t len : kLengths) {
    for (const size_t aad_len : kAadLengths) {
      const TrafficKey raw = RandomKey(alg);
      AeadKey key;
      ASSERT_EQ(ctx_->Expand(raw, key), CryptoStatus::kOk);
      Nonce nonce;
      const Bytes n = Random(nonce.size());
      std::copy(n.begin(), n.end(), nonce.begin());
      const Bytes aad = Random(aad_len);
      const Bytes plain = Random(len);

      Bytes data = plain;
      std::array<uint8_t, 16> tag{};
      ASSERT_TRUE(EvpAead(true, alg, raw, nonce, aad, data, tag));
      ASSERT_EQ(ctx_->OpenWithNonce(key, nonce, aad, data, tag), CryptoStatus::kOk);
      ASSERT_EQ(data, plain) << "len " << len << " aad " << aad_len;
    }
  }
}

TEST_P(AeadTest, AnyFlippedBitIsBadTagAndWipesTheBuffer) {
  const AeadAlg alg = GetParam();
  for (const size_t len : kLengths) {
    const TrafficKey raw = RandomKey(alg);
    AeadKey key;
    ASSERT_EQ(ctx_->Expand(raw, key), CryptoStatus::kOk);
    const Bytes aad = Random(13);
    const Bytes plain = Random(len);
    Bytes sealed = plain;
    std::array<uint8_t, 16> tag{};
    ASSERT_EQ(ctx_->Seal(key, 7, aad, sealed, tag), CryptoStatus::kOk);

    for (int trial = 0; trial < 8; ++trial) {
      const uint8_t bit = static_cast<uint8_t>(1u << (rng_() % 8));
      Bytes data = sealed;
      Bytes bad_aad = aad;
      std::array<uint8_t, 16> bad_tag = tag;
      const int where = len == 0 ? trial % 2 : trial % 3;  // nothing to flip in an empty body
      if (where == 0) bad_tag[rng_() % bad_tag.size()] ^= bit;
      if (where == 1) bad_aad[rng_() % bad_aad.size()] ^= bit;
      if (where == 2) data[rng_() % data.size()] ^= bit;
      ASSERT_EQ(ctx_->Open(key, 7, bad_aad, data, bad_tag), CryptoStatus::kBadTag)
          << "len " << len << " where " << where;
      ASSERT_TRUE(std::all_of(data.begin(), data.end(), [](uint8_t b) { return b == 0; }))
          << "unauthenticated plaintext left in the buffer";
    }
    // Wrong sequence number (= wrong nonce) fails too; the right one still opens.
    Bytes data = sealed;
    ASSERT_EQ(ctx_->Open(key, 8, aad, data, tag), CryptoStatus::kBadTag);
    data = sealed;
    ASSERT_EQ(ctx_->Open(key, 7, aad, data, tag), CryptoStatus::kOk);
    ASSERT_EQ(data, plain);
  }
}

TEST_P(AeadTest, CopiedKeysWorkAndUnexpandedKeysAreRejected) {
  const AeadAlg alg = GetParam();
  const TrafficKey raw = RandomKey(alg);
  AeadKey key;
  Bytes data = Random(100);
  std::array<uint8_t, 16> tag{};
  EXPECT_EQ(ctx_->Seal(key, 0, {}, data, tag), CryptoStatus::kBadKey);  // never expanded

  ASSERT_EQ(ctx_->Expand(raw, key), CryptoStatus::kOk);
  const AeadKey copy = key;  // e.g. handed to another worker on this box
  const Bytes plain = data;
  ASSERT_EQ(ctx_->Seal(key, 1, {}, data, tag), CryptoStatus::kOk);

  // A second context (another lcore) opens with the copied schedule.
  auto other = CryptoContext::Create();
  ASSERT_TRUE(other.has_value());
  ASSERT_EQ(other->Open(copy, 1, {}, data, tag), CryptoStatus::kOk);
  EXPECT_EQ(data, plain);
}

TEST(AeadArch, EveryIpsecMbCodePathMatchesOpenssl) {
  // Create() picks the best path for this CPU; force each one the CPU supports.
  std::mt19937_64 rng(99);
  int covered = 0;
  for (const uint32_t arch : {2u, 3u, 4u, 5u}) {  // IMB_ARCH_SSE .. IMB_ARCH_AVX512
    auto ctx = CryptoContext::CreateForArchForTest(arch);
    if (!ctx.has_value()) continue;
    ++covered;
    for (const AeadAlg alg : {AeadAlg::kAes128Gcm, AeadAlg::kAes256Gcm, AeadAlg::kChacha20Poly1305}) {
      for (const size_t len : kLengths) {
        Bytes kb(32), iv(12), aad(13), plain(len);
        for (auto* v : {&kb, &iv, &aad, &plain}) {
          for (auto& x : *v) x = static_cast<uint8_t>(rng());
        }
        const TrafficKey raw = MakeKey(alg, kb, iv);
        AeadKey key;
        ASSERT_EQ(ctx->Expand(raw, key), CryptoStatus::kOk);
        Bytes ours = plain, theirs = plain;
        std::array<uint8_t, 16> our_tag{}, their_tag{};
        ASSERT_EQ(ctx->Seal(key, len, aad, ours, our_tag), CryptoStatus::kOk);
        ASSERT_TRUE(EvpAead(true, alg, raw, Tls13Nonce(raw.iv, len), aad, theirs, their_tag));
        ASSERT_EQ(ToHex(ours), ToHex(theirs)) << "arch " << arch << " len " << len;
        ASSERT_EQ(ToHex(our_tag), ToHex(their_tag)) << "arch " << arch << " len " << len;
        ASSERT_EQ(ctx->Open(key, len, aad, ours, our_tag), CryptoStatus::kOk);
        ASSERT_EQ(ours, plain);
      }
    }
  }
  EXPECT_GE(covered, 1);
}

TEST(AeadArch, GcmKeyExpandedForAnotherArchIsRefused) {
  auto sse = CryptoContext::CreateForArchForTest(2);
  auto best = CryptoContext::Create();
  ASSERT_TRUE(sse.has_value() && best.has_value());
  if (best->arch() == sse->arch()) GTEST_SKIP() << "this CPU only has the SSE path";
  AeadKey key;
  ASSERT_EQ(sse->Expand(MakeKey(AeadAlg::kAes128Gcm, Bytes(16, 1), Bytes(12, 2)), key),
            CryptoStatus::kOk);
  Bytes data(64, 3);
  std::array<uint8_t, 16> tag{};
  EXPECT_EQ(best->Seal(key, 0, {}, data, tag), CryptoStatus::kWrongContext);
  // ChaCha20 has no schedule, so its keys travel between code paths freely.
  ASSERT_EQ(sse->Expand(MakeKey(AeadAlg::kChacha20Poly1305, Bytes(32, 1), Bytes(12, 2)), key),
            CryptoStatus::kOk);
  EXPECT_EQ(best->Seal(key, 0, {}, data, tag), CryptoStatus::kOk);
}

TEST(AeadKnownAnswer, GcmSpecTestCase4Aes128) {
  // McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, Test Case 4.
  auto ctx = CryptoContext::Create();
  ASSERT_TRUE(ctx.has_value());
  AeadKey key;
  ASSERT_EQ(ctx->Expand(MakeKey(AeadAlg::kAes128Gcm, Hex("feffe9928665731c6d6a8f9467308308"), {}),
                        key),
            CryptoStatus::kOk);
  const Bytes iv = Hex("cafebabefacedbaddecaf888");
  Nonce nonce;
  std::copy(iv.begin(), iv.end(), nonce.begin());
  const Bytes aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  Bytes data = Hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  const Bytes plain = data;
  std::array<uint8_t, 16> tag{};
  ASSERT_EQ(ctx->SealWithNonce(key, nonce, aad, data, tag), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(data),
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091");
  EXPECT_EQ(ToHex(tag), "5bc94fbc3221a5db94fae95ae7121a47");
  ASSERT_EQ(ctx->OpenWithNonce(key, nonce, aad, data, tag), CryptoStatus::kOk);
  EXPECT_EQ(data, plain);
}

TEST(AeadKnownAnswer, GcmSpecTestCase16Aes256) {
  auto ctx = CryptoContext::Create();
  ASSERT_TRUE(ctx.has_value());
  AeadKey key;
  ASSERT_EQ(ctx->Expand(MakeKey(AeadAlg::kAes256Gcm,
                                Hex("feffe9928665731c6d6a8f9467308308"
                                    "feffe9928665731c6d6a8f9467308308"),
                                {}),
                        key),
            CryptoStatus::kOk);
  const Bytes iv = Hex("cafebabefacedbaddecaf888");
  Nonce nonce;
  std::copy(iv.begin(), iv.end(), nonce.begin());
  const Bytes aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  Bytes data = Hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  std::array<uint8_t, 16> tag{};
  ASSERT_EQ(ctx->SealWithNonce(key, nonce, aad, data, tag), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(data),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662");
  EXPECT_EQ(ToHex(tag), "76fc6ece0f4e1768cddf8853bb2d551b");
}

TEST(AeadKnownAnswer, Rfc8439Section2_8_2ChaCha20Poly1305) {
  auto ctx = CryptoContext::Create();
  ASSERT_TRUE(ctx.has_value());
  AeadKey key;
  ASSERT_EQ(ctx->Expand(MakeKey(AeadAlg::kChacha20Poly1305,
                                Hex("808182838485868788898a8b8c8d8e8f"
                                    "909192939495969798999a9b9c9d9e9f"),
                                {}),
                        key),
            CryptoStatus::kOk);
  const Bytes iv = Hex("070000004041424344454647");
  Nonce nonce;
  std::copy(iv.begin(), iv.end(), nonce.begin());
  const Bytes aad = Hex("50515253c0c1c2c3c4c5c6c7");
  const std::string text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  Bytes data(text.begin(), text.end());
  std::array<uint8_t, 16> tag{};
  ASSERT_EQ(ctx->SealWithNonce(key, nonce, aad, data, tag), CryptoStatus::kOk);
  EXPECT_EQ(ToHex(data),
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
            "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
            "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
            "3ff4def08e4b7a9de576d26586cec64b6116");
  EXPECT_EQ(ToHex(tag), "1ae10b594f09e26a7e902ecbd0600691");
}

TEST(AeadKnownAnswer, Rfc8448ClientFinishedRecord) {
  // RFC 8448 3: {client} send handshake record, protected with the client handshake
  // traffic key/iv at sequence number 0. AAD is the record header (RFC 8446 5.2), and the
  // plaintext is the Finished message followed by its content type (22).
  auto ctx = CryptoContext::Create();
  ASSERT_TRUE(ctx.has_value());
  AeadKey key;
  ASSERT_EQ(ctx->Expand(MakeKey(AeadAlg::kAes128Gcm, Hex("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"),
                                Hex("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f")),
                        key),
            CryptoStatus::kOk);
  Bytes inner = Hex(
      "14 00 00 20 a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27"
      " b6 42 f2 ed d5 ce 61");
  inner.push_back(0x16);
  const Bytes record = Hex(
      "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c"
      " 7a 4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c ae ac ab 68 67 d7 26 c4 05 46");
  const Bytes header(record.begin(), record.begin() + 5);
  std::array<uint8_t, 16> tag{};
  ASSERT_EQ(ctx->Seal(key, 0, header, inner, tag), CryptoStatus::kOk);
  Bytes produced = header;
  produced.insert(produced.end(), inner.begin(), inner.end());
  produced.insert(produced.end(), tag.begin(), tag.end());
  EXPECT_EQ(ToHex(produced), ToHex(record));
}

TEST(AeadNonce, Tls13NonceXorsTheBigEndianSequenceIntoTheLowBytes) {
  const Bytes iv = Hex("000102030405060708090a0b");
  std::array<uint8_t, 12> iv_arr;
  std::copy(iv.begin(), iv.end(), iv_arr.begin());
  EXPECT_EQ(ToHex(Tls13Nonce(iv_arr, 0)), "000102030405060708090a0b");
  EXPECT_EQ(ToHex(Tls13Nonce(iv_arr, 1)), "000102030405060708090a0a");
  EXPECT_EQ(ToHex(Tls13Nonce(iv_arr, 0x1122334455667788)), "00010203" "152735435d6f7d83");
}

TEST(AeadNonce, Tls12GcmNonceIsSaltThenExplicitPart) {
  const std::array<uint8_t, 4> salt = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(ToHex(Tls12GcmNonce(salt, 0x0102030405060708)), "deadbeef0102030405060708");
  EXPECT_EQ(ToHex(Tls12GcmNonce(salt, 0)), "deadbeef0000000000000000");
}

TEST(AeadTypes, TrafficKeyIsPlainData) {
  static_assert(std::is_trivially_copyable_v<TrafficKey>);
  TrafficKey k = MakeKey(AeadAlg::kAes256Gcm, Bytes(32, 0xab), Bytes(12, 0xcd));
  k.Wipe();
  EXPECT_TRUE(std::all_of(k.key.begin(), k.key.end(), [](uint8_t b) { return b == 0; }));
  EXPECT_TRUE(std::all_of(k.iv.begin(), k.iv.end(), [](uint8_t b) { return b == 0; }));
}

}  // namespace
}  // namespace baton::crypto
