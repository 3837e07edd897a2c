// IpAddr / IpPrefix parsing, printing and containment, as tables of text.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "dataplane/api/ip_addr.h"

namespace baton::dp {
namespace {

IpAddr A(std::string_view text) {
  const auto a = IpAddr::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddr{});
}
IpPrefix P(std::string_view text) {
  const auto p = IpPrefix::Parse(text);
  EXPECT_TRUE(p.has_value()) << text;
  return p.value_or(IpPrefix{});
}

TEST(IpAddrParse, GoodV4) {
  const IpAddr a = A("198.18.2.11");
  EXPECT_TRUE(a.IsV4());
  EXPECT_EQ(a.V4HostOrder(), 0xc612020bu);
  EXPECT_EQ(a, IpAddr::V4(0xc612020bu));
  for (size_t i = 4; i < 16; ++i) EXPECT_EQ(a.bytes[i], 0) << i;
  EXPECT_EQ(A("0.0.0.0").V4HostOrder(), 0u);
  EXPECT_EQ(A("255.255.255.255").V4HostOrder(), 0xffffffffu);
}

TEST(IpAddrParse, V4IsNotV6Mapped) {
  EXPECT_NE(A("1.2.3.4"), A("::ffff:1.2.3.4"));
  EXPECT_EQ(A("::ffff:1.2.3.4").family, IpFamily::kV6);
}

TEST(IpAddrParse, BadInputs) {
  for (std::string_view bad :
       {"", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/32",
        "a.b.c.d", "localhost", "0x01.2.3.4", "1..2.3", "1.2.3.", ":::", "1:2:3:4:5:6:7:8:9",
        "2001:db8::1::2", "2001:db8::g", "fe80::1%eth0", "[::1]",
        "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000"}) {
    EXPECT_FALSE(IpAddr::Parse(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(IpAddrParse, EmbeddedNulIsRejected) {
  // inet_pton stops at the first NUL: "1.2.3.4\0junk" must not parse as 1.2.3.4.
  const std::string text("1.2.3.4\0junk", 12);
  EXPECT_FALSE(IpAddr::Parse(text).has_value());
}

TEST(IpAddrText, V4RoundTrip) {
  for (std::string_view t : {"0.0.0.0", "10.0.0.1", "198.18.2.11", "255.255.255.255"})
    EXPECT_EQ(A(t).ToString(), t);
}

TEST(IpAddrText, V6RoundTripIsRfc5952) {
  struct Row {
    std::string_view in, out;
  };
  const Row rows[] = {
      {"2001:db8::1", "2001:db8::1"},
      {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
      {"::", "::"},
      {"::1", "::1"},
      {"fe80::", "fe80::"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // RFC 5952 4.2.3: first longest run
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // 4.2.2: a single 0 is not ::
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
  };
  for (const Row& r : rows) {
    const IpAddr a = A(r.in);
    EXPECT_EQ(a.family, IpFamily::kV6) << r.in;
    EXPECT_EQ(a.ToString(), r.out) << r.in;
    EXPECT_EQ(A(a.ToString()), a) << r.in;
  }
  EXPECT_EQ(IpAddr{}.ToString(), "none");
}

TEST(IpPrefixParse, Good) {
  const IpPrefix p = P("198.18.2.11/24");
  EXPECT_EQ(p.addr, A("198.18.2.11"));  // host bits are kept as written
  EXPECT_EQ(p.length, 24);
  EXPECT_EQ(p.ToString(), "198.18.2.11/24");
  EXPECT_EQ(P("0.0.0.0/0").length, 0);
  EXPECT_EQ(P("10.0.0.1/32").length, 32);
  EXPECT_EQ(P("2001:db8::/32").length, 32);
  EXPECT_EQ(P("::/0").length, 0);
  EXPECT_EQ(P("::1/128").length, 128);
  EXPECT_EQ(P("2001:db8::/64").ToString(), "2001:db8::/64");
}

TEST(IpPrefixParse, Bad) {
  for (std::string_view bad :
       {"", "/", "10.0.0.0", "10.0.0.0/", "/24", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
        "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/8/8", "10.0.0.0/0x8", "10.0.0.0/24a",
        "10.0.0.0/4294967320", "10.0.0/8", "host/8", "::/129", "2001:db8::/200"}) {
    EXPECT_FALSE(IpPrefix::Parse(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(IpPrefixContains, Table) {
  struct Row {
    std::string_view prefix, addr;
    bool contains;
  };
  const Row rows[] = {
      // /0 holds every address of its family, and only of its family.
      {"0.0.0.0/0", "0.0.0.0", true},
      {"0.0.0.0/0", "255.255.255.255", true},
      {"0.0.0.0/0", "::1", false},
      {"::/0", "2001:db8::1", true},
      {"::/0", "1.2.3.4", false},
      // /1 splits the space at the top bit.
      {"128.0.0.0/1", "128.0.0.0", true},
      {"128.0.0.0/1", "255.1.2.3", true},
      {"128.0.0.0/1", "127.255.255.255", false},
      {"0.0.0.0/1", "127.255.255.255", true},
      {"0.0.0.0/1", "128.0.0.0", false},
      {"8000::/1", "ffff::1", true},
      {"8000::/1", "7fff::1", false},
      // /24, with host bits set in the prefix itself.
      {"198.18.2.0/24", "198.18.2.0", true},
      {"198.18.2.0/24", "198.18.2.255", true},
      {"198.18.2.11/24", "198.18.2.200", true},
      {"198.18.2.0/24", "198.18.3.0", false},
      {"198.18.2.0/24", "198.18.1.255", false},
      // Non-byte lengths.
      {"10.0.0.0/13", "10.7.255.255", true},
      {"10.0.0.0/13", "10.8.0.0", false},
      {"2001:db8::/33", "2001:db8:7fff::1", true},
      {"2001:db8::/33", "2001:db8:8000::1", false},
      // /32 and /128 are one address.
      {"10.0.0.1/32", "10.0.0.1", true},
      {"10.0.0.1/32", "10.0.0.2", false},
      {"10.0.0.1/32", "10.0.0.0", false},
      {"2001:db8::1/128", "2001:db8::1", true},
      {"2001:db8::1/128", "2001:db8::", false},
      // Same bytes, other family: never contained.
      {"1.2.3.4/32", "102:304::", false},
  };
  for (const Row& r : rows)
    EXPECT_EQ(P(r.prefix).Contains(A(r.addr)), r.contains) << r.prefix << " contains " << r.addr;
  EXPECT_FALSE(P("0.0.0.0/0").Contains(IpAddr{})) << "an unset address is in no prefix";
}

}  // namespace
}  // namespace baton::dp
