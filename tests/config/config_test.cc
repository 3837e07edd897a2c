// controlplane/config.cc: TOML text in, a ConfigSnapshot or the exact error lines out.
// Broken configs are data (STYLE.md 18): each case is a file and what the operator sees.
#include "controlplane/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace baton::cp {
namespace {

using dp::IpAddr;
using dp::IpPrefix;

// One valid front port, for cases about other tables; starts on its own line.
const std::string kFront = R"([[port]]
name = "front"
roles = ["front"]
device = "net_af_packet0,iface=front"
address = "198.18.2.11/24"
)";

// A port table: [[port]] header, then name, roles, device and address on lines 2-5 of
// the table, then `extra` from line 6.
std::string Port(const std::string& name, const std::string& roles, const std::string& device,
                 const std::string& address, const std::string& extra = "") {
  return "[[port]]\nname = \"" + name + "\"\nroles = " + roles + "\ndevice = \"" + device +
         "\"\naddress = \"" + address + "\"\n" + extra;
}

std::string ErrorOf(const std::string& text) {
  try {
    ParseConfig(text, "t.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(loaded)";
}

// ---------------------------------------------------------------------------------------
// Broken configs. `exact` is the whole what(); otherwise every `parts` entry is one line.

struct BadCase {
  const char* name;
  std::string toml;
  std::string exact;
  std::vector<std::string> parts = {};
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

const BadCase kBad[] = {
    // [dataplane]
    {"WorkersZero", "[dataplane]\nworkers = 0\n" + kFront,
     "t.toml:2: dataplane.workers: got 0, expected an integer from 1 to 64"},
    {"WorkersTooMany", "[dataplane]\nworkers = 65\n" + kFront,
     "t.toml:2: dataplane.workers: got 65, expected an integer from 1 to 64"},
    {"WorkersString", "[dataplane]\nworkers = \"two\"\n" + kFront,
     "t.toml:2: dataplane.workers: got \"two\", expected an integer from 1 to 64"},
    {"WorkersFloat", "[dataplane]\nworkers = 2.0\n" + kFront,
     "t.toml:2: dataplane.workers: got 2.0, expected an integer from 1 to 64"},
    {"WorkersBool", "[dataplane]\nworkers = true\n" + kFront,
     "t.toml:2: dataplane.workers: got true, expected an integer from 1 to 64"},
    {"WorkersBeyond64Bits", "[dataplane]\nworkers = 99999999999999999999\n" + kFront,
     "t.toml:2: dataplane.workers: got 99999999999999999999, expected an integer from 1 to 64"},
    {"IdleBackoffTooBig", "[dataplane]\nidle_backoff_us = 1_000_001\n" + kFront,
     "t.toml:2: dataplane.idle_backoff_us: got 1_000_001, expected an integer from 0 to 1000000"},
    {"IdlePollsZero", "[dataplane]\nidle_polls_before_sleep = 0\n" + kFront,
     "t.toml:2: dataplane.idle_polls_before_sleep: got 0, expected an integer from 1 to 1000000"},
    {"MbufsTooFew", "[dataplane]\nmbufs_per_port = 510\n" + kFront,
     "t.toml:2: dataplane.mbufs_per_port: got 510, expected an integer from 511 to 1048575"},
    {"RxNotPowerOfTwo", "[dataplane]\nrx_descriptors = 1000\n" + kFront,
     "t.toml:2: dataplane.rx_descriptors: got 1000, expected a power of two from 64 to 8192"},
    {"TxTooBig", "[dataplane]\ntx_descriptors = 16384\n" + kFront,
     "t.toml:2: dataplane.tx_descriptors: got 16384, expected a power of two from 64 to 8192"},
    {"BurstTooBig", "[dataplane]\nburst = 257\n" + kFront,
     "t.toml:2: dataplane.burst: got 257, expected an integer from 1 to 256"},
    {"DataplaneNotTable", "dataplane = 3\n" + kFront,
     "t.toml:1: dataplane: got 3, expected a table"},
    // [arp]
    {"ReachableTooShort", "[arp]\nreachable_ms = 999\n" + kFront,
     "t.toml:2: arp.reachable_ms: got 999, expected an integer from 1000 to 3600000"},
    {"StaleBelowReachable", "[arp]\nreachable_ms = 60000\nstale_ms = 50000\n" + kFront,
     "t.toml:3: arp.stale_ms: got 50000, expected an integer from 60000 (arp.reachable_ms) "
     "to 86400000"},
    {"StaleTooLong", "[arp]\nstale_ms = 86400001\n" + kFront,
     "t.toml:2: arp.stale_ms: got 86400001, expected an integer from 30000 (the default "
     "arp.reachable_ms) "
     "to 86400000"},
    {"ReachableAboveDefaultStale", "[arp]\nreachable_ms = 400000\n" + kFront,
     "t.toml:2: arp.reachable_ms: got 400000, expected an integer from 1000 to 300000 "
     "(the default arp.stale_ms)"},
    {"StaleBelowBadReachable", "[arp]\nreachable_ms = \"slow\"\nstale_ms = 999\n" + kFront,
     "t.toml:2: arp.reachable_ms: got \"slow\", expected an integer from 1000 to 3600000\n"
     "t.toml:3: arp.stale_ms: got 999, expected an integer from 1000 to 86400000"},
    {"ArpRetries",
     "[arp]\nretry_ms = 99\nretries = 11\npending_packets = 65\n" + kFront,
     "t.toml:2: arp.retry_ms: got 99, expected an integer from 100 to 60000\n"
     "t.toml:3: arp.retries: got 11, expected an integer from 1 to 10\n"
     "t.toml:4: arp.pending_packets: got 65, expected an integer from 0 to 64"},
    // Unknown tables and keys.
    {"KeyTypo", "[dataplane]\nwokers = 2\n" + kFront,
     "t.toml:2: dataplane.wokers: got 2, expected a known key (did you mean \"workers\"?)"},
    {"KeyTransposed", "[arp]\nretires = 2\n" + kFront,
     "t.toml:2: arp.retires: got 2, expected a known key (did you mean \"retries\"?)"},
    {"KeyUnknown", "[arp]\ncolour = \"red\"\n" + kFront,
     "t.toml:2: arp.colour: got \"red\", expected a known key (one of reachable_ms, stale_ms, "
     "retry_ms, retries, pending_packets)"},
    {"TableTypo", "[dataplan]\nworkers = 2\n" + kFront,
     "t.toml:1: dataplan: got a table, expected a known table (did you mean \"dataplane\"?)"},
    {"TopLevelKey", "workers = 2\n" + kFront,
     "t.toml:1: workers: got 2, expected a known table (one of dataplane, arp, port)"},
    {"PortKeyTypo", kFront + "gatway = \"198.18.2.1\"\n",
     "t.toml:6: port[0].gatway: got \"198.18.2.1\", expected a known key (did you mean "
     "\"gateway\"?)"},
    {"PortSubTable", kFront + "[port.extra]\nx = 1\n",
     "t.toml:6: port[0].extra: got a table, expected a known key (one of name, roles, device, "
     "address, gateway, mtu, vlan)"},
    // The port list.
    {"NoPorts", "[dataplane]\nworkers = 1\n",
     "t.toml:1: port: got nothing, expected at least one [[port]] table"},
    {"PortAsTable", "[port]\nname = \"front\"\n",
     "t.toml:1: port: got a table, expected an array of tables written [[port]]"},
    {"PortEmpty", "port = []\n", "t.toml:1: port: got [], expected at least one [[port]] table"},
    {"PortNotTable", "port = [1]\n", "t.toml:1: port[0]: got 1, expected a table"},
    // Port keys.
    {"PortMissingAll", "[dataplane]\n\n[[port]]\n", "",
     {"t.toml:3: port[0].name: got nothing, expected a name like \"front\"",
      "t.toml:3: port[0].roles: got nothing, expected an array of roles, each one of \"front\", "
      "\"back\", \"repl\"",
      "t.toml:3: port[0].device: got nothing, expected a DPDK device like",
      "t.toml:3: port[0].address: got nothing, expected an IPv4 prefix like 198.18.2.11/24"}},
    {"NameUppercase", Port("Front", "[\"front\"]", "net_tap0", "198.18.2.11/24"),
     "t.toml:2: port[0].name: got \"Front\", expected a name like \"front\" (a-z, then up to 15 "
     "of a-z 0-9 _ -)"},
    {"NameTooLong", Port("abcdefghijklmnopq", "[\"front\"]", "net_tap0", "198.18.2.11/24"),
     "t.toml:2: port[0].name: got \"abcdefghijklmnopq\", expected a name like \"front\" (a-z, "
     "then up to 15 of a-z 0-9 _ -)"},
    {"NameInteger",
     "[[port]]\nname = 5\nroles = [\"front\"]\ndevice = \"net_tap0\"\n"
     "address = \"198.18.2.11/24\"\n",
     "t.toml:2: port[0].name: got 5, expected a name like \"front\" (a-z, then up to 15 of a-z "
     "0-9 _ -)"},
    {"RolesEmpty", Port("front", "[]", "net_tap0", "198.18.2.11/24"),
     "t.toml:3: port[0].roles: got [], expected a non-empty array of roles like [\"front\"], "
     "each one of \"front\", \"back\", \"repl\""},
    {"RolesString", Port("front", "\"front\"", "net_tap0", "198.18.2.11/24"),
     "t.toml:3: port[0].roles: got \"front\", expected a non-empty array of roles like "
     "[\"front\"], each one of \"front\", \"back\", \"repl\""},
    {"RoleTypo", Port("front", "[\"frnt\"]", "net_tap0", "198.18.2.11/24"),
     "t.toml:3: port[0].roles[0]: got \"frnt\", expected one of \"front\", \"back\", \"repl\" "
     "(did you mean \"front\"?)"},
    {"RoleNotString", Port("front", "[\"front\", 2]", "net_tap0", "198.18.2.11/24"),
     "t.toml:3: port[0].roles[1]: got 2, expected one of \"front\", \"back\", \"repl\""},
    {"RoleTwice", Port("front", "[\"front\", \"front\"]", "net_tap0", "198.18.2.11/24"),
     "t.toml:3: port[0].roles[1]: got \"front\", expected a role not already listed"},
    {"DeviceEmpty", Port("front", "[\"front\"]", "", "198.18.2.11/24"),
     "t.toml:4: port[0].device: got \"\", expected a DPDK device like "
     "\"net_af_packet0,iface=front\" or \"0000:03:00.0\""},
    {"DeviceSpaces", Port("front", "[\"front\"]", "net_tap0, iface=x", "198.18.2.11/24"),
     "t.toml:4: port[0].device: got \"net_tap0, iface=x\", expected a DPDK device like "
     "\"net_af_packet0,iface=front\" or \"0000:03:00.0\""},
    {"DevicePciNoFunction", Port("front", "[\"front\"]", "0000:03:00", "198.18.2.11/24"),
     "t.toml:4: port[0].device: got \"0000:03:00\", expected a PCI address like \"0000:03:00.0\""},
    {"DevicePciBadSlot", Port("front", "[\"front\"]", "0000:03:20.0", "198.18.2.11/24"),
     "t.toml:4: port[0].device: got \"0000:03:20.0\", expected a PCI address like "
     "\"0000:03:00.0\""},
    {"DevicePciBadFunction", Port("front", "[\"front\"]", "03:00.8,x=1", "198.18.2.11/24"),
     "t.toml:4: port[0].device: got \"03:00.8,x=1\", expected a PCI address like "
     "\"0000:03:00.0\""},
    {"AddressOctet", Port("front", "[\"front\"]", "net_tap0", "198.18.2.300/24"),
     "t.toml:5: port[0].address: got \"198.18.2.300/24\", expected an IPv4 prefix like "
     "198.18.2.11/24"},
    {"AddressNoLength", Port("front", "[\"front\"]", "net_tap0", "198.18.2.11"),
     "t.toml:5: port[0].address: got \"198.18.2.11\", expected an IPv4 prefix like "
     "198.18.2.11/24"},
    {"AddressLength33", Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/33"),
     "t.toml:5: port[0].address: got \"198.18.2.11/33\", expected an IPv4 prefix like "
     "198.18.2.11/24"},
    {"AddressLength0", Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/0"),
     "t.toml:5: port[0].address: got \"198.18.2.11/0\", expected an IPv4 prefix like "
     "198.18.2.11/24"},
    {"AddressLeadingZero", Port("front", "[\"front\"]", "net_tap0", "198.018.2.11/24"),
     "t.toml:5: port[0].address: got \"198.018.2.11/24\", expected an IPv4 prefix like "
     "198.18.2.11/24"},
    {"AddressIpv6", Port("front", "[\"front\"]", "net_tap0", "2001:db8::11/64"),
     "t.toml:5: port[0].address: got \"2001:db8::11/64\", expected an IPv4 prefix like "
     "198.18.2.11/24 (IPv6 is not supported yet)"},
    {"AddressIsNetwork", Port("front", "[\"front\"]", "net_tap0", "198.18.2.0/24"),
     "t.toml:5: port[0].address: got \"198.18.2.0/24\", expected an IPv4 prefix like "
     "198.18.2.11/24 whose address is a host, not 198.18.2.0 or 198.18.2.255"},
    {"AddressNotString", "[[port]]\nname = \"front\"\nroles = [\"front\"]\ndevice = \"net_tap0\"\n"
                         "address = 198\n",
     "t.toml:5: port[0].address: got 198, expected an IPv4 prefix like 198.18.2.11/24"},
    {"GatewayOutside",
     Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "gateway = \"198.18.3.1\"\n"),
     "t.toml:6: port[0].gateway: got \"198.18.3.1\", expected an IPv4 address inside the port's "
     "subnet 198.18.2.0/24"},
    {"GatewayIsOwnAddress",
     Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "gateway = \"198.18.2.11\"\n"),
     "t.toml:6: port[0].gateway: got \"198.18.2.11\", expected an address other than the port's "
     "own 198.18.2.11"},
    {"GatewayIsBroadcast",
     Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "gateway = \"198.18.2.255\"\n"),
     "t.toml:6: port[0].gateway: got \"198.18.2.255\", expected a host address in "
     "198.18.2.0/24, not its network or broadcast address"},
    {"GatewayPrefix",
     Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "gateway = \"198.18.2.1/24\"\n"),
     "t.toml:6: port[0].gateway: got \"198.18.2.1/24\", expected an IPv4 address like "
     "198.18.2.1"},
    {"GatewayIpv6",
     Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "gateway = \"fe80::1\"\n"),
     "t.toml:6: port[0].gateway: got \"fe80::1\", expected an IPv4 address like 198.18.2.1 "
     "(IPv6 is not supported yet)"},
    {"MtuTooSmall", Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "mtu = 575\n"),
     "t.toml:6: port[0].mtu: got 575, expected an integer from 576 to 9000"},
    {"MtuTooBig", Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "mtu = 9001\n"),
     "t.toml:6: port[0].mtu: got 9001, expected an integer from 576 to 9000"},
    {"VlanTooBig", Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "vlan = 4095\n"),
     "t.toml:6: port[0].vlan: got 4095, expected an integer from 0 to 4094"},
    {"VlanNegative", Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "vlan = -1\n"),
     "t.toml:6: port[0].vlan: got -1, expected an integer from 0 to 4094"},
    // Rules between ports; the later port gets the message.
    {"SameName",
     kFront + Port("front", "[\"back\"]", "net_af_packet1,iface=back", "198.18.3.11/24"),
     "t.toml:7: port[1].name: got \"front\", expected a name no other port uses (port[0] has "
     "it)"},
    {"SameDevice",
     kFront + Port("back", "[\"back\"]", "net_af_packet0,iface=back", "198.18.3.11/24"),
     "t.toml:9: port[1].device: got \"net_af_packet0,iface=back\", expected a device no other "
     "port uses (port[0] is net_af_packet0)"},
    {"SamePciDevice",
     Port("front", "[\"front\"]", "0000:03:00.0", "198.18.2.11/24") +
         Port("back", "[\"back\"]", "03:00.0", "198.18.3.11/24"),
     "t.toml:9: port[1].device: got \"03:00.0\", expected a device no other port uses (port[0] "
     "is 0000:03:00.0)"},
    {"OverlappingSubnets",
     kFront + Port("back", "[\"back\"]", "net_af_packet1,iface=back", "198.18.3.11/16"),
     "t.toml:10: port[1].address: got \"198.18.3.11/16\", expected a subnet that does not "
     "overlap port[0]'s 198.18.2.0/24"},
    {"NoFront", Port("back", "[\"back\"]", "net_tap0", "198.18.3.11/24"),
     "t.toml:1: port: got no port with role \"front\", expected one port with role \"front\""},
    {"TwoFronts", kFront + Port("front2", "[\"front\"]", "net_tap1", "198.18.3.11/24"),
     "t.toml:8: port[1].roles: got [\"front\"], expected \"front\" on one port only (port[0] has "
     "it)"},
    {"TwoRepls",
     Port("front", "[\"front\", \"repl\"]", "net_tap0", "198.18.2.11/24") +
         Port("repl", "[\"repl\"]", "net_tap1", "198.18.4.11/24"),
     "t.toml:8: port[1].roles: got [\"repl\"], expected \"repl\" on one port only (port[0] has "
     "it)"},
    // Syntax errors: one line, toml11's reason without its ASCII art.
    {"SyntaxMissingEquals", "[dataplane]\nworkers 1\n",
     "t.toml:2: syntax error: missing key-value separator `=`"},
    {"SyntaxDuplicateKey", "[dataplane]\nworkers = 1\nworkers = 2\n",
     "t.toml:3: syntax error: value (\"workers\") already exists"},
    {"SyntaxUnterminatedString", "[dataplane]\n\nx = \"abc\n",
     "t.toml:3: syntax error: the next token is not a valid string"},
    {"SyntaxBadHex", "[dataplane]\nworkers = 0x\n",
     "t.toml:2: syntax error: the next token is not an integer"},
    {"SyntaxArrayOfTablesAsTable", kFront + "[port]\n",
     "t.toml:6: syntax error: array of tables (\"port\") already exists"},
    // Everything is reported, in line order, not just the first problem.
    {"ManyProblems",
     "[dataplane]\nworkers = 0\nburst = 0\n[arp]\nretries = 0\n" +
         Port("Front", "[\"front\"]", "net_tap0", "198.18.2.300/24", "vlan = 5000\n"),
     "",
     {"t.toml:2: dataplane.workers: got 0,", "t.toml:3: dataplane.burst: got 0,",
      "t.toml:5: arp.retries: got 0,", "t.toml:7: port[0].name: got \"Front\",",
      "t.toml:10: port[0].address: got \"198.18.2.300/24\",",
      "t.toml:11: port[0].vlan: got 5000,"}},
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, GivesExactLines) {
  const BadCase& c = GetParam();
  const std::string got = ErrorOf(c.toml);
  if (c.parts.empty()) {
    EXPECT_EQ(got, c.exact) << "config:\n" << c.toml;
    return;
  }
  // One line per part, in order, each starting with it.
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= got.size()) {
    const size_t end = std::min(got.find('\n', start), got.size());
    lines.push_back(got.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), c.parts.size()) << got;
  for (size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(lines[i].rfind(c.parts[i], 0), 0u) << "line " << i << ": " << lines[i];
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfig, ::testing::ValuesIn(kBad),
                         [](const auto& param) { return std::string(param.param.name); });

TEST(BadConfigList, HasEnoughCases) { EXPECT_GE(std::size(kBad), 25u); }

// ---------------------------------------------------------------------------------------
// Files.

TEST(LoadConfig, MissingFile) {
  try {
    LoadConfig("/nonexistent/baton.toml");
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/baton.toml: cannot read: No such file or directory");
  }
}

TEST(LoadConfig, Directory) {
  try {
    LoadConfig("/");
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/: cannot read: Is a directory");
  }
}

TEST(LoadConfig, Demo) {
  const char* path = std::getenv("BATON_DEMO_CONFIG");
  ASSERT_NE(path, nullptr) << "run through meson test, which sets BATON_DEMO_CONFIG";
  const dp::ConfigSnapshot s = LoadConfig(path);
  EXPECT_EQ(s.source, path);
  EXPECT_EQ(s.generation, 0u);
  EXPECT_EQ(s.dataplane.workers, 1);
  EXPECT_EQ(s.dataplane.idle_backoff_us, 100u);
  EXPECT_EQ(s.dataplane.mbufs_per_port, 4095u);
  EXPECT_EQ(s.dataplane.rx_descriptors, 1024);  // default
  EXPECT_EQ(s.arp.reachable_ms, 30'000u);
  EXPECT_EQ(s.arp.stale_ms, 300'000u);  // default
  EXPECT_EQ(s.arp.retries, 3);
  ASSERT_EQ(s.ports.size(), 3u);
  EXPECT_EQ(s.ports[0].name, "front");
  EXPECT_EQ(s.ports[0].roles, dp::kRoleFront);
  EXPECT_EQ(s.ports[0].device, "net_af_packet0,iface=front");
  EXPECT_EQ(s.ports[0].address, (IpPrefix{IpAddr::V4(0xC612020B), 24}));
  EXPECT_EQ(s.ports[0].gateway, IpAddr::V4(0xC6120201));
  EXPECT_EQ(s.ports[1].roles, dp::kRoleBack);
  EXPECT_FALSE(s.ports[1].gateway.IsSet());
  EXPECT_EQ(s.ports[2].name, "repl");
  EXPECT_EQ(s.ports[2].roles, dp::kRoleRepl);
  EXPECT_EQ(s.ports[2].address, (IpPrefix{IpAddr::V4(0xC612040B), 24}));
}

// ---------------------------------------------------------------------------------------
// Good configs.

TEST(ParseConfig, DefaultsApplied) {
  const dp::ConfigSnapshot s = ParseConfig(kFront, "mem");
  EXPECT_EQ(s.source, "mem");
  EXPECT_EQ(s.generation, 0u);
  const dp::DataplaneConfig d;
  EXPECT_EQ(s.dataplane.workers, d.workers);
  EXPECT_EQ(s.dataplane.idle_backoff_us, d.idle_backoff_us);
  EXPECT_EQ(s.dataplane.idle_polls_before_sleep, d.idle_polls_before_sleep);
  EXPECT_EQ(s.dataplane.mbufs_per_port, d.mbufs_per_port);
  EXPECT_EQ(s.dataplane.rx_descriptors, d.rx_descriptors);
  EXPECT_EQ(s.dataplane.tx_descriptors, d.tx_descriptors);
  EXPECT_EQ(s.dataplane.burst, d.burst);
  const dp::ArpConfig a;
  EXPECT_EQ(s.arp.reachable_ms, a.reachable_ms);
  EXPECT_EQ(s.arp.stale_ms, a.stale_ms);
  EXPECT_EQ(s.arp.retry_ms, a.retry_ms);
  EXPECT_EQ(s.arp.retries, a.retries);
  EXPECT_EQ(s.arp.pending_packets, a.pending_packets);
  ASSERT_EQ(s.ports.size(), 1u);
  EXPECT_EQ(s.ports[0].mtu_bytes, 1500);
  EXPECT_EQ(s.ports[0].vlan_id, 0);
  EXPECT_FALSE(s.ports[0].gateway.IsSet());
}

TEST(ParseConfig, EveryKeyAtItsBounds) {
  const dp::ConfigSnapshot s = ParseConfig(R"(
[dataplane]
workers = 64
idle_backoff_us = 0
idle_polls_before_sleep = 1_000_000
mbufs_per_port = 1048575
rx_descriptors = 8192
tx_descriptors = 64
burst = 256

[arp]
reachable_ms = 3600000
stale_ms = 3600000          # equal to reachable_ms is allowed
retry_ms = 60000
retries = 10
pending_packets = 0
)" + Port("front", "[\"front\"]", "net_tap0", "10.0.0.1/8", "mtu = 9000\nvlan = 4094\n"),
                                           "t.toml");
  EXPECT_EQ(s.dataplane.workers, 64);
  EXPECT_EQ(s.dataplane.idle_backoff_us, 0u);
  EXPECT_EQ(s.dataplane.idle_polls_before_sleep, 1'000'000u);
  EXPECT_EQ(s.dataplane.mbufs_per_port, 1'048'575u);
  EXPECT_EQ(s.dataplane.rx_descriptors, 8192);
  EXPECT_EQ(s.dataplane.tx_descriptors, 64);
  EXPECT_EQ(s.dataplane.burst, 256);
  EXPECT_EQ(s.arp.reachable_ms, 3'600'000u);
  EXPECT_EQ(s.arp.stale_ms, 3'600'000u);
  EXPECT_EQ(s.arp.retry_ms, 60'000u);
  EXPECT_EQ(s.arp.retries, 10);
  EXPECT_EQ(s.arp.pending_packets, 0);
  EXPECT_EQ(s.ports[0].mtu_bytes, 9000);
  EXPECT_EQ(s.ports[0].vlan_id, 4094);
}

TEST(ParseConfig, VlanAndMtu) {
  const dp::ConfigSnapshot s = ParseConfig(
      Port("front", "[\"front\"]", "net_tap0", "198.18.2.11/24", "vlan = 100\nmtu = 576\n"),
      "t.toml");
  EXPECT_EQ(s.ports[0].vlan_id, 100);
  EXPECT_EQ(s.ports[0].mtu_bytes, 576);
}

TEST(ParseConfig, TwoPortsOneWithTwoRoles) {
  const dp::ConfigSnapshot s = ParseConfig(
      Port("edge", "[\"front\"]", "0000:03:00.0", "198.18.2.11/24", "gateway = \"198.18.2.1\"\n") +
          Port("inside", "[\"back\", \"repl\"]", "0000:AF:1f.7,rxq_pkt_size=2048",
               "198.18.3.11/24"),
      "t.toml");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].name, "edge");
  EXPECT_EQ(s.ports[0].device, "0000:03:00.0");
  EXPECT_EQ(s.ports[1].roles, dp::kRoleBack | dp::kRoleRepl);
  EXPECT_EQ(s.ports[1].device, "0000:AF:1f.7,rxq_pkt_size=2048");
}

TEST(ParseConfig, InlineTablesAndDottedKeys) {
  const dp::ConfigSnapshot s = ParseConfig(R"(
dataplane.workers = 4
arp = { retries = 5 }
port = [
  { name = "front", roles = ["front"], device = "net_ring0", address = "192.0.2.1/24" },
]
)",
                                           "t.toml");
  EXPECT_EQ(s.dataplane.workers, 4);
  EXPECT_EQ(s.arp.retries, 5);
  ASSERT_EQ(s.ports.size(), 1u);
  EXPECT_EQ(s.ports[0].device, "net_ring0");
}

TEST(ParseConfig, AdjacentSubnetsDoNotOverlap) {
  const dp::ConfigSnapshot s = ParseConfig(
      Port("front", "[\"front\"]", "net_tap0", "10.0.0.1/25") +
          Port("back", "[\"back\"]", "net_tap1", "10.0.0.129/25"),
      "t.toml");
  EXPECT_EQ(s.ports.size(), 2u);
}

// IPv4 text edge cases: accepted forms and their values.
struct PrefixCase {
  const char* text;
  uint32_t host;
  uint8_t length;
};

void PrintTo(const PrefixCase& c, std::ostream* os) { *os << c.text; }

class GoodPrefix : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(GoodPrefix, Parses) {
  const PrefixCase& c = GetParam();
  const dp::ConfigSnapshot s =
      ParseConfig(Port("front", "[\"front\"]", "net_tap0", c.text), "t.toml");
  EXPECT_EQ(s.ports[0].address, (IpPrefix{IpAddr::V4(c.host), c.length})) << c.text;
  EXPECT_TRUE(s.ports[0].address.addr.IsV4());
}

INSTANTIATE_TEST_SUITE_P(Edges, GoodPrefix,
                         ::testing::Values(PrefixCase{"0.0.0.1/1", 0x00000001, 1},
                                           PrefixCase{"255.255.255.254/31", 0xFFFFFFFE, 31},
                                           PrefixCase{"255.255.255.255/32", 0xFFFFFFFF, 32},
                                           PrefixCase{"10.0.0.0/31", 0x0A000000, 31},
                                           PrefixCase{"1.2.3.5/30", 0x01020305, 30},
                                           PrefixCase{"100.64.0.1/10", 0x64400001, 10}));

class BadPrefix : public ::testing::TestWithParam<const char*> {};

TEST_P(BadPrefix, Rejected) {
  const std::string text = GetParam();
  EXPECT_EQ(ErrorOf(Port("front", "[\"front\"]", "net_tap0", text)),
            "t.toml:5: port[0].address: got \"" + text +
                "\", expected an IPv4 prefix like 198.18.2.11/24");
}

INSTANTIATE_TEST_SUITE_P(Edges, BadPrefix,
                         ::testing::Values("", "/24", "1.2.3/24", "1.2.3.4.5/24", "1.2.3.4/",
                                           "1.2.3.4/024", "1.2.3.4/+24", "1.2.3.4/24 ",
                                           " 1.2.3.4/24", "1.2.3.4/2a", "1..3.4/24",
                                           "1.2.3.4//24", "256.0.0.1/8", "1.2.3.4/24/1",
                                           "0x1.2.3.4/24", "01.2.3.4/24"));

}  // namespace
}  // namespace baton::cp
