// The Internet checksum (RFC 1071) against worked examples and a plain reference sum.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "dataplane/net/checksum.h"

namespace baton::dp {
namespace {

using Bytes = std::vector<uint8_t>;

ByteView View(const Bytes& b) { return {b.data(), b.size()}; }

// Reference: add 16-bit big-endian words in a wide integer, fold at the end.
uint16_t Reference(const Bytes& b) {
  uint64_t sum = 0;
  for (size_t i = 0; i < b.size(); ++i) sum += (i % 2 == 0) ? uint64_t(b[i]) << 8 : b[i];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 2ddf0, folded ddf2.
  const Bytes b = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(FoldChecksum(OnesSum(View(b))), uint16_t(~0xddf2));
  EXPECT_EQ(FoldChecksum(OnesSum(View(b))), 0x220d);
}

TEST(Checksum, EmptyAndZeros) {
  EXPECT_EQ(OnesSum({}), 0u);
  EXPECT_EQ(FoldChecksum(0), 0xffff);
  EXPECT_EQ(FoldChecksum(OnesSum(View(Bytes(10, 0)))), 0xffff);
}

TEST(Checksum, OddLengthPadsTheLastByteWithZero) {
  const Bytes odd = {0x12, 0x34, 0x56};
  const Bytes even = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(OnesSum(View(odd)), 0x1234u + 0x5600u);
  EXPECT_EQ(FoldChecksum(OnesSum(View(odd))), FoldChecksum(OnesSum(View(even))));
  EXPECT_EQ(OnesSum(View(Bytes{0xab})), 0xab00u);
}

TEST(Checksum, ChainedSumsEqualOneSum) {
  Bytes b(100);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i * 37 + 11);
  const uint32_t whole = OnesSum(View(b));
  const uint32_t chained = OnesSum({b.data() + 40, 60}, OnesSum({b.data(), 40}));
  EXPECT_EQ(FoldChecksum(whole), FoldChecksum(chained));
}

TEST(Checksum, StoredChecksumVerifies) {
  // An IPv4 header (RFC 791 layout) with the well-known example checksum b861.
  Bytes h = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
             0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  SetIpv4HeaderChecksum({h.data(), h.size()});
  EXPECT_EQ(h[10], 0xb8);
  EXPECT_EQ(h[11], 0x61);
  EXPECT_TRUE(ChecksumOk(View(h)));
  h[11] ^= 1;
  EXPECT_FALSE(ChecksumOk(View(h)));
  // Recomputing overwrites whatever was in the field.
  SetIpv4HeaderChecksum({h.data(), h.size()});
  EXPECT_EQ(h[11], 0x61);
}

TEST(Checksum, MatchesReferenceOnRandomInputs) {
  std::mt19937 rng(7);
  for (size_t len : {1u, 2u, 3u, 19u, 20u, 21u, 60u, 61u, 1499u, 1500u, 9001u, 65535u}) {
    Bytes b(len);
    for (uint8_t& x : b) x = uint8_t(rng());
    EXPECT_EQ(FoldChecksum(OnesSum(View(b))), Reference(b)) << len;
  }
}

TEST(Checksum, AllOnesLargeInputKeepsEveryCarry) {
  // 64 KiB of 0xff sums to 32768 * 0xffff: the carries must all come back around.
  const Bytes b(65536, 0xff);
  EXPECT_EQ(FoldChecksum(OnesSum(View(b))), Reference(b));
  EXPECT_EQ(FoldChecksum(OnesSum(View(b))), 0x0000);
  // A running sum of 0xffffffff (ones'-complement zero) plus one word of 1 is 1.
  EXPECT_EQ(OnesSum(View(Bytes{0x00, 0x01}), 0xffffffffu), 1u);
  EXPECT_EQ(FoldChecksum(OnesSum(View(Bytes{0x00, 0x01}), 0xffffffffu)), 0xfffe);
}

}  // namespace
}  // namespace baton::dp
