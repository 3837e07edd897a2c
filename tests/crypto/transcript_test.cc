// The transcript hash is a value: a plain copy forks it, and every fork keeps hashing
// correctly. Checked against OpenSSL's one-shot EVP_Digest over the same bytes.

#include "crypto/transcript.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/crypto/hex.h"

namespace baton::crypto {
namespace {

using test::ToHex;
using Bytes = std::vector<uint8_t>;

std::string EvpHash(HashAlg alg, const Bytes& data) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  const EVP_MD* type = alg == HashAlg::kSha384 ? EVP_sha384() : EVP_sha256();
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md.data(), &len, type, nullptr), 1);
  return ToHex(ByteView(md.data(), len));
}

std::string Hx(const Transcript& t) {
  Digest d;
  t.Current(d);
  return ToHex(d.view());
}

class TranscriptTest : public ::testing::TestWithParam<HashAlg> {};

std::string HashName(const ::testing::TestParamInfo<HashAlg>& p) {
  return p.param == HashAlg::kSha256 ? "Sha256" : "Sha384";
}

INSTANTIATE_TEST_SUITE_P(Both, TranscriptTest,
                         ::testing::Values(HashAlg::kSha256, HashAlg::kSha384), HashName);

TEST_P(TranscriptTest, EmptyAndKnownAnswer) {
  const HashAlg alg = GetParam();
  EXPECT_EQ(Hx(Transcript(alg)), EvpHash(alg, {}));
  if (alg == HashAlg::kSha256) {
    // FIPS 180-4 / RFC 8448 "hash (32 octets)" of the empty string.
    EXPECT_EQ(Hx(Transcript(alg)),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
}

TEST_P(TranscriptTest, CurrentDoesNotFinaliseAndCopiesFork) {
  const HashAlg alg = GetParam();
  std::mt19937 rng(7);
  Bytes all;
  Transcript t(alg);
  // Chunks of awkward sizes so the pending partial block is non-empty at the copy.
  for (size_t chunk : {1u, 63u, 64u, 65u, 127u, 128u, 129u, 1000u}) {
    Bytes b(chunk);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    t.Update(b);
    all.insert(all.end(), b.begin(), b.end());
    ASSERT_EQ(Hx(t), EvpHash(alg, all)) << "after chunk " << chunk;
    ASSERT_EQ(Hx(t), EvpHash(alg, all)) << "Current() twice gives the same answer";
  }

  // Fork in the middle: a plain copy (what moving a half-done handshake does), a memcpy
  // into raw storage (what a replication buffer does) and Clone().
  Transcript copy = t;
  alignas(Transcript) unsigned char raw[sizeof(Transcript)];
  std::memcpy(raw, &t, sizeof(t));
  Transcript clone = t.Clone();

  const Bytes tail_a = {'a', 'b', 'c'};
  const Bytes tail_b(300, 0x5a);
  t.Update(tail_a);
  copy.Update(tail_b);
  clone.Update(tail_a);
  Transcript revived(HashAlg::kSha256);
  std::memcpy(&revived, raw, sizeof(revived));
  revived.Update(tail_b);

  Bytes all_a = all, all_b = all;
  all_a.insert(all_a.end(), tail_a.begin(), tail_a.end());
  all_b.insert(all_b.end(), tail_b.begin(), tail_b.end());
  EXPECT_EQ(Hx(t), EvpHash(alg, all_a));
  EXPECT_EQ(Hx(clone), EvpHash(alg, all_a));
  EXPECT_EQ(Hx(copy), EvpHash(alg, all_b));
  EXPECT_EQ(Hx(revived), EvpHash(alg, all_b));
  EXPECT_EQ(revived.alg(), alg);
}

TEST_P(TranscriptTest, ResetStartsOver) {
  const HashAlg alg = GetParam();
  Transcript t(HashAlg::kSha256);
  t.Update(Bytes(10, 1));
  t.Reset(alg);
  EXPECT_EQ(t.alg(), alg);
  EXPECT_EQ(Hx(t), EvpHash(alg, {}));
}

TEST(Transcript, IsTriviallyCopyable) {
  static_assert(std::is_trivially_copyable_v<Transcript>);
  static_assert(std::is_trivially_copyable_v<Digest>);
  Digest d;
  Transcript(HashAlg::kSha384).Current(d);
  EXPECT_EQ(d.len, 48);
}

}  // namespace
}  // namespace baton::crypto
