// controlplane/config.cc: TOML text in, a ConfigSnapshot or the exact error lines out.
// Broken configs are data (STYLE.md 18): each case is a file and what the operator sees.
#include "controlplane/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <tuple>
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

// Front and back ports on lines 1-10, for cases about pools and listeners (from line 11).
const std::string kPorts =
    kFront + Port("back", "[\"back\"]", "net_af_packet1,iface=back", "198.18.3.11/24");

// A pool (3 lines) and a listener using it (4 lines).
const std::string kWebPool = "[[pool]]\nname = \"web\"\nbackends = [\"198.18.3.101:80\"]\n";
const std::string kHttp =
    "[[listener]]\nname = \"http\"\nvip = \"198.18.100.10:80\"\npool = \"web\"\n";

// A pool "web" on line 11 with `backends` on line 13.
std::string Backends(const std::string& list) {
  return kPorts + "[[pool]]\nname = \"web\"\nbackends = " + list + "\n";
}

// kPorts, kWebPool, then a listener on line 14 with `extra` from line 16.
std::string Listener(const std::string& name, const std::string& extra) {
  return kPorts + kWebPool + "[[listener]]\nname = \"" + name + "\"\n" + extra;
}

// For TLS listener cases: the VIP and mode on lines 16-18, [listener.tls] from line 19.
const std::string kVip80 = "vip = \"198.18.100.10:80\"\npool = \"web\"\n";
const std::string kTlsVip = "vip = \"198.18.100.10:443\"\nmode = \"tls\"\npool = \"web\"\n";
const std::string kTlsCert = "[listener.tls]\ncertificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n";

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

// A pool "web" on line 11 with [pool.health] on line 14 and its keys from line 15.
std::string Health(const std::string& keys) {
  return Backends("[\"198.18.3.101:80\"]") + "[pool.health]\n" + keys;
}

const BadCase kBad[] = {
    // [pool.health]
    {"HealthIntervalTooShort", Health("interval_ms = 99\n"),
     "t.toml:15: pool[0].health.interval_ms: got 99, expected an integer from 100 to 3600000"},
    {"HealthTimeoutAboveInterval", Health("interval_ms = 500\ntimeout_ms = 501\n"),
     "t.toml:16: pool[0].health.timeout_ms: got 501, expected an integer from 10 to 500 "
     "(pool[0].health.interval_ms)"},
    {"HealthTimeoutTooLong", Health("interval_ms = 120000\ntimeout_ms = 60001\n"),
     "t.toml:16: pool[0].health.timeout_ms: got 60001, expected an integer from 10 to 60000"},
    {"HealthTimeoutString", Health("timeout_ms = \"1s\"\n"),
     "t.toml:15: pool[0].health.timeout_ms: got \"1s\", expected an integer from 10 to 2000 "
     "(pool[0].health.interval_ms)"},
    {"HealthRiseFall", Health("rise = 0\nfall = 101\n"),
     "t.toml:15: pool[0].health.rise: got 0, expected an integer from 1 to 100\n"
     "t.toml:16: pool[0].health.fall: got 101, expected an integer from 1 to 100"},
    {"HealthPathRelative", Health("http_path = \"healthz\"\n"),
     "t.toml:15: pool[0].health.http_path: got \"healthz\", expected an absolute path like \"/healthz\" "
     "(1 to 256 printable ASCII characters, no spaces)"},
    {"HealthPathSpace", Health("http_path = \"/a b\"\n"),
     "t.toml:15: pool[0].health.http_path: got \"/a b\", expected an absolute path like \"/healthz\" "
     "(1 to 256 printable ASCII characters, no spaces)"},
    {"HealthPathNumber", Health("http_path = 7\n"),
     "t.toml:15: pool[0].health.http_path: got 7, expected an absolute path like \"/healthz\" "
     "(1 to 256 printable ASCII characters, no spaces)"},
    {"HealthKeyTypo", Health("intervall_ms = 500\n"),
     "t.toml:15: pool[0].health.intervall_ms: got 500, expected a known key (did you mean \"interval_ms\"?)"},
    {"HealthNotTable", Backends("[\"198.18.3.101:80\"]") + "health = true\n",
     "t.toml:14: pool[0].health: got true, expected a [pool.health] table"},

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
     "t.toml:1: workers: got 2, expected a known table (one of dataplane, arp, tcp, port, pool, "
     "listener)"},
    {"TableTypoPools", kPorts + "[[pools]]\nname = \"web\"\n",
     "t.toml:11: pools: got [a table], expected a known table (did you mean \"pool\"?)"},
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
    // [tcp]
    {"TcpMaxSessions", "[tcp]\nmax_sessions = 0\n" + kFront,
     "t.toml:2: tcp.max_sessions: got 0, expected an integer from 1 to 4194304"},
    {"TcpMaxSessionsTooMany", "[tcp]\nmax_sessions = 4_194_305\n" + kFront,
     "t.toml:2: tcp.max_sessions: got 4_194_305, expected an integer from 1 to 4194304"},
    {"TcpBufferNotPowerOfTwo", "[tcp]\nbuffer_kib = 100\n" + kFront,
     "t.toml:2: tcp.buffer_kib: got 100, expected a power of two from 4 to 16384"},
    {"TcpBufferTooSmall", "[tcp]\nbuffer_kib = 2\n" + kFront,
     "t.toml:2: tcp.buffer_kib: got 2, expected a power of two from 4 to 16384"},
    {"TcpBufferTooBig", "[tcp]\nbuffer_kib = 32768\n" + kFront,
     "t.toml:2: tcp.buffer_kib: got 32768, expected a power of two from 4 to 16384"},
    {"TcpRanges",
     "[tcp]\nsyn_backlog = 0\nconnect_timeout_ms = 99\nconnect_attempts = 11\n"
     "idle_timeout_s = 86401\n" + kFront,
     "t.toml:2: tcp.syn_backlog: got 0, expected an integer from 1 to 1048576\n"
     "t.toml:3: tcp.connect_timeout_ms: got 99, expected an integer from 100 to 600000\n"
     "t.toml:4: tcp.connect_attempts: got 11, expected an integer from 1 to 10\n"
     "t.toml:5: tcp.idle_timeout_s: got 86401, expected an integer from 1 to 86400"},
    {"TcpRangesHigh",
     "[tcp]\nsyn_backlog = 1048577\nconnect_timeout_ms = 600001\nconnect_attempts = 0\n"
     "idle_timeout_s = \"5m\"\n" + kFront,
     "t.toml:2: tcp.syn_backlog: got 1048577, expected an integer from 1 to 1048576\n"
     "t.toml:3: tcp.connect_timeout_ms: got 600001, expected an integer from 100 to 600000\n"
     "t.toml:4: tcp.connect_attempts: got 0, expected an integer from 1 to 10\n"
     "t.toml:5: tcp.idle_timeout_s: got \"5m\", expected an integer from 1 to 86400"},
    {"TcpKeyMs", "[tcp]\nidle_timeout_ms = 300000\n" + kFront,
     "t.toml:2: tcp.idle_timeout_ms: got 300000, expected a known key (did you mean "
     "\"idle_timeout_s\"?)"},
    {"TcpKeyBytes", "[tcp]\nbuffer_bytes = 262144\n" + kFront,
     "t.toml:2: tcp.buffer_bytes: got 262144, expected a known key (one of max_sessions, "
     "buffer_kib, syn_backlog, connect_timeout_ms, connect_attempts, idle_timeout_s, "
     "snat_ports)"},
    {"TcpNotTable", "tcp = 1\n" + kFront, "t.toml:1: tcp: got 1, expected a table"},
    {"SnatNotString", "[tcp]\nsnat_ports = 10000\n" + kFront,
     "t.toml:2: tcp.snat_ports: got 10000, expected a port range like \"10000-59999\""},
    {"SnatOnePort", "[tcp]\nsnat_ports = \"10000\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"10000\", expected a port range like \"10000-59999\""},
    {"SnatSpaces", "[tcp]\nsnat_ports = \"10000 - 59999\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"10000 - 59999\", expected a port range like "
     "\"10000-59999\""},
    {"SnatLeadingZero", "[tcp]\nsnat_ports = \"01024-59999\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"01024-59999\", expected a port range like "
     "\"10000-59999\""},
    {"SnatThreeParts", "[tcp]\nsnat_ports = \"10000-20000-30000\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"10000-20000-30000\", expected a port range like "
     "\"10000-59999\""},
    {"SnatWellKnown", "[tcp]\nsnat_ports = \"1023-59999\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"1023-59999\", expected a port range MIN-MAX with 1024 <= "
     "MIN <= MAX <= 65535"},
    {"SnatReversed", "[tcp]\nsnat_ports = \"59999-10000\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"59999-10000\", expected a port range MIN-MAX with 1024 "
     "<= MIN <= MAX <= 65535"},
    {"SnatAbove65535", "[tcp]\nsnat_ports = \"10000-65536\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"10000-65536\", expected a port range MIN-MAX with 1024 "
     "<= MIN <= MAX <= 65535"},
    {"SnatTooFew", "[tcp]\nsnat_ports = \"10000-10062\"\n" + kFront,
     "t.toml:2: tcp.snat_ports: got \"10000-10062\", expected a port range of at least 64 "
     "ports"},
    // [[pool]]
    {"PoolAsTable", kPorts + "[pool]\nname = \"web\"\n",
     "t.toml:11: pool: got a table, expected an array of tables written [[pool]]"},
    {"PoolNotTable", "pool = [1]\n" + kPorts, "t.toml:1: pool[0]: got 1, expected a table"},
    {"ListenerNotTable", "listener = [\"http\"]\n" + kPorts,
     "t.toml:1: listener[0]: got \"http\", expected a table"},
    {"PoolMissingAll", kPorts + "[[pool]]\n",
     "t.toml:11: pool[0].name: got nothing, expected a name like \"web\" (a-z, then up to 15 of "
     "a-z 0-9 _ -)\n"
     "t.toml:11: pool[0].backends: got nothing, expected a non-empty array of backends like "
     "[\"198.18.3.101:80\"]"},
    {"PoolKeyTypo", kPorts + "[[pool]]\nname = \"web\"\nbackend = [\"198.18.3.101:80\"]\n",
     "t.toml:11: pool[0].backends: got nothing, expected a non-empty array of backends like "
     "[\"198.18.3.101:80\"]\n"
     "t.toml:13: pool[0].backend: got [\"198.18.3.101:80\"], expected a known key (did you "
     "mean \"backends\"?)"},
    {"PoolNameUppercase", kPorts + "[[pool]]\nname = \"Web\"\nbackends = [\"198.18.3.101:80\"]\n",
     "t.toml:12: pool[0].name: got \"Web\", expected a name like \"web\" (a-z, then up to 15 of "
     "a-z 0-9 _ -)"},
    {"PoolSameName", kPorts + kWebPool + kWebPool,
     "t.toml:15: pool[1].name: got \"web\", expected a name no other pool uses (pool[0] has "
     "it)"},
    {"AlgorithmTypo",
     kPorts + "[[pool]]\nname = \"web\"\nalgorithm = \"round-robin\"\n"
              "backends = [\"198.18.3.101:80\"]\n",
     "t.toml:13: pool[0].algorithm: got \"round-robin\", expected one of \"round_robin\", "
     "\"least_connections\", \"maglev\" (did you mean \"round_robin\"?)"},
    {"AlgorithmUnknown",
     kPorts + "[[pool]]\nname = \"web\"\nalgorithm = \"random\"\n"
              "backends = [\"198.18.3.101:80\"]\n",
     "t.toml:13: pool[0].algorithm: got \"random\", expected one of \"round_robin\", "
     "\"least_connections\", \"maglev\""},
    {"AlgorithmNotString",
     kPorts + "[[pool]]\nname = \"web\"\nalgorithm = 1\nbackends = [\"198.18.3.101:80\"]\n",
     "t.toml:13: pool[0].algorithm: got 1, expected one of \"round_robin\", "
     "\"least_connections\", \"maglev\""},
    {"BackendsEmpty", Backends("[]"),
     "t.toml:13: pool[0].backends: got [], expected a non-empty array of backends like "
     "[\"198.18.3.101:80\"]"},
    {"BackendsString", Backends("\"198.18.3.101:80\""),
     "t.toml:13: pool[0].backends: got \"198.18.3.101:80\", expected a non-empty array of "
     "backends like [\"198.18.3.101:80\"]"},
    {"BackendNoPort", Backends("[\"198.18.3.101\"]"),
     "t.toml:13: pool[0].backends[0]: got \"198.18.3.101\", expected an IPv4 address and port "
     "like 198.18.3.101:80"},
    {"BackendPortZero", Backends("[\"198.18.3.101:0\"]"),
     "t.toml:13: pool[0].backends[0]: got \"198.18.3.101:0\", expected an IPv4 address and port "
     "like 198.18.3.101:80, with a port from 1 to 65535"},
    {"BackendPortTooBig", Backends("[\"198.18.3.101:65536\"]"),
     "t.toml:13: pool[0].backends[0]: got \"198.18.3.101:65536\", expected an IPv4 address and "
     "port like 198.18.3.101:80, with a port from 1 to 65535"},
    {"BackendIpv6Bracketed", Backends("[\"198.18.3.101:80\", \"[2001:db8::1]:80\"]"),
     "t.toml:13: pool[0].backends[1]: got \"[2001:db8::1]:80\", expected an IPv4 address and "
     "port like 198.18.3.101:80 (IPv6 is not supported yet)"},
    {"BackendIpv6Bare", Backends("[\"2001:db8::1:80\"]"),
     "t.toml:13: pool[0].backends[0]: got \"2001:db8::1:80\", expected an IPv4 address and "
     "port like 198.18.3.101:80 (IPv6 is not supported yet)"},
    {"BackendNotUnicast",
     Backends("[\n  \"0.0.0.0:80\",\n  \"127.0.0.1:80\",\n  \"224.0.0.1:80\",\n"
              "  \"255.255.255.255:80\",\n]"),
     "t.toml:14: pool[0].backends[0]: got \"0.0.0.0:80\", expected a unicast IPv4 address (not "
     "in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3) and port like 198.18.3.101:80\n"
     "t.toml:15: pool[0].backends[1]: got \"127.0.0.1:80\", expected a unicast IPv4 address "
     "(not in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3) and port like 198.18.3.101:80\n"
     "t.toml:16: pool[0].backends[2]: got \"224.0.0.1:80\", expected a unicast IPv4 address "
     "(not in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3) and port like 198.18.3.101:80\n"
     "t.toml:17: pool[0].backends[3]: got \"255.255.255.255:80\", expected a unicast IPv4 "
     "address (not in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3) and port like 198.18.3.101:80"},
    {"BackendInteger", Backends("[80]"),
     "t.toml:13: pool[0].backends[0]: got 80, expected an IPv4 address and port like "
     "198.18.3.101:80, or a table like { address = \"198.18.3.101:80\", weight = 2 }"},
    {"BackendTableNoAddress", Backends("[{ weight = 2 }]"),
     "t.toml:13: pool[0].backends[0].address: got nothing, expected an IPv4 address and port "
     "like 198.18.3.101:80"},
    {"BackendTableKeyTypo", Backends("[{ adress = \"198.18.3.101:80\" }]"),
     "t.toml:13: pool[0].backends[0].address: got nothing, expected an IPv4 address and port "
     "like 198.18.3.101:80\n"
     "t.toml:13: pool[0].backends[0].adress: got \"198.18.3.101:80\", expected a known key "
     "(did you mean \"address\"?)"},
    {"BackendTableBadAddress", Backends("[{ address = \"198.18.3.101\", weight = 2 }]"),
     "t.toml:13: pool[0].backends[0].address: got \"198.18.3.101\", expected an IPv4 address "
     "and port like 198.18.3.101:80"},
    {"BackendWeight",
     Backends("[\n  { address = \"198.18.3.101:80\", weight = 1001 },\n"
              "  { address = \"198.18.3.102:80\", weight = -1 },\n"
              "  { address = \"198.18.3.103:80\", weight = \"heavy\" },\n]"),
     "t.toml:14: pool[0].backends[0].weight: got 1001, expected an integer from 0 to 1000\n"
     "t.toml:15: pool[0].backends[1].weight: got -1, expected an integer from 0 to 1000\n"
     "t.toml:16: pool[0].backends[2].weight: got \"heavy\", expected an integer from 0 to 1000"},
    {"BackendTwice",
     Backends("[\"198.18.3.101:80\", \"198.18.3.102:80\",\n"
              "  { address = \"198.18.3.101:80\", weight = 2 }]"),
     "t.toml:14: pool[0].backends[2].address: got \"198.18.3.101:80\", expected an address and "
     "port no other backend of this pool uses (pool[0].backends[0] has it)"},
    {"BackendProblemsInOrder",
     Backends("[\"198.18.3.11:80\", \"198.18.3.11:80\", \"198.18.5.1:80\", \"198.18.3.101:80\"]"),
     "t.toml:13: pool[0].backends[0]: got \"198.18.3.11:80\", expected a backend address other "
     "than port[1]'s own address 198.18.3.11\n"
     "t.toml:13: pool[0].backends[1]: got \"198.18.3.11:80\", expected an address and port no "
     "other backend of this pool uses (pool[0].backends[0] has it)\n"
     "t.toml:13: pool[0].backends[2]: got \"198.18.5.1:80\", expected a backend address inside "
     "port[1]'s subnet 198.18.3.0/24 (port[1] has role \"back\" and no gateway)"},
    {"BackendIsBackPort", Backends("[\"198.18.3.11:80\"]"),
     "t.toml:13: pool[0].backends[0]: got \"198.18.3.11:80\", expected a backend address other "
     "than port[1]'s own address 198.18.3.11"},
    {"BackendIsFrontPort", Backends("[\"198.18.2.11:8080\"]"),
     "t.toml:13: pool[0].backends[0]: got \"198.18.2.11:8080\", expected a backend address "
     "other than port[0]'s own address 198.18.2.11"},
    {"BackendIsBroadcast", Backends("[\"198.18.3.255:80\"]"),
     "t.toml:13: pool[0].backends[0]: got \"198.18.3.255:80\", expected a backend address "
     "other than the network or broadcast address of port[1]'s subnet 198.18.3.0/24"},
    {"BackendIsVip", Backends("[\"198.18.100.10:8080\"]") + kHttp,
     "t.toml:13: pool[0].backends[0]: got \"198.18.100.10:8080\", expected a backend address "
     "other than listener[0]'s VIP 198.18.100.10"},
    {"BackendUnreachable", Backends("[\"198.18.3.101:80\", \"198.18.5.1:80\"]"),
     "t.toml:13: pool[0].backends[1]: got \"198.18.5.1:80\", expected a backend address inside "
     "port[1]'s subnet 198.18.3.0/24 (port[1] has role \"back\" and no gateway)"},
    // [[listener]]
    {"ListenerAsTable", kPorts + kWebPool + "[listener]\nname = \"http\"\n",
     "t.toml:14: listener: got a table, expected an array of tables written [[listener]]"},
    {"ListenerMissingAll", kPorts + kWebPool + "[[listener]]\n",
     "t.toml:14: listener[0].name: got nothing, expected a name like \"http\" (a-z, then up to "
     "15 of a-z 0-9 _ -)\n"
     "t.toml:14: listener[0].vip: got nothing, expected an IPv4 address and port like "
     "198.18.100.10:80\n"
     "t.toml:14: listener[0].pool: got nothing, expected the name of a [[pool]]"},
    {"ListenerNameBad", Listener("http!", "vip = \"198.18.100.10:80\"\npool = \"web\"\n"),
     "t.toml:15: listener[0].name: got \"http!\", expected a name like \"http\" (a-z, then up to "
     "15 of a-z 0-9 _ -)"},
    {"ListenerSameName",
     kPorts + kWebPool + kHttp +
         "[[listener]]\nname = \"http\"\nvip = \"198.18.100.10:8080\"\npool = \"web\"\n",
     "t.toml:19: listener[1].name: got \"http\", expected a name no other listener uses "
     "(listener[0] has it)"},
    {"ListenerSameVip",
     kPorts + kWebPool + kHttp +
         "[[listener]]\nname = \"http2\"\nvip = \"198.18.100.10:80\"\npool = \"web\"\n",
     "t.toml:20: listener[1].vip: got \"198.18.100.10:80\", expected an address and port no "
     "other listener uses (listener[0] has it)"},
    {"VipNoPort", Listener("http", "vip = \"198.18.100.10\"\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got \"198.18.100.10\", expected an IPv4 address and port like "
     "198.18.100.10:80"},
    {"VipPortZero", Listener("http", "vip = \"198.18.100.10:0\"\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got \"198.18.100.10:0\", expected an IPv4 address and port "
     "like 198.18.100.10:80, with a port from 1 to 65535"},
    {"VipIpv6", Listener("http", "vip = \"[2001:db8::10]:443\"\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got \"[2001:db8::10]:443\", expected an IPv4 address and port "
     "like 198.18.100.10:80 (IPv6 is not supported yet)"},
    {"VipNotString", Listener("http", "vip = 80\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got 80, expected an IPv4 address and port like "
     "198.18.100.10:80"},
    {"VipMulticast", Listener("http", "vip = \"239.1.1.1:80\"\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got \"239.1.1.1:80\", expected a unicast IPv4 address (not in "
     "0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3) and port like 198.18.100.10:80"},
    {"VipIsFrontPort", Listener("http", "vip = \"198.18.2.11:80\"\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got \"198.18.2.11:80\", expected a VIP other than port[0]'s "
     "own address 198.18.2.11"},
    {"VipIsBackPort", Listener("http", "vip = \"198.18.3.11:80\"\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got \"198.18.3.11:80\", expected a VIP other than port[1]'s "
     "own address 198.18.3.11"},
    {"VipIsNetwork", Listener("http", "vip = \"198.18.2.0:80\"\npool = \"web\"\n"),
     "t.toml:16: listener[0].vip: got \"198.18.2.0:80\", expected a VIP other than the network "
     "or broadcast address of port[0]'s subnet 198.18.2.0/24"},
    {"TlsWithoutTable", Listener("https", "vip = \"198.18.100.10:443\"\nmode = \"tls\"\npool = \"web\"\n"),
     "t.toml:14: listener[0].tls: got nothing, expected a [listener.tls] table with the "
     "certificates"},
    {"TlsTableOnTcp", Listener("http", kVip80 + "[listener.tls]\ncertificates = []\n"),
     "t.toml:18: listener[0].tls: got a table, expected no [listener.tls] table (it needs mode = "
     "\"tls\")"},
    {"TlsNoCertificates", Listener("https", kTlsVip + "[listener.tls]\nalpn = [\"h2\"]\n"),
     "t.toml:19: listener[0].tls.certificates: got nothing, expected a non-empty array of a "
     "table like { cert = \"certs/site.pem\", key = \"certs/site.key\" }"},
    {"TlsEmptyCertificates", Listener("https", kTlsVip + "[listener.tls]\ncertificates = []\n"),
     "t.toml:20: listener[0].tls.certificates: got [], expected a non-empty array of a table "
     "like { cert = \"certs/site.pem\", key = \"certs/site.key\" }"},
    {"TlsCertificateNotTable", Listener("https", kTlsVip + "[listener.tls]\ncertificates = [\"a.pem\"]\n"),
     "t.toml:20: listener[0].tls.certificates[0]: got \"a.pem\", expected a table like { cert = "
     "\"certs/site.pem\", key = \"certs/site.key\" }"},
    {"TlsCertificateNoKey", Listener("https", kTlsVip + "[listener.tls]\ncertificates = [{ cert = \"a.pem\" }]\n"),
     "t.toml:20: listener[0].tls.certificates[0].key: got nothing, expected the path of a PEM "
     "private key"},
    {"TlsCertificateEmptyPath",
     Listener("https", kTlsVip + "[listener.tls]\ncertificates = [{ cert = \"\", key = \"a.key\" }]\n"),
     "t.toml:20: listener[0].tls.certificates[0].cert: got \"\", expected the path of a PEM "
     "certificate chain"},
    {"TlsCertificateKeyTypo",
     Listener("https", kTlsVip + "[listener.tls]\ncertificates = [{ cert = \"a.pem\", key = \"a.key\", "
                                 "chian = \"b.pem\" }]\n"),
     "t.toml:20: listener[0].tls.certificates[0].chian: got \"b.pem\", expected a known key (one "
     "of cert, key)"},
    {"TlsVersionsBad", Listener("https", kTlsVip + kTlsCert + "versions = [\"1.1\"]\n"),
     "t.toml:21: listener[0].tls.versions: got [\"1.1\"], expected a non-empty array of \"1.3\" "
     "and \"1.2\""},
    {"TlsVersionsEmpty", Listener("https", kTlsVip + kTlsCert + "versions = []\n"),
     "t.toml:21: listener[0].tls.versions: got [], expected a non-empty array of \"1.3\" and "
     "\"1.2\""},
    {"TlsAlpnEmptyName", Listener("https", kTlsVip + kTlsCert + "alpn = [\"h2\", \"\"]\n"),
     "t.toml:21: listener[0].tls.alpn: got [\"h2\", \"\"], expected an array of protocol names "
     "like [\"h2\", \"http/1.1\"] (1 to 255 bytes each)"},
    {"TlsHandshakeTimeoutZero", Listener("https", kTlsVip + kTlsCert + "handshake_timeout_ms = 0\n"),
     "t.toml:21: listener[0].tls.handshake_timeout_ms: got 0, expected an integer from 100 to "
     "300000"},
    {"TlsKeyTypo", Listener("https", kTlsVip + kTlsCert + "alpn_list = [\"h2\"]\n"),
     "t.toml:21: listener[0].tls.alpn_list: got [\"h2\"], expected a known key (one of "
     "certificates, alpn, versions, handshake_timeout_ms, ticket_key_file, tickets, routes)"},
    {"TlsTicketsTooMany", Listener("https", kTlsVip + kTlsCert + "tickets = 9\n"),
     "t.toml:21: listener[0].tls.tickets: got 9, expected an integer from 0 to 8"},
    {"TlsTicketKeyFileEmpty", Listener("https", kTlsVip + kTlsCert + "ticket_key_file = \"\"\n"),
     "t.toml:21: listener[0].tls.ticket_key_file: got \"\", expected the path of a ticket key file"},
    {"TlsRouteUnknownPool",
     Listener("https", kTlsVip + kTlsCert + "routes = [{ sni = \"api.example.com\", pool = \"wbe\" }]\n"),
     "t.toml:21: listener[0].tls.routes[0].pool: got \"wbe\", expected the name of a [[pool]] "
     "(did you mean \"web\"?)"},
    {"TlsRouteNothingToMatch", Listener("https", kTlsVip + kTlsCert + "routes = [{ pool = \"web\" }]\n"),
     "t.toml:21: listener[0].tls.routes[0].sni: got nothing, expected an \"sni\" or an \"alpn\" "
     "to match (a route without either is the listener's pool)"},
    {"TlsRouteSniUpperCase",
     Listener("https", kTlsVip + kTlsCert + "routes = [{ sni = \"API.example.com\", pool = \"web\" }]\n"),
     "t.toml:21: listener[0].tls.routes[0].sni: got \"API.example.com\", expected a lower-case "
     "DNS host name like \"api.example.com\""},
    {"TlsSmallBuffers",
     kPorts + "[tcp]\nbuffer_kib = 16\n" + kWebPool +
         "[[listener]]\nname = \"https\"\nvip = \"198.18.100.10:443\"\nmode = \"tls\"\npool = \"web\"\n" +
         "[listener.tls]\ncertificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n",
     "t.toml:16: listener[0].mode: got \"tls\", expected \"tcp\", or [tcp] buffer_kib of at least 32 "
     "(a whole TLS record must fit a session buffer)"},
    {"ModeTypo", Listener("http", "vip = \"198.18.100.10:80\"\nmode = \"tpc\"\npool = \"web\"\n"),
     "t.toml:17: listener[0].mode: got \"tpc\", expected one of \"tcp\", \"tls\" (did you mean "
     "\"tcp\"?)"},
    {"ModeUnknown",
     Listener("http", "vip = \"198.18.100.10:80\"\nmode = \"quic\"\npool = \"web\"\n"),
     "t.toml:17: listener[0].mode: got \"quic\", expected one of \"tcp\", \"tls\""},
    {"PoolRefTypo", Listener("http", "vip = \"198.18.100.10:80\"\npool = \"wbe\"\n"),
     "t.toml:17: listener[0].pool: got \"wbe\", expected the name of a [[pool]] (did you mean "
     "\"web\"?)"},
    {"PoolRefUnknown",
     kPorts + kWebPool + "[[pool]]\nname = \"echo\"\nbackends = [\"198.18.3.101:9000\"]\n" +
         "[[listener]]\nname = \"images\"\nvip = \"198.18.100.10:80\"\npool = \"images\"\n",
     "t.toml:20: listener[0].pool: got \"images\", expected the name of a [[pool]] (one of "
     "\"web\", \"echo\")"},
    {"PoolRefNoPools", kPorts + kHttp,
     "t.toml:14: listener[0].pool: got \"web\", expected the name of a [[pool]] (there is "
     "none)"},
    {"PoolRefToBadPool",
     kPorts + "[[pool]]\nname = \"Web\"\nbackends = [\"198.18.3.101:80\"]\n" +
         "[[listener]]\nname = \"http\"\nvip = \"198.18.100.10:80\"\npool = \"Web\"\n",
     "t.toml:12: pool[0].name: got \"Web\", expected a name like \"web\" (a-z, then up to 15 of "
     "a-z 0-9 _ -)"},
    {"PoolRefNotString", Listener("http", "vip = \"198.18.100.10:80\"\npool = 0\n"),
     "t.toml:17: listener[0].pool: got 0, expected the name of a [[pool]]"},
    {"ProxyProtocolNotBool",
     Listener("http", "vip = \"198.18.100.10:80\"\npool = \"web\"\nproxy_protocol = \"v2\"\n"),
     "t.toml:18: listener[0].proxy_protocol: got \"v2\", expected true or false"},
    {"ListenerKeyTypo",
     Listener("http", "vip = \"198.18.100.10:80\"\npool = \"web\"\nproxy_protcol = true\n"),
     "t.toml:18: listener[0].proxy_protcol: got true, expected a known key (did you mean "
     "\"proxy_protocol\"?)"},
    {"ListenersWithoutBackPort", kFront + kWebPool + kHttp,
     "t.toml:9: listener: got listeners and no port with role \"back\", expected a port with "
     "role \"back\" (backends are reached over it)"},
    {"PoolsAndListenersTogether",
     kPorts + "[[pool]]\nname = \"web\"\nalgorithm = \"maglv\"\nbackends = [\"198.18.3.101\"]\n" +
         "[[listener]]\nname = \"http\"\nvip = \"198.18.2.11:80\"\nmode = \"tls\"\npool = "
         "\"wbe\"\n",
     "",
     {"t.toml:13: pool[0].algorithm: got \"maglv\",", "t.toml:14: pool[0].backends[0]: got",
      "t.toml:15: listener[0].tls: got nothing,",
      "t.toml:17: listener[0].vip: got \"198.18.2.11:80\", expected a VIP other than port[0]'s",
      "t.toml:19: listener[0].pool: got \"wbe\", expected the name of a [[pool]] (did you mean"}},
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

TEST(BadConfigList, HasEnoughCases) { EXPECT_GE(std::size(kBad), 140u); }

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
  // [tcp] spells out the defaults.
  const dp::TcpSettings tcp;
  EXPECT_EQ(s.tcp.max_sessions, tcp.max_sessions);
  EXPECT_EQ(s.tcp.buffer_bytes, tcp.buffer_bytes);
  EXPECT_EQ(s.tcp.syn_backlog, tcp.syn_backlog);
  EXPECT_EQ(s.tcp.connect_timeout_ms, tcp.connect_timeout_ms);
  EXPECT_EQ(s.tcp.connect_attempts, tcp.connect_attempts);
  EXPECT_EQ(s.tcp.idle_timeout_ms, tcp.idle_timeout_ms);
  EXPECT_EQ(s.tcp.snat_port_min, tcp.snat_port_min);
  EXPECT_EQ(s.tcp.snat_port_max, tcp.snat_port_max);
  // TESTBED.md: listeners on 198.18.100.10, pools on 198.18.3.101-103.
  ASSERT_EQ(s.pools.size(), 4u);
  const std::array<std::pair<const char*, uint16_t>, 4> pools = {
      {{"web", 80}, {"echo", 9000}, {"sink", 9001}, {"web-h2", 8080}}};
  for (size_t p = 0; p < pools.size(); ++p) {
    const dp::PoolConfig& pool = s.pools[p];
    EXPECT_EQ(pool.name, pools[p].first);
    ASSERT_EQ(pool.backends.size(), 3u) << pool.name;
    for (uint32_t i = 0; i < 3; ++i) {
      EXPECT_EQ(pool.backends[i].address, IpAddr::V4(0xC6120365 + i)) << pool.name;
      EXPECT_EQ(pool.backends[i].port, pools[p].second);
      EXPECT_EQ(pool.backends[i].weight, 1);
    }
  }
  EXPECT_EQ(s.pools[1].algorithm, dp::BalanceAlgorithm::kLeastConnections);
  ASSERT_EQ(s.listeners.size(), 5u);
  const std::array<std::tuple<uint16_t, dp::ListenerMode, uint16_t>, 5> listeners = {{
      {80, dp::ListenerMode::kTcp, 0},
      {9000, dp::ListenerMode::kTcp, 1},
      {443, dp::ListenerMode::kTls, 0},
      {9443, dp::ListenerMode::kTls, 1},
      {9444, dp::ListenerMode::kTls, 2},
  }};
  for (size_t i = 0; i < listeners.size(); ++i) {
    EXPECT_EQ(s.listeners[i].vip, IpAddr::V4(0xC612640A));
    EXPECT_EQ(s.listeners[i].port, std::get<0>(listeners[i]));
    EXPECT_EQ(s.listeners[i].mode, std::get<1>(listeners[i]));
    EXPECT_EQ(s.listeners[i].pool, std::get<2>(listeners[i]));
  }
  // ALPN h2 on :443 goes to nginx's HTTP/2 port; the site has an ECDSA and an RSA chain.
  ASSERT_EQ(s.listeners[2].tls.routes.size(), 1u);
  EXPECT_EQ(s.listeners[2].tls.routes[0].alpn, "h2");
  EXPECT_EQ(s.listeners[2].tls.routes[0].pool, 3);
  EXPECT_EQ(s.listeners[2].tls.certificates.size(), 2u);
  for (const dp::ListenerConfig& l : s.listeners) EXPECT_FALSE(l.proxy_protocol) << l.name;
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
  const dp::TcpSettings tcp;
  EXPECT_EQ(s.tcp.max_sessions, tcp.max_sessions);
  EXPECT_EQ(s.tcp.buffer_bytes, tcp.buffer_bytes);
  EXPECT_EQ(s.tcp.syn_backlog, tcp.syn_backlog);
  EXPECT_EQ(s.tcp.connect_timeout_ms, tcp.connect_timeout_ms);
  EXPECT_EQ(s.tcp.connect_attempts, tcp.connect_attempts);
  EXPECT_EQ(s.tcp.idle_timeout_ms, tcp.idle_timeout_ms);
  EXPECT_EQ(s.tcp.snat_port_min, tcp.snat_port_min);
  EXPECT_EQ(s.tcp.snat_port_max, tcp.snat_port_max);
  // The documented defaults (docs/CONFIG.md) are the header's.
  EXPECT_EQ(tcp.buffer_bytes, 256u * 1024);
  EXPECT_EQ(tcp.idle_timeout_ms, 300'000u);
  EXPECT_EQ(tcp.snat_port_min, 10000);
  EXPECT_EQ(tcp.snat_port_max, 59999);
  EXPECT_TRUE(s.pools.empty());
  EXPECT_TRUE(s.listeners.empty());
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

TEST(ParseConfig, TcpAtItsBounds) {
  const dp::ConfigSnapshot low = ParseConfig(R"([tcp]
max_sessions = 1
buffer_kib = 4
syn_backlog = 1
connect_timeout_ms = 100
connect_attempts = 1
idle_timeout_s = 1
snat_ports = "1024-1087"      # 64 ports, the fewest
)" + kFront,
                                             "t.toml");
  EXPECT_EQ(low.tcp.max_sessions, 1u);
  EXPECT_EQ(low.tcp.buffer_bytes, 4096u);
  EXPECT_EQ(low.tcp.syn_backlog, 1u);
  EXPECT_EQ(low.tcp.connect_timeout_ms, 100u);
  EXPECT_EQ(low.tcp.connect_attempts, 1);
  EXPECT_EQ(low.tcp.idle_timeout_ms, 1000u);
  EXPECT_EQ(low.tcp.snat_port_min, 1024);
  EXPECT_EQ(low.tcp.snat_port_max, 1087);
  const dp::ConfigSnapshot high = ParseConfig(R"([tcp]
max_sessions = 4_194_304
buffer_kib = 16384
syn_backlog = 1048576
connect_timeout_ms = 600000
connect_attempts = 10
idle_timeout_s = 86400
snat_ports = "65472-65535"
)" + kFront,
                                              "t.toml");
  EXPECT_EQ(high.tcp.max_sessions, 4'194'304u);
  EXPECT_EQ(high.tcp.buffer_bytes, 16u * 1024 * 1024);
  EXPECT_EQ(high.tcp.syn_backlog, 1'048'576u);
  EXPECT_EQ(high.tcp.connect_timeout_ms, 600'000u);
  EXPECT_EQ(high.tcp.connect_attempts, 10);
  EXPECT_EQ(high.tcp.idle_timeout_ms, 86'400'000u);
  EXPECT_EQ(high.tcp.snat_port_min, 65472);
  EXPECT_EQ(high.tcp.snat_port_max, 65535);
}

TEST(ParseConfig, PoolsAndListeners) {
  const dp::ConfigSnapshot s = ParseConfig(kPorts + R"(
[[pool]]
name = "web"
backends = ["198.18.3.101:80", "198.18.3.102:80", { address = "198.18.3.103:80", weight = 2 }]

[[pool]]
name = "echo"
algorithm = "least_connections"
backends = [
  "198.18.3.101:9000",
  "198.18.3.101:9001",            # same address, other port
  { address = "198.18.3.102:9000", weight = 0 },
  { address = "198.18.3.103:65535", weight = 1000 },
]

[[pool]]
name = "spare"                    # no listener uses it
algorithm = "maglev"
backends = [{ address = "198.18.3.104:1" }]

[[listener]]
name = "echo"                     # listener and pool names are separate
vip = "198.18.100.10:9000"
pool = "echo"
proxy_protocol = true

[[listener]]
name = "http"
vip = "198.18.100.10:80"          # same VIP, other port
mode = "tcp"
pool = "web"

[[listener]]
name = "other"
vip = "203.0.113.7:80"            # outside every port subnet: routed to us
pool = "echo"
)",
                                           "t.toml");
  ASSERT_EQ(s.pools.size(), 3u);
  const dp::PoolConfig& web = s.pools[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.algorithm, dp::BalanceAlgorithm::kRoundRobin);  // default
  ASSERT_EQ(web.backends.size(), 3u);
  EXPECT_EQ(web.backends[0].address, IpAddr::V4(0xC6120365));
  EXPECT_EQ(web.backends[0].port, 80);
  EXPECT_EQ(web.backends[0].weight, 1);
  EXPECT_EQ(web.backends[1].address, IpAddr::V4(0xC6120366));
  EXPECT_EQ(web.backends[1].weight, 1);
  EXPECT_EQ(web.backends[2].address, IpAddr::V4(0xC6120367));
  EXPECT_EQ(web.backends[2].port, 80);
  EXPECT_EQ(web.backends[2].weight, 2);
  const dp::PoolConfig& echo = s.pools[1];
  EXPECT_EQ(echo.algorithm, dp::BalanceAlgorithm::kLeastConnections);
  ASSERT_EQ(echo.backends.size(), 4u);
  EXPECT_EQ(echo.backends[1].port, 9001);
  EXPECT_EQ(echo.backends[2].weight, 0);
  EXPECT_EQ(echo.backends[3].port, 65535);
  EXPECT_EQ(echo.backends[3].weight, 1000);
  EXPECT_EQ(s.pools[2].algorithm, dp::BalanceAlgorithm::kMaglev);
  ASSERT_EQ(s.pools[2].backends.size(), 1u);
  EXPECT_EQ(s.pools[2].backends[0].port, 1);
  EXPECT_EQ(s.pools[2].backends[0].weight, 1);

  ASSERT_EQ(s.listeners.size(), 3u);
  EXPECT_EQ(s.listeners[0].name, "echo");
  EXPECT_EQ(s.listeners[0].vip, IpAddr::V4(0xC612640A));
  EXPECT_EQ(s.listeners[0].port, 9000);
  EXPECT_EQ(s.listeners[0].mode, dp::ListenerMode::kTcp);  // default
  EXPECT_EQ(s.listeners[0].pool, 1);
  EXPECT_TRUE(s.listeners[0].proxy_protocol);
  EXPECT_EQ(s.listeners[1].name, "http");
  EXPECT_EQ(s.listeners[1].port, 80);
  EXPECT_EQ(s.listeners[1].mode, dp::ListenerMode::kTcp);
  EXPECT_EQ(s.listeners[1].pool, 0);
  EXPECT_FALSE(s.listeners[1].proxy_protocol);  // default
  EXPECT_EQ(s.listeners[2].vip, IpAddr::V4(0xCB007107));
  EXPECT_EQ(s.listeners[2].pool, 1);
}

TEST(ParseConfig, TlsListener) {
  const std::string text = kPorts + kWebPool + "[[pool]]\nname = \"api\"\nbackends = [\"198.18.3.102:80\"]\n" +
                           "[[listener]]\nname = \"https\"\n" + kTlsVip +
                           "[listener.tls]\n"
                           "certificates = [{ cert = \"certs/ec.pem\", key = \"/etc/k.pem\" },\n"
                           "                { cert = \"rsa.pem\", key = \"rsa.key\" }]\n"
                           "alpn = [\"h2\", \"http/1.1\"]\n"
                           "versions = [\"1.3\"]\n"
                           "handshake_timeout_ms = 2500\n"
                           "ticket_key_file = \"ticket.keys\"\n"
                           "tickets = 1\n"
                           "routes = [{ sni = \"api.example.com\", pool = \"api\" }, { alpn = \"h2\", pool = \"web\" }]\n";
  const dp::ConfigSnapshot s = ParseConfig(text, "/etc/baton/t.toml");
  ASSERT_EQ(s.listeners.size(), 1u);
  const dp::ListenerConfig& l = s.listeners[0];
  EXPECT_EQ(l.mode, dp::ListenerMode::kTls);
  ASSERT_EQ(l.tls.certificates.size(), 2u);
  EXPECT_EQ(l.tls.certificates[0].cert_file, "/etc/baton/certs/ec.pem");  // next to the config
  EXPECT_EQ(l.tls.certificates[0].key_file, "/etc/k.pem");
  EXPECT_EQ(l.tls.certificates[0].line, 23u);
  EXPECT_EQ(l.tls.certificates[1].key_file, "/etc/baton/rsa.key");
  EXPECT_EQ(l.tls.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_TRUE(l.tls.tls13);
  EXPECT_FALSE(l.tls.tls12);
  EXPECT_EQ(l.tls.handshake_timeout_ms, 2500u);
  EXPECT_EQ(l.tls.ticket_key_file, "/etc/baton/ticket.keys");
  EXPECT_EQ(l.tls.ticket_key_line, 28u);
  EXPECT_EQ(l.tls.tickets_per_handshake, 1);
  ASSERT_EQ(l.tls.routes.size(), 2u);
  EXPECT_EQ(l.tls.routes[0].sni, "api.example.com");
  EXPECT_EQ(l.tls.routes[0].pool, 1);
  EXPECT_EQ(l.tls.routes[1].alpn, "h2");
  EXPECT_EQ(l.tls.routes[1].pool, 0);
}

TEST(ParseConfig, BackendsAsArrayOfTables) {
  const dp::ConfigSnapshot s = ParseConfig(kPorts + R"(
[[pool]]
name = "web"
algorithm = "maglev"

[[pool.backends]]
address = "198.18.3.101:80"
weight = 3

[[pool.backends]]
address = "198.18.3.102:80"
)",
                                           "t.toml");
  ASSERT_EQ(s.pools.size(), 1u);
  ASSERT_EQ(s.pools[0].backends.size(), 2u);
  EXPECT_EQ(s.pools[0].backends[0].weight, 3);
  EXPECT_EQ(s.pools[0].backends[1].address, IpAddr::V4(0xC6120366));
  EXPECT_EQ(s.pools[0].backends[1].weight, 1);
}

// With a gateway on the back port, backends may sit beyond it; pools alone need no back
// port, and a VIP may sit inside the front subnet (the box answers ARP for it).
TEST(ParseConfig, BackendsBeyondTheBackGateway) {
  const dp::ConfigSnapshot s = ParseConfig(
      kFront +
          Port("back", "[\"back\"]", "net_tap1", "198.18.3.11/24", "gateway = \"198.18.3.1\"\n") +
          kWebPool + "[[pool]]\nname = \"far\"\nbackends = [\"10.1.2.3:443\"]\n" +
          "[[listener]]\nname = \"far\"\nvip = \"198.18.2.50:443\"\npool = \"far\"\n",
      "t.toml");
  ASSERT_EQ(s.pools.size(), 2u);
  EXPECT_EQ(s.pools[1].backends[0].address, IpAddr::V4(0x0A010203));
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].pool, 1);
  EXPECT_EQ(ParseConfig(kFront + kWebPool, "t.toml").pools.size(), 1u);
}

TEST(ParseConfig, EmptyPoolAndListenerArrays) {
  const dp::ConfigSnapshot s = ParseConfig("pool = []\nlistener = []\n" + kFront, "t.toml");
  EXPECT_TRUE(s.pools.empty());
  EXPECT_TRUE(s.listeners.empty());
}

// ListenerConfig::pool is 16 bits: one pool more than it can index is refused.
TEST(ParseConfig, PoolHealth) {
  const dp::ConfigSnapshot none = ParseConfig(Backends("[\"198.18.3.101:80\"]"), "t.toml");
  EXPECT_FALSE(none.pools[0].health.enabled);
  const dp::ConfigSnapshot defaults = ParseConfig(Health(""), "t.toml");
  const dp::HealthConfig& d = defaults.pools[0].health;
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.interval_ms, 2000u);
  EXPECT_EQ(d.timeout_ms, 1000u);
  EXPECT_EQ(d.rise, 2);
  EXPECT_EQ(d.fall, 3);
  EXPECT_EQ(d.http_path, "");
  const dp::ConfigSnapshot all = ParseConfig(
      Health("interval_ms = 300\ntimeout_ms = 300\nrise = 1\nfall = 100\nhttp_path = \"/healthz?x=1\"\n"), "t.toml");
  const dp::HealthConfig& a = all.pools[0].health;
  EXPECT_EQ(a.interval_ms, 300u);
  EXPECT_EQ(a.timeout_ms, 300u);
  EXPECT_EQ(a.rise, 1);
  EXPECT_EQ(a.fall, 100);
  EXPECT_EQ(a.http_path, "/healthz?x=1");
  // A short interval shortens the default timeout with it.
  EXPECT_EQ(ParseConfig(Health("interval_ms = 200\n"), "t.toml").pools[0].health.timeout_ms, 200u);
}

TEST(ParseConfig, TooManyPools) {
  std::string text = kPorts;
  for (size_t i = 0; i <= 65536; ++i)
    text += "[[pool]]\nname = \"p" + std::to_string(i) + "\"\nbackends = [\"198.18.3.101:80\"]\n";
  const size_t line = 11 + 65536 * 3;
  EXPECT_EQ(ErrorOf(text), "t.toml:" + std::to_string(line) +
                               ": pool[65536]: got a table, expected at most 65536 [[pool]] "
                               "tables");
}

// Backend and VIP text: the forms that are not "A.B.C.D:PORT".
class BadEndpoint : public ::testing::TestWithParam<const char*> {};

TEST_P(BadEndpoint, Rejected) {
  const std::string text = GetParam();
  EXPECT_EQ(ErrorOf(Backends("[\"" + text + "\"]")),
            "t.toml:13: pool[0].backends[0]: got \"" + text +
                "\", expected an IPv4 address and port like 198.18.3.101:80");
  EXPECT_EQ(ErrorOf(Listener("http", "vip = \"" + text + "\"\npool = \"web\"\n")),
            "t.toml:16: listener[0].vip: got \"" + text +
                "\", expected an IPv4 address and port like 198.18.100.10:80");
}

INSTANTIATE_TEST_SUITE_P(Edges, BadEndpoint,
                         ::testing::Values("", ":80", "198.18.3.101", "198.18.3.101:",
                                           "198.18.3.101:+80", "198.18.3.101:080",
                                           "198.18.3.101: 80", " 198.18.3.101:80",
                                           "198.18.3.101:80 ", "198.18.3.101:8a",
                                           "198.18.3:80", "198.018.3.101:80", "web1:80",
                                           "198.18.3.101:80:80", "198.18.3.101/24:80",
                                           "198.18.3.101::80", "198.18.3.101:1234567890",
                                           "http://198.18.3.101:80"));

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

// Invalid UTF-8 is refused before the TOML parser sees it (Debian's toml11 3.7.1 reads
// out of bounds on it inside literal strings: tests/fuzz/crashes/config_fuzz-*.bin).
TEST(ParseConfig, InvalidUtf8IsASyntaxError) {
  const std::pair<std::string, std::string> kCases[] = {
      {"a = '\xff'\n", "1"},
      {"[dataplane]\nworkers = 1\nx = '''\xff'''\n", "3"},
      {"# \xc0\xaf overlong slash\n", "1"},
      {"# \xed\xa0\x80 surrogate\n", "1"},
      {"a = \"\xe2\x82\"\n", "1"},  // truncated sequence
  };
  for (const auto& [text, line] : kCases) {
    try {
      (void)ParseConfig(text, "u.toml");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), "u.toml:" + line + ": syntax error: invalid UTF-8");
    }
  }
  // Valid multi-byte text passes the check (and fails later for want of a port).
  try {
    (void)ParseConfig("# caf\xc3\xa9 \xf0\x9f\x98\x80\n", "u.toml");
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace baton::cp
