// PROXY protocol v2 header: exact bytes, round trips, and the strict parser's refusals.
#include "dataplane/lb/proxy_protocol.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace baton::dp::lb {
namespace {

constexpr std::array<uint8_t, 12> kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                          0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

ProxyAddrs V4Example() {
  return {.src_ip = *IpAddr::Parse("192.0.2.1"),
          .dst_ip = *IpAddr::Parse("198.51.100.7"),
          .src_port = 56324,
          .dst_port = 443};
}

// Signature, then version/command, family/transport, length, then the block.
std::vector<uint8_t> Header(uint8_t ver_cmd, uint8_t fam, std::vector<uint8_t> block) {
  std::vector<uint8_t> h(kSig.begin(), kSig.end());
  h.push_back(ver_cmd);
  h.push_back(fam);
  h.push_back(uint8_t(block.size() >> 8));
  h.push_back(uint8_t(block.size()));
  h.insert(h.end(), block.begin(), block.end());
  return h;
}

const std::vector<uint8_t> kV4Block = {192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB};

TEST(ProxyBuild, KnownIpv4Bytes) {
  std::array<uint8_t, 64> buf{};
  ASSERT_EQ(BuildProxyHeader(V4Example(), buf), kProxyIpv4Bytes);
  const std::vector<uint8_t> expected = {
      0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
      0x21,                                                                    // v2, PROXY
      0x11,                                                                    // TCP over IPv4
      0x00, 0x0C,                                                              // 12 bytes follow
      0xC0, 0x00, 0x02, 0x01,                                                  // 192.0.2.1
      0xC6, 0x33, 0x64, 0x07,                                                  // 198.51.100.7
      0xDC, 0x04,                                                              // 56324
      0x01, 0xBB};                                                             // 443
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + kProxyIpv4Bytes), expected);
  EXPECT_EQ(expected, Header(0x21, 0x11, kV4Block));
}

TEST(ProxyBuild, Ipv6Layout) {
  const ProxyAddrs a{.src_ip = *IpAddr::Parse("2001:db8::1"),
                     .dst_ip = *IpAddr::Parse("2001:db8::ff"),
                     .src_port = 1,
                     .dst_port = 65535};
  std::array<uint8_t, kProxyIpv6Bytes> buf{};
  ASSERT_EQ(BuildProxyHeader(a, buf), 52u);
  EXPECT_EQ(buf[12], 0x21);
  EXPECT_EQ(buf[13], 0x21);  // TCP over IPv6
  EXPECT_EQ(buf[14], 0x00);
  EXPECT_EQ(buf[15], 36);
  EXPECT_EQ(buf[16], 0x20);
  EXPECT_EQ(buf[17], 0x01);
  EXPECT_EQ(buf[31], 0x01);
  EXPECT_EQ(buf[47], 0xff);
  EXPECT_EQ(buf[48], 0x00);
  EXPECT_EQ(buf[49], 0x01);
  EXPECT_EQ(buf[50], 0xff);
  EXPECT_EQ(buf[51], 0xff);
}

TEST(ProxyBuild, BufferTooSmallOrBadAddressesWritesNothing) {
  std::array<uint8_t, 64> buf{};
  EXPECT_EQ(BuildProxyHeader(V4Example(), MutByteView(buf).first(27)), 0u);
  EXPECT_EQ(BuildProxyHeader(V4Example(), MutByteView(buf).first(28)), 28u);
  ProxyAddrs mixed = V4Example();
  mixed.dst_ip = *IpAddr::Parse("::1");
  EXPECT_EQ(BuildProxyHeader(mixed, buf), 0u);
  EXPECT_EQ(BuildProxyHeader(ProxyAddrs{}, buf), 0u);
  EXPECT_EQ(BuildProxyLocalHeader(MutByteView(buf).first(15)), 0u);
}

TEST(ProxyBuild, LocalHeader) {
  std::array<uint8_t, 16> buf{};
  ASSERT_EQ(BuildProxyLocalHeader(buf), 16u);
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.end()), Header(0x20, 0x00, {}));
}

TEST(ProxyParse, RoundTripIpv4AndIpv6WithPayloadAfter) {
  for (const ProxyAddrs& a :
       {V4Example(), ProxyAddrs{.src_ip = *IpAddr::Parse("fe80::1:2"),
                                .dst_ip = *IpAddr::Parse("2001:db8::7"),
                                .src_port = 40000,
                                .dst_port = 8443}}) {
    std::array<uint8_t, 80> buf{};
    const size_t n = BuildProxyHeader(a, buf);
    ASSERT_GT(n, 0u);
    buf[n] = 0x16;  // first byte of a TLS record: not part of the header
    ProxyHeader h;
    ASSERT_EQ(ParseProxyHeader(ByteView(buf).first(n + 1), h), ProxyParseStatus::kOk);
    EXPECT_EQ(h.command, ProxyCommand::kProxy);
    EXPECT_EQ(h.header_bytes, n);
    EXPECT_EQ(h.addrs.src_ip, a.src_ip);
    EXPECT_EQ(h.addrs.dst_ip, a.dst_ip);
    EXPECT_EQ(h.addrs.src_port, a.src_port);
    EXPECT_EQ(h.addrs.dst_port, a.dst_port);
    EXPECT_TRUE(h.tlvs.empty());
  }
}

TEST(ProxyParse, LocalCommand) {
  ProxyHeader h;
  const auto local = Header(0x20, 0x00, {});
  ASSERT_EQ(ParseProxyHeader(local, h), ProxyParseStatus::kOk);
  EXPECT_EQ(h.command, ProxyCommand::kLocal);
  EXPECT_EQ(h.header_bytes, 16u);
  EXPECT_FALSE(h.addrs.src_ip.IsSet());
  // "Receivers MUST always consider this field to skip the appropriate number of bytes
  // and must not assume zero is presented for LOCAL connections": a block is skipped,
  // and its family ignored, even an unassigned one.
  const auto with_block = Header(0x20, 0x11, kV4Block);
  ASSERT_EQ(ParseProxyHeader(with_block, h), ProxyParseStatus::kOk);
  EXPECT_EQ(h.header_bytes, 28u);
  EXPECT_FALSE(h.addrs.src_ip.IsSet());
  EXPECT_EQ(ParseProxyHeader(Header(0x20, 0x99, {1, 2}), h), ProxyParseStatus::kOk);
}

TEST(ProxyParse, EveryTruncationNeedsMore) {
  const auto full = Header(0x21, 0x11, kV4Block);
  ProxyHeader h;
  for (size_t len = 0; len < full.size(); ++len) {
    EXPECT_EQ(ParseProxyHeader(ByteView(full).first(len), h), ProxyParseStatus::kNeedMore)
        << len;
  }
}

TEST(ProxyParse, BadSignatureSeenAtTheFirstWrongByte) {
  const auto full = Header(0x21, 0x11, kV4Block);
  ProxyHeader h;
  for (size_t i = 0; i < kSig.size(); ++i) {
    auto bad = full;
    bad[i] ^= 0x20;
    EXPECT_EQ(ParseProxyHeader(bad, h), ProxyParseStatus::kBadSignature) << i;
    EXPECT_EQ(ParseProxyHeader(ByteView(bad).first(i + 1), h), ProxyParseStatus::kBadSignature)
        << i;
  }
  // A PROXY v1 line and a TLS ClientHello are both refused at once.
  const std::vector<uint8_t> v1 = {'P', 'R', 'O', 'X', 'Y', ' '};
  EXPECT_EQ(ParseProxyHeader(v1, h), ProxyParseStatus::kBadSignature);
  const std::vector<uint8_t> tls = {0x16, 0x03, 0x01};
  EXPECT_EQ(ParseProxyHeader(tls, h), ProxyParseStatus::kBadSignature);
}

TEST(ProxyParse, StrictVersionCommandFamilyLength) {
  ProxyHeader h;
  EXPECT_EQ(ParseProxyHeader(Header(0x11, 0x11, kV4Block), h), ProxyParseStatus::kBadVersion);
  EXPECT_EQ(ParseProxyHeader(Header(0x31, 0x11, kV4Block), h), ProxyParseStatus::kBadVersion);
  EXPECT_EQ(ParseProxyHeader(Header(0x22, 0x11, kV4Block), h), ProxyParseStatus::kBadCommand);
  EXPECT_EQ(ParseProxyHeader(Header(0x2F, 0x11, kV4Block), h), ProxyParseStatus::kBadCommand);
  for (uint8_t fam : {0x01, 0x10, 0x13, 0x23, 0x33, 0x41, 0xF1}) {
    EXPECT_EQ(ParseProxyHeader(Header(0x21, fam, kV4Block), h), ProxyParseStatus::kBadFamily)
        << int(fam);
  }
  // Length shorter than the family's addresses.
  EXPECT_EQ(ParseProxyHeader(Header(0x21, 0x11, std::vector<uint8_t>(11)), h),
            ProxyParseStatus::kBadLength);
  EXPECT_EQ(ParseProxyHeader(Header(0x21, 0x21, kV4Block), h), ProxyParseStatus::kBadLength);
  EXPECT_EQ(ParseProxyHeader(Header(0x21, 0x31, std::vector<uint8_t>(215)), h),
            ProxyParseStatus::kBadLength);
}

TEST(ProxyParse, TlvFraming) {
  ProxyHeader h;
  auto block = kV4Block;
  block.insert(block.end(), {0x04, 0x00, 0x02, 0xAA, 0xBB});  // PP2_TYPE_NOOP, 2 bytes
  ASSERT_EQ(ParseProxyHeader(Header(0x21, 0x11, block), h), ProxyParseStatus::kOk);
  EXPECT_EQ(h.header_bytes, 16u + 12 + 5);
  ASSERT_EQ(h.tlvs.size(), 5u);
  EXPECT_EQ(h.tlvs[0], 0x04);
  EXPECT_EQ(h.addrs.src_port, 56324);

  auto overrun = kV4Block;
  overrun.insert(overrun.end(), {0x04, 0x00, 0x03, 0xAA, 0xBB});  // claims 3, has 2
  EXPECT_EQ(ParseProxyHeader(Header(0x21, 0x11, overrun), h), ProxyParseStatus::kBadTlv);
  auto stub = kV4Block;
  stub.insert(stub.end(), {0x04, 0x00});  // half a TLV header
  EXPECT_EQ(ParseProxyHeader(Header(0x21, 0x11, stub), h), ProxyParseStatus::kBadTlv);
}

TEST(ProxyParse, UnspecUdpAndUnixParseWithoutAddresses) {
  ProxyHeader h;
  ASSERT_EQ(ParseProxyHeader(Header(0x21, 0x00, {}), h), ProxyParseStatus::kOk);
  EXPECT_FALSE(h.addrs.src_ip.IsSet());
  ASSERT_EQ(ParseProxyHeader(Header(0x21, 0x12, kV4Block), h), ProxyParseStatus::kOk);
  EXPECT_EQ(h.family_transport, 0x12);
  EXPECT_FALSE(h.addrs.src_ip.IsSet());
  ASSERT_EQ(ParseProxyHeader(Header(0x21, 0x32, std::vector<uint8_t>(216)), h),
            ProxyParseStatus::kOk);
  EXPECT_EQ(h.header_bytes, 232u);
}

}  // namespace
}  // namespace baton::dp::lb
