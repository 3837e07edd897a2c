// TOML config file -> validated dp::ConfigSnapshot. The schema is in docs/CONFIG.md.
//
// The loader walks the parsed document once, table by table, and records every problem
// instead of stopping at the first: someone fixing a file wants the whole list at once.
// Each problem is one line, "FILE:LINE: KEY: got VALUE, expected WHAT".
#include "controlplane/config.h"


#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <toml.hpp>

namespace baton::cp {
namespace {

// std::map rather than toml11's default unordered_map, so the walk order never depends
// on hashing. Problems are sorted by line before they are printed anyway.
using Value = toml::basic_value<toml::discard_comments, std::map, std::vector>;

constexpr size_t kMaxShownChars = 60;  // longer values are cut in messages

// ---------------------------------------------------------------------------------------
// Problems: the collected "KEY: got VALUE, expected WHAT" lines.

class Problems {
 public:
  void Add(uint32_t line, std::string_view key, std::string_view got,
           std::string_view expected) {
    std::string text;
    text.reserve(key.size() + got.size() + expected.size() + 16);
    text.append(key).append(": got ").append(got).append(", expected ").append(expected);
    list_.push_back({line, std::move(text)});
  }
  bool empty() const noexcept { return list_.empty(); }

  // One line per problem, ordered by line; problems on the same line keep their order.
  [[noreturn]] void Throw(const std::string& origin) {
    std::stable_sort(list_.begin(), list_.end(),
                     [](const Entry& a, const Entry& b) { return a.line < b.line; });
    std::string all;
    for (const Entry& e : list_) {
      if (!all.empty()) all += '\n';
      all.append(origin).append(":").append(std::to_string(e.line)).append(": ").append(e.text);
    }
    throw ConfigError(all);
  }

 private:
  struct Entry {
    uint32_t line;
    std::string text;
  };
  std::vector<Entry> list_;
};

// ---------------------------------------------------------------------------------------
// Showing values in messages.

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", unsigned{u});
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string Cut(std::string s) {
  if (s.size() > kMaxShownChars) s = s.substr(0, kMaxShownChars - 3) + "...";
  return s;
}

std::string ShowFull(const Value& v) {
  switch (v.type()) {
    case toml::value_t::empty:
      return "nothing";
    case toml::value_t::boolean:
      return v.as_boolean() ? "true" : "false";
    case toml::value_t::integer: {
      // As written: toml11 3.7 saturates integers beyond 64 bits to INT64_MAX, and
      // 99999999999999999999 reads better than 9223372036854775807 in a message.
      const toml::source_location loc = v.location();
      const std::string& line = loc.line_str();
      if (loc.column() >= 1 && loc.region() > 0 && loc.column() - 1 + loc.region() <= line.size())
        return line.substr(loc.column() - 1, loc.region());
      return std::to_string(v.as_integer());
    }
    case toml::value_t::string:
      return Quote(v.as_string().str);
    case toml::value_t::floating:
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
    case toml::value_t::local_date:
    case toml::value_t::local_time:
      return toml::format(v);
    case toml::value_t::array: {
      std::string s = "[";
      for (const Value& e : v.as_array()) {
        if (s.size() > 1) s += ", ";
        s += ShowFull(e);
        if (s.size() > kMaxShownChars) break;  // Cut() trims it
      }
      return s + "]";
    }
    case toml::value_t::table:
      return "a table";
  }
  return "?";
}

std::string Show(const Value& v) { return Cut(ShowFull(v)); }

// ---------------------------------------------------------------------------------------
// "Did you mean": optimal string alignment distance (Levenshtein plus adjacent swaps,
// so "wokrers" is one edit from "workers").

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The closest candidate 1-2 edits away (never all of a short word); first wins ties.
std::optional<std::string_view> Suggest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  size_t best_distance = 3;
  for (const std::string_view c : candidates) {
    const size_t dist = EditDistance(word, c);
    if (dist < best_distance && dist < c.size()) {
      best = c;
      best_distance = dist;
    }
  }
  return best;
}

std::string JoinNames(const std::vector<std::string_view>& names, std::string_view quote) {
  std::string s;
  for (const std::string_view n : names) {
    if (!s.empty()) s += ", ";
    s.append(quote).append(n).append(quote);
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Reading one table against its schema.

struct IntRule {
  int64_t lo;
  int64_t hi;
  bool power_of_two = false;
  std::string_view lo_note = {};  // why lo is what it is, when it comes from another key
  std::string_view hi_note = {};
};

std::string Describe(const IntRule& r) {
  std::string s = r.power_of_two ? "a power of two from " : "an integer from ";
  s += std::to_string(r.lo);
  if (!r.lo_note.empty()) s.append(" (").append(r.lo_note).append(")");
  s += " to " + std::to_string(r.hi);
  if (!r.hi_note.empty()) s.append(" (").append(r.hi_note).append(")");
  return s;
}

// Every Get() marks its key as known, present or not; Finish() then reports the keys
// nobody asked for, so a misspelt key is an error instead of a silent default.
class TableReader {
 public:
  TableReader(Problems& problems, const Value& table, std::string path)
      : problems_(problems), table_(table), path_(std::move(path)) {}

  // nullptr when the key is absent.
  const Value* Get(std::string_view key) {
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
    const auto& t = table_.as_table();
    const auto it = t.find(std::string(key));
    return it == t.end() ? nullptr : &it->second;
  }

  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  // toml11 counts the lines up to the value on every call: only for messages, or a file
  // with many tables takes quadratic time.
  uint32_t line() const { return table_.location().line(); }
  const Value& table() const { return table_; }

  void Bad(const Value& v, std::string_view key, std::string_view expected) {
    problems_.Add(v.location().line(), Path(key), Show(v), expected);
  }
  // A required key that is absent: reported at the line of the table that lacks it.
  void Missing(std::string_view key, std::string_view expected) {
    problems_.Add(line(), Path(key), "nothing", expected);
  }

  // True when the key is present and valid; `out` is left alone otherwise.
  template <typename T>
  bool Int(std::string_view key, const IntRule& rule, T& out) {
    const Value* v = Get(key);
    if (v == nullptr) return false;
    if (!v->is_integer()) {
      Bad(*v, key, Describe(rule));
      return false;
    }
    const int64_t n = v->as_integer();
    if (n < rule.lo || n > rule.hi || (rule.power_of_two && (n & (n - 1)) != 0)) {
      Bad(*v, key, Describe(rule));
      return false;
    }
    out = static_cast<T>(n);
    return true;
  }

  // True when the key is present and a boolean.
  bool Bool(std::string_view key, bool& out) {
    const Value* v = Get(key);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      Bad(*v, key, "true or false");
      return false;
    }
    out = v->as_boolean();
    return true;
  }

  // `noun` is "key" or "table" (the top level holds only tables).
  void Finish(std::string_view noun = "key") {
    for (const auto& [key, v] : table_.as_table()) {
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string expected = "a known " + std::string(noun);
      if (const auto near = Suggest(key, known_))
        expected.append(" (did you mean \"").append(*near).append("\"?)");
      else
        expected.append(" (one of ").append(JoinNames(known_, "")).append(")");
      problems_.Add(v.location().line(), Path(key), Show(v), expected);
    }
  }

 private:
  Problems& problems_;
  const Value& table_;
  std::string path_;
  std::vector<std::string_view> known_;  // schema keys: string literals, never dangling
};

// ---------------------------------------------------------------------------------------
// IPv4 text, through the data plane API's one address parser (inet_pton: four decimal
// parts 0..255, no leading zeros, so "010" is never read as octal).
std::optional<uint32_t> ParseV4(std::string_view s) {
  const auto a = dp::IpAddr::Parse(s);
  if (!a || !a->IsV4()) return std::nullopt;
  return a->V4HostOrder();
}

bool IsV6(std::string_view s) {
  const auto a = dp::IpAddr::Parse(s);
  return a && a->family == dp::IpFamily::kV6;
}

// "A.B.C.D/LEN", LEN 1..32 without sign or leading zero.
std::optional<std::pair<uint32_t, uint8_t>> ParseV4Prefix(std::string_view s) {
  const auto p = dp::IpPrefix::Parse(s);
  if (!p || !p->addr.IsV4() || p->length < 1) return std::nullopt;
  return std::pair{p->addr.V4HostOrder(), p->length};
}

bool IsV6Prefix(std::string_view s) {
  const size_t slash = s.find('/');
  return IsV6(s.substr(0, slash));  // npos: the whole text
}

constexpr uint32_t Mask(uint8_t len) noexcept { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

std::string V4Text(uint32_t host) { return dp::IpAddr::V4(host).ToString(); }

std::string SubnetText(uint32_t host, uint8_t len) {
  return V4Text(host & Mask(len)) + "/" + std::to_string(len);
}

// The all-zeros and all-ones host parts name the subnet and its broadcast; /31 and /32
// have none (RFC 3021).
bool IsNetworkOrBroadcast(uint32_t host, uint8_t len) noexcept {
  if (len >= 31) return false;
  const uint32_t host_bits = host & ~Mask(len);
  return host_bits == 0 || host_bits == ~Mask(len);
}

// ---------------------------------------------------------------------------------------
// Port names and devices.

// [a-z][a-z0-9_-]{0,15}
bool IsPortName(std::string_view s) {
  if (s.empty() || s.size() > 16 || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The device itself, without DPDK's ",key=value" arguments.
std::string_view DeviceHead(std::string_view device) { return device.substr(0, device.find(',')); }

// Only hex digits, ':' and '.', with a ':': someone meant a PCI address.
bool LooksLikePci(std::string_view head) {
  return head.find(':') != std::string_view::npos &&
         std::all_of(head.begin(), head.end(),
                     [](char c) { return IsHex(c) || c == ':' || c == '.'; });
}

// DPDK's PCI form [DDDD:]BB:DD.F (domain, bus, device <= 0x1f, function <= 7), returned
// lowercase with the domain filled in, so "03:00.0" and "0000:03:00.0" compare equal.
std::optional<std::string> CanonicalPci(std::string_view head) {
  std::string s(head);
  if (s.size() == 7) s = "0000:" + s;
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return std::nullopt;
  for (const size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
    if (!IsHex(s[i])) return std::nullopt;
  if (s[11] < '0' || s[11] > '7') return std::nullopt;
  unsigned dev = 0;
  std::from_chars(s.data() + 8, s.data() + 10, dev, 16);
  if (dev > 0x1f) return std::nullopt;
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return c >= 'A' && c <= 'F' ? char(c - 'A' + 'a') : c;
  });
  return s;
}

constexpr std::string_view kDeviceText =
    "a DPDK device like \"net_af_packet0,iface=front\" or \"0000:03:00.0\"";
constexpr std::string_view kPciText = "a PCI address like \"0000:03:00.0\"";
// What a name must look like, with an example that fits the table ("front", "web").
std::string NameText(std::string_view example) {
  return "a name like \"" + std::string(example) + "\" (a-z, then up to 15 of a-z 0-9 _ -)";
}
constexpr std::string_view kPrefixText = "an IPv4 prefix like 198.18.2.11/24";
constexpr std::string_view kAddrText = "an IPv4 address like 198.18.2.1";
constexpr std::string_view kNoV6 = " (IPv6 is not supported yet)";

struct RoleName {
  std::string_view name;
  dp::PortRole role;
};
constexpr std::array<RoleName, 3> kRoles = {{
    {"front", dp::kRoleFront},
    {"back", dp::kRoleBack},
    {"repl", dp::kRoleRepl},
}};

// ---------------------------------------------------------------------------------------
// The tables.

void ReadDataplane(TableReader& t, dp::DataplaneConfig& d) {
  t.Int("workers", {1, 64}, d.workers);
  t.Int("idle_backoff_us", {0, 1'000'000}, d.idle_backoff_us);
  t.Int("idle_polls_before_sleep", {1, 1'000'000}, d.idle_polls_before_sleep);
  t.Int("mbufs_per_port", {511, 1'048'575}, d.mbufs_per_port);
  t.Int("rx_descriptors", {64, 8192, true}, d.rx_descriptors);
  t.Int("tx_descriptors", {64, 8192, true}, d.tx_descriptors);
  t.Int("burst", {1, 256}, d.burst);
  t.Int("stall_timeout_ms", {0, 60'000}, d.stall_timeout_ms);
  t.Finish();
}

void ReadArp(TableReader& t, dp::ArpConfig& a) {
  constexpr IntRule kReachable{1'000, 3'600'000};
  constexpr int64_t kStaleMax = 86'400'000;
  const bool reachable_given = t.Get("reachable_ms") != nullptr;
  const bool reachable_ok = !reachable_given || t.Int("reachable_ms", kReachable, a.reachable_ms);
  if (t.Get("stale_ms") != nullptr) {
    // stale_ms >= reachable_ms: an entry must not be dropped before it stops being fresh.
    if (reachable_ok) {
      const std::string_view note =
          reachable_given ? "arp.reachable_ms" : "the default arp.reachable_ms";
      t.Int("stale_ms", {a.reachable_ms, kStaleMax, false, note}, a.stale_ms);
    } else {  // reachable_ms has its own message; check stale_ms against the widest range
      t.Int("stale_ms", {kReachable.lo, kStaleMax}, a.stale_ms);
    }
  } else if (reachable_given && reachable_ok && a.reachable_ms > a.stale_ms) {
    // The default stale_ms is below the reachable_ms asked for: say which one to raise.
    t.Bad(*t.Get("reachable_ms"), "reachable_ms",
          Describe({kReachable.lo, a.stale_ms, false, {}, "the default arp.stale_ms"}));
  }
  t.Int("retry_ms", {100, 60'000}, a.retry_ms);
  t.Int("retries", {1, 10}, a.retries);
  t.Int("pending_packets", {0, 64}, a.pending_packets);
  t.Finish();
}

// A port as read, plus what the cross-checks need. Each pointer is set only when that
// key passed its own checks, so one mistake does not cascade into more messages.
struct PortDraft {
  dp::PortConfig config;
  std::string path;  // "port[1]"
  const Value* table = nullptr;
  const Value* name = nullptr;
  const Value* roles = nullptr;
  const Value* device = nullptr;
  const Value* address = nullptr;
  bool gateway_given = false;  // even when it is wrong
  std::string device_id;  // DeviceHead(), PCI canonical
  uint32_t host = 0;      // address, host order
};

void ReadRoles(TableReader& t, Problems& problems, PortDraft& p) {
  const Value* v = t.Get("roles");
  std::vector<std::string_view> names;
  for (const RoleName& r : kRoles) names.push_back(r.name);
  const std::string one_of = "one of " + JoinNames(names, "\"");
  if (v == nullptr) return t.Missing("roles", "an array of roles, each " + one_of);
  if (!v->is_array() || v->as_array().empty())
    return t.Bad(*v, "roles", "a non-empty array of roles like [\"front\"], each " + one_of);
  bool ok = true;
  const auto& items = v->as_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const Value& item = items[i];
    const std::string key = t.Path("roles") + "[" + std::to_string(i) + "]";
    const RoleName* found = nullptr;
    if (item.is_string()) {
      for (const RoleName& r : kRoles)
        if (item.as_string().str == r.name) found = &r;
    }
    if (found == nullptr) {
      std::string expected = one_of;
      if (item.is_string())
        if (const auto near = Suggest(item.as_string().str, names))
          expected.append(" (did you mean \"").append(*near).append("\"?)");
      problems.Add(item.location().line(), key, Show(item), expected);
      ok = false;
    } else if ((p.config.roles & found->role) != 0) {
      problems.Add(item.location().line(), key, Show(item), "a role not already listed");
      ok = false;
    } else {
      p.config.roles |= found->role;
    }
  }
  if (ok) p.roles = v;
}

void ReadAddress(TableReader& t, PortDraft& p) {
  const Value* v = t.Get("address");
  if (v == nullptr) return t.Missing("address", kPrefixText);
  if (!v->is_string()) return t.Bad(*v, "address", kPrefixText);
  const std::string& text = v->as_string().str;
  const auto prefix = ParseV4Prefix(text);
  if (!prefix) {
    std::string expected(kPrefixText);
    if (IsV6Prefix(text)) expected += kNoV6;
    return t.Bad(*v, "address", expected);
  }
  const auto [host, len] = *prefix;
  if (IsNetworkOrBroadcast(host, len)) {
    return t.Bad(*v, "address",
                 std::string(kPrefixText) + " whose address is a host, not " +
                     V4Text(host & Mask(len)) + " or " + V4Text(host | ~Mask(len)));
  }
  p.config.address = dp::IpPrefix{dp::IpAddr::V4(host), len};
  p.host = host;
  p.address = v;
}

void ReadGateway(TableReader& t, PortDraft& p) {
  const Value* v = t.Get("gateway");
  if (v == nullptr) return;
  p.gateway_given = true;
  if (!v->is_string()) return t.Bad(*v, "gateway", kAddrText);
  const std::string& text = v->as_string().str;
  const auto gw = ParseV4(text);
  if (!gw) {
    std::string expected(kAddrText);
    if (IsV6(text)) expected += kNoV6;
    return t.Bad(*v, "gateway", expected);
  }
  if (p.address != nullptr) {  // else the address already has its message
    const uint8_t len = p.config.address.length;
    const std::string subnet = SubnetText(p.host, len);
    if ((*gw & Mask(len)) != (p.host & Mask(len)))
      return t.Bad(*v, "gateway", "an IPv4 address inside the port's subnet " + subnet);
    if (*gw == p.host)
      return t.Bad(*v, "gateway", "an address other than the port's own " + V4Text(p.host));
    if (IsNetworkOrBroadcast(*gw, len))
      return t.Bad(*v, "gateway",
                   "a host address in " + subnet + ", not its network or broadcast address");
  }
  p.config.gateway = dp::IpAddr::V4(*gw);
}

void ReadDevice(TableReader& t, PortDraft& p) {
  const Value* v = t.Get("device");
  if (v == nullptr) return t.Missing("device", kDeviceText);
  if (!v->is_string()) return t.Bad(*v, "device", kDeviceText);
  const std::string& text = v->as_string().str;
  const std::string_view head = DeviceHead(text);
  const bool spaces = std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
  });
  if (head.empty() || spaces) return t.Bad(*v, "device", kDeviceText);
  if (LooksLikePci(head)) {
    const auto pci = CanonicalPci(head);
    if (!pci) return t.Bad(*v, "device", kPciText);
    p.device_id = *pci;
  } else {
    p.device_id = std::string(head);
  }
  p.config.device = text;
  p.device = v;
}

PortDraft ReadPort(TableReader& t, Problems& problems, std::string path) {
  PortDraft p;
  p.path = std::move(path);
  p.table = &t.table();
  if (const Value* v = t.Get("name"); v == nullptr) {
    t.Missing("name", NameText("front"));
  } else if (!v->is_string() || !IsPortName(v->as_string().str)) {
    t.Bad(*v, "name", NameText("front"));
  } else {
    p.config.name = v->as_string().str;
    p.name = v;
  }
  ReadRoles(t, problems, p);
  ReadDevice(t, p);
  ReadAddress(t, p);
  ReadGateway(t, p);
  t.Int("mtu", {576, 9000}, p.config.mtu_bytes);
  t.Int("vlan", {0, 4094}, p.config.vlan_id);
  t.Finish();
  return p;
}

// Rules between ports. Each clash is reported on the later port.
void CrossCheckPorts(const std::vector<PortDraft>& ports, Problems& problems) {
  for (size_t j = 0; j < ports.size(); ++j) {
    const PortDraft& b = ports[j];
    for (size_t i = 0; i < j; ++i) {
      const PortDraft& a = ports[i];
      if (a.name != nullptr && b.name != nullptr && a.config.name == b.config.name) {
        problems.Add(b.name->location().line(), b.path + ".name", Show(*b.name),
                     "a name no other port uses (" + a.path + " has it)");
      }
      if (a.device != nullptr && b.device != nullptr && a.device_id == b.device_id) {
        problems.Add(b.device->location().line(), b.path + ".device", Show(*b.device),
                     "a device no other port uses (" + a.path + " is " + a.device_id + ")");
      }
      if (a.address != nullptr && b.address != nullptr) {
        // Two prefixes overlap when the shorter one contains the other's address.
        const uint8_t len = std::min(a.config.address.length, b.config.address.length);
        if ((a.host & Mask(len)) == (b.host & Mask(len))) {
          problems.Add(b.address->location().line(), b.path + ".address", Show(*b.address),
                       "a subnet that does not overlap " + a.path + "'s " +
                           SubnetText(a.host, a.config.address.length));
        }
      }
    }
  }
  // For now each role lives on at most one port (docs/CONFIG.md), and there must be a
  // front port. Skipped when some port's roles are already wrong.
  const auto roles_bad = [](const PortDraft& p) { return p.roles == nullptr; };
  if (ports.empty() || std::any_of(ports.begin(), ports.end(), roles_bad)) return;
  for (const RoleName& r : kRoles) {
    const PortDraft* first = nullptr;
    for (const PortDraft& p : ports) {
      if ((p.config.roles & r.role) == 0) continue;
      if (first == nullptr) {
        first = &p;
        continue;
      }
      problems.Add(p.roles->location().line(), p.path + ".roles", Show(*p.roles),
                   "\"" + std::string(r.name) + "\" on one port only (" + first->path +
                       " has it)");
    }
    if (first == nullptr && r.role == dp::kRoleFront) {
      problems.Add(ports.front().table->location().line(), "port", "no port with role \"front\"",
                   "one port with role \"front\"");
    }
  }
}

std::vector<PortDraft> ReadPorts(TableReader& top, Problems& problems) {
  constexpr std::string_view kPortsText = "at least one [[port]] table";
  std::vector<PortDraft> drafts;
  const Value* v = top.Get("port");
  if (v == nullptr) {
    problems.Add(1, "port", "nothing", kPortsText);
    return drafts;
  }
  if (!v->is_array()) {
    top.Bad(*v, "port", "an array of tables written [[port]]");
    return drafts;
  }
  if (v->as_array().empty()) {
    top.Bad(*v, "port", kPortsText);
    return drafts;
  }
  const auto& items = v->as_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = "port[" + std::to_string(i) + "]";
    if (!items[i].is_table()) {
      problems.Add(items[i].location().line(), path, Show(items[i]), "a table");
      continue;
    }
    TableReader t(problems, items[i], path);
    drafts.push_back(ReadPort(t, problems, path));
  }
  CrossCheckPorts(drafts, problems);
  return drafts;
}

// ---------------------------------------------------------------------------------------
// [tcp]

constexpr int64_t kSnatLowest = 1024;   // below are the well-known ports
constexpr uint32_t kSnatFewest = 64;    // the fewest ports a range may hold

// Up to 9 decimal digits without sign, spaces or leading zero ("0" alone is allowed);
// range checks are the caller's, so "70000" can be told apart from "7x".
std::optional<uint32_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 9 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint32_t n = 0;
  std::from_chars(s.data(), s.data() + s.size(), n);
  return n;
}

void ReadSnatPorts(TableReader& t, dp::TcpSettings& c) {
  constexpr std::string_view kForm = "a port range like \"10000-59999\"";
  const Value* v = t.Get("snat_ports");
  if (v == nullptr) return;
  if (!v->is_string()) return t.Bad(*v, "snat_ports", kForm);
  const std::string_view text = v->as_string().str;
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) return t.Bad(*v, "snat_ports", kForm);
  const auto lo = ParseDecimal(text.substr(0, dash));
  const auto hi = ParseDecimal(text.substr(dash + 1));
  if (!lo || !hi) return t.Bad(*v, "snat_ports", kForm);
  if (*lo < kSnatLowest || *lo > *hi || *hi > 65535) {
    return t.Bad(*v, "snat_ports",
                 "a port range MIN-MAX with " + std::to_string(kSnatLowest) +
                     " <= MIN <= MAX <= 65535");
  }
  if (*hi - *lo + 1 < kSnatFewest) {
    return t.Bad(*v, "snat_ports",
                 "a port range of at least " + std::to_string(kSnatFewest) + " ports");
  }
  c.snat_port_min = static_cast<uint16_t>(*lo);
  c.snat_port_max = static_cast<uint16_t>(*hi);
}

void ReadTcp(TableReader& t, dp::TcpSettings& c) {
  t.Int("max_sessions", {1, 4'194'304}, c.max_sessions);
  if (uint32_t kib = 0; t.Int("buffer_kib", {4, 16'384, true}, kib)) c.buffer_bytes = kib * 1024;
  t.Int("syn_backlog", {1, 1'048'576}, c.syn_backlog);
  t.Int("connect_timeout_ms", {100, 600'000}, c.connect_timeout_ms);
  t.Int("connect_attempts", {1, 10}, c.connect_attempts);
  if (uint32_t s = 0; t.Int("idle_timeout_s", {1, 86'400}, s)) c.idle_timeout_ms = s * 1000;
  ReadSnatPorts(t, c);
  t.Finish();
}

// ---------------------------------------------------------------------------------------
// Addresses with a port: listener VIPs and backends.

constexpr std::string_view kVipExample = "198.18.100.10:80";
constexpr std::string_view kBackendExample = "198.18.3.101:80";

std::string EndpointText(std::string_view example) {
  return "an IPv4 address and port like " + std::string(example);
}

// "2001:db8::1", "2001:db8::1:443" (which reads as one address) or "[2001:db8::1]:443".
bool IsV6Endpoint(std::string_view s) {
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    return close != std::string_view::npos && IsV6(s.substr(1, close - 1));
  }
  const size_t colon = s.rfind(':');
  return IsV6(s) || (colon != std::string_view::npos && IsV6(s.substr(0, colon)));
}

// Not "this network" (0/8), loopback (127/8), multicast or reserved (224/3, which holds
// 255.255.255.255).
bool IsUnicastV4(uint32_t host) noexcept {
  const uint32_t first = host >> 24;
  return first != 0 && first != 127 && first < 224;
}

struct Endpoint {
  uint32_t host = 0;
  uint16_t port = 0;
};

constexpr uint64_t EndpointKey(uint32_t host, uint16_t port) noexcept {
  return uint64_t{host} << 16 | port;
}

// "A.B.C.D:PORT", PORT 1..65535. `v` is reported under `key` when it is not one.
std::optional<Endpoint> ReadEndpoint(Problems& problems, const Value& v, const std::string& key,
                                     std::string_view example) {
  std::string expected = EndpointText(example);
  const auto bad = [&] { problems.Add(v.location().line(), key, Show(v), expected); };
  if (!v.is_string()) {
    bad();
    return std::nullopt;
  }
  const std::string_view text = v.as_string().str;
  const size_t colon = text.rfind(':');
  const auto host = colon == std::string_view::npos ? std::nullopt : ParseV4(text.substr(0, colon));
  const auto port =
      colon == std::string_view::npos ? std::nullopt : ParseDecimal(text.substr(colon + 1));
  if (!host || !port) {
    if (IsV6Endpoint(text)) expected += kNoV6;
    bad();
    return std::nullopt;
  }
  if (*port < 1 || *port > 65535) {
    expected += ", with a port from 1 to 65535";
    bad();
    return std::nullopt;
  }
  if (!IsUnicastV4(*host)) {
    expected = "a unicast IPv4 address (not in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3) and "
               "port like " + std::string(example);
    bad();
    return std::nullopt;
  }
  return Endpoint{*host, static_cast<uint16_t>(*port)};
}

// A string that must be one of `choices`; nullptr when it is absent or wrong (reported).
template <typename E>
struct Choice {
  std::string_view name;
  E value;
};

template <typename E, size_t N>
const Choice<E>* ReadChoice(TableReader& t, std::string_view key,
                            const std::array<Choice<E>, N>& choices) {
  const Value* v = t.Get(key);
  if (v == nullptr) return nullptr;
  std::vector<std::string_view> names;
  for (const Choice<E>& c : choices) {
    if (v->is_string() && v->as_string().str == c.name) return &c;
    names.push_back(c.name);
  }
  std::string expected = "one of " + JoinNames(names, "\"");
  if (v->is_string())
    if (const auto near = Suggest(v->as_string().str, names))
      expected.append(" (did you mean \"").append(*near).append("\"?)");
  t.Bad(*v, key, expected);
  return nullptr;
}

// A required name under the port naming rule; nullptr when absent or wrong (reported).
const Value* ReadName(TableReader& t, std::string_view example, std::string& out) {
  const Value* v = t.Get("name");
  if (v == nullptr) {
    t.Missing("name", NameText(example));
    return nullptr;
  }
  if (!v->is_string() || !IsPortName(v->as_string().str)) {
    t.Bad(*v, "name", NameText(example));
    return nullptr;
  }
  out = v->as_string().str;
  return v;
}

// ---------------------------------------------------------------------------------------
// [[pool]]

constexpr std::array<Choice<dp::BalanceAlgorithm>, 3> kAlgorithms = {{
    {"round_robin", dp::BalanceAlgorithm::kRoundRobin},
    {"least_connections", dp::BalanceAlgorithm::kLeastConnections},
    {"maglev", dp::BalanceAlgorithm::kMaglev},
}};

constexpr size_t kMaxPools = size_t{UINT16_MAX} + 1;  // ListenerConfig::pool is a uint16_t
constexpr size_t kMaxListedPools = 8;  // a message lists the pool names up to this many

struct BackendDraft {
  dp::BackendConfig config;
  std::string path;                // "pool[0].backends[1]"
  std::string key;                 // where the address is: path, or path + ".address"
  const Value* address = nullptr;  // set when valid
  uint32_t host = 0;
};

struct PoolDraft {
  dp::PoolConfig config;
  std::string path;  // "pool[0]"
  const Value* table = nullptr;
  const Value* name = nullptr;
  // Whatever string was given as the name, valid or not: a listener that names a pool
  // whose name already has a message gets no second one.
  std::optional<std::string> name_text;
  std::vector<BackendDraft> backends;
};

BackendDraft ReadBackend(Problems& problems, const Value& item, std::string path) {
  BackendDraft b;
  b.path = std::move(path);
  if (item.is_table()) {
    TableReader t(problems, item, b.path);
    b.key = t.Path("address");
    if (const Value* a = t.Get("address"); a == nullptr) {
      t.Missing("address", EndpointText(kBackendExample));
    } else if (const auto e = ReadEndpoint(problems, *a, b.key, kBackendExample)) {
      b.address = a;
      b.host = e->host;
      b.config.port = e->port;
    }
    t.Int("weight", {0, 1000}, b.config.weight);
    t.Finish();
  } else if (item.is_string()) {
    b.key = b.path;
    if (const auto e = ReadEndpoint(problems, item, b.key, kBackendExample)) {
      b.address = &item;
      b.host = e->host;
      b.config.port = e->port;
    }
  } else {
    problems.Add(item.location().line(), b.path, Show(item),
                 EndpointText(kBackendExample) + ", or a table like { address = \"" +
                     std::string(kBackendExample) + "\", weight = 2 }");
  }
  if (b.address != nullptr) b.config.address = dp::IpAddr::V4(b.host);
  return b;
}

// [pool.health]: every key optional; the table's presence turns the checks on.
void ReadHealth(Problems& problems, const Value& table, std::string path, dp::HealthConfig& h) {
  TableReader t(problems, table, std::move(path));
  h.enabled = true;
  t.Int("interval_ms", {100, 3'600'000}, h.interval_ms);
  if (t.Get("timeout_ms") != nullptr) {
    // The interval only bounds the timeout when the interval itself is valid.
    const uint32_t hi = std::min<uint32_t>(h.interval_ms, 60'000);
    t.Int("timeout_ms", {10, hi, false, "", hi == h.interval_ms ? t.Path("interval_ms") : ""}, h.timeout_ms);
  } else if (h.timeout_ms > h.interval_ms) {
    h.timeout_ms = h.interval_ms;  // the default timeout never outlasts a short interval
  }
  t.Int("rise", {1, 100}, h.rise);
  t.Int("fall", {1, 100}, h.fall);
  if (const Value* v = t.Get("http_path"); v != nullptr) {
    constexpr std::string_view kPathText =
        "an absolute path like \"/healthz\" (1 to 256 printable ASCII characters, no spaces)";
    const bool ok = v->is_string() && [&] {
      const std::string& sv = v->as_string().str;
      if (sv.empty() || sv.size() > 256 || sv[0] != '/') return false;
      return std::all_of(sv.begin(), sv.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    }();
    if (ok) {
      h.http_path = v->as_string().str;
    } else {
      t.Bad(*v, "http_path", kPathText);
    }
  }
  t.Finish();
}

PoolDraft ReadPool(TableReader& t, Problems& problems, std::string path) {
  PoolDraft p;
  p.path = std::move(path);
  p.table = &t.table();
  p.name = ReadName(t, "web", p.config.name);
  if (const Value* v = t.Get("name"); v != nullptr && v->is_string())
    p.name_text = v->as_string().str;
  if (const auto* c = ReadChoice(t, "algorithm", kAlgorithms)) p.config.algorithm = c->value;
  const std::string backends_text =
      "a non-empty array of backends like [\"" + std::string(kBackendExample) + "\"]";
  if (const Value* v = t.Get("backends"); v == nullptr) {
    t.Missing("backends", backends_text);
  } else if (!v->is_array() || v->as_array().empty()) {
    t.Bad(*v, "backends", backends_text);
  } else {
    const auto& items = v->as_array();
    for (size_t i = 0; i < items.size(); ++i)
      p.backends.push_back(
          ReadBackend(problems, items[i], t.Path("backends") + "[" + std::to_string(i) + "]"));
  }
  if (const Value* h = t.Get("health"); h != nullptr) {
    if (!h->is_table()) {
      t.Bad(*h, "health", "a [pool.health] table");
    } else {
      ReadHealth(problems, *h, t.Path("health"), p.config.health);
    }
  }
  t.Finish();
  return p;
}

// ---------------------------------------------------------------------------------------
// [[listener]]

constexpr std::array<Choice<dp::ListenerMode>, 2> kModes = {{
    {"tcp", dp::ListenerMode::kTcp},
    {"tls", dp::ListenerMode::kTls},
}};

struct RouteDraft {
  std::string path;             // "listener[0].tls.routes[1]"
  const Value* pool = nullptr;  // set when a string; resolved once every pool is read
};

struct ListenerDraft {
  dp::ListenerConfig config;
  std::string path;  // "listener[0]"
  const Value* table = nullptr;
  const Value* name = nullptr;
  const Value* vip = nullptr;  // set when valid
  uint32_t host = 0;
  const Value* pool = nullptr;  // set when a string; resolved once every pool is read
  const Value* tls = nullptr;   // the [listener.tls] table, when given
  std::vector<RouteDraft> routes;
};

constexpr std::string_view kCertExample =
    "a table like { cert = \"certs/site.pem\", key = \"certs/site.key\" }";
constexpr uint32_t kMinTlsBufferBytes = 32 * 1024;  // a whole TLS record must fit a ring

// A relative certificate path is taken from the config file's folder.
std::string NextToConfig(const std::string& origin, const std::string& file) {
  if (file.empty() || file.front() == '/') return file;
  const size_t slash = origin.rfind('/');
  return slash == std::string::npos ? file : origin.substr(0, slash + 1) + file;
}

// A non-empty string; false (reported) otherwise.
bool ReadPathString(TableReader& t, std::string_view key, std::string_view expected, std::string& out) {
  const Value* v = t.Get(key);
  if (v == nullptr) {
    t.Missing(key, expected);
    return false;
  }
  if (!v->is_string() || v->as_string().str.empty()) {
    t.Bad(*v, key, expected);
    return false;
  }
  out = v->as_string().str;
  return true;
}

// An array of strings, each accepted by `ok`.
template <typename Ok>
bool ReadStringList(TableReader& t, std::string_view key, std::string_view expected, Ok ok,
                    std::vector<std::string>& out) {
  const Value* v = t.Get(key);
  if (v == nullptr) return false;
  if (!v->is_array()) {
    t.Bad(*v, key, expected);
    return false;
  }
  std::vector<std::string> items;
  for (const Value& item : v->as_array()) {
    if (!item.is_string() || !ok(item.as_string().str)) {
      t.Bad(*v, key, expected);
      return false;
    }
    items.push_back(item.as_string().str);
  }
  out = std::move(items);
  return true;
}

bool AlpnNameOk(const std::string& s) { return !s.empty() && s.size() <= 255; }

// A DNS name as SNI carries it (RFC 6066 3): letters, digits, '-', '.', at most 253.
bool HostNameOk(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

void ReadTls(TableReader& t, Problems& problems, const std::string& origin, ListenerDraft& l) {
  dp::TlsListenerConfig& c = l.config.tls;
  if (const Value* v = t.Get("certificates"); v == nullptr) {
    t.Missing("certificates", "a non-empty array of " + std::string(kCertExample));
  } else if (!v->is_array() || v->as_array().empty()) {
    t.Bad(*v, "certificates", "a non-empty array of " + std::string(kCertExample));
  } else {
    const auto& items = v->as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string path = t.Path("certificates") + "[" + std::to_string(i) + "]";
      if (!items[i].is_table()) {
        problems.Add(items[i].location().line(), path, Show(items[i]), std::string(kCertExample));
        continue;
      }
      TableReader ct(problems, items[i], path);
      dp::TlsCertificateConfig cert;
      cert.line = ct.line();
      // Both keys are read (and reported) even when the first is bad.
      const bool cert_ok = ReadPathString(ct, "cert", "the path of a PEM certificate chain", cert.cert_file);
      const bool key_ok = ReadPathString(ct, "key", "the path of a PEM private key", cert.key_file);
      const bool ok = cert_ok && key_ok;
      ct.Finish();
      if (!ok) continue;
      cert.cert_file = NextToConfig(origin, cert.cert_file);
      cert.key_file = NextToConfig(origin, cert.key_file);
      c.certificates.push_back(std::move(cert));
    }
  }
  ReadStringList(t, "alpn", "an array of protocol names like [\"h2\", \"http/1.1\"] (1 to 255 bytes each)",
                 AlpnNameOk, c.alpn);
  std::vector<std::string> versions;
  if (ReadStringList(t, "versions", "a non-empty array of \"1.3\" and \"1.2\"",
                     [](const std::string& s) { return s == "1.3" || s == "1.2"; }, versions)) {
    if (versions.empty()) {
      t.Bad(*t.Get("versions"), "versions", "a non-empty array of \"1.3\" and \"1.2\"");
    } else {
      c.tls13 = std::find(versions.begin(), versions.end(), "1.3") != versions.end();
      c.tls12 = std::find(versions.begin(), versions.end(), "1.2") != versions.end();
    }
  }
  t.Int("handshake_timeout_ms", {100, 300'000}, c.handshake_timeout_ms);
  if (t.Get("ticket_key_file") != nullptr &&
      ReadPathString(t, "ticket_key_file", "the path of a ticket key file", c.ticket_key_file)) {
    c.ticket_key_file = NextToConfig(origin, c.ticket_key_file);
    c.ticket_key_line = t.Get("ticket_key_file")->location().line();
  }
  t.Int("tickets", {0, 8}, c.tickets_per_handshake);
  if (const Value* v = t.Get("routes"); v != nullptr) {
    constexpr std::string_view kRouteText =
        "an array of tables like { sni = \"api.example.com\", alpn = \"h2\", pool = \"api\" }";
    if (!v->is_array()) {
      t.Bad(*v, "routes", kRouteText);
    } else {
      const auto& items = v->as_array();
      for (size_t i = 0; i < items.size(); ++i) {
        RouteDraft r;
        r.path = t.Path("routes") + "[" + std::to_string(i) + "]";
        if (!items[i].is_table()) {
          problems.Add(items[i].location().line(), r.path, Show(items[i]), std::string(kRouteText));
          continue;
        }
        TableReader rt(problems, items[i], r.path);
        dp::TlsRouteConfig route;
        bool any = false;
        if (const Value* sni = rt.Get("sni"); sni != nullptr) {
          if (!sni->is_string() || !HostNameOk(sni->as_string().str))
            rt.Bad(*sni, "sni", "a lower-case DNS host name like \"api.example.com\"");
          else
            route.sni = sni->as_string().str, any = true;
        }
        if (const Value* alpn = rt.Get("alpn"); alpn != nullptr) {
          if (!alpn->is_string() || !AlpnNameOk(alpn->as_string().str))
            rt.Bad(*alpn, "alpn", "a protocol name like \"h2\" (1 to 255 bytes)");
          else
            route.alpn = alpn->as_string().str, any = true;
        }
        if (const Value* pool = rt.Get("pool"); pool == nullptr) {
          rt.Missing("pool", "the name of a [[pool]]");
        } else if (!pool->is_string()) {
          rt.Bad(*pool, "pool", "the name of a [[pool]]");
        } else {
          r.pool = pool;
        }
        if (!any && (rt.Get("sni") == nullptr && rt.Get("alpn") == nullptr))
          rt.Missing("sni", "an \"sni\" or an \"alpn\" to match (a route without either is the listener's pool)");
        rt.Finish();
        c.routes.push_back(route);
        l.routes.push_back(r);
      }
    }
  }
  t.Finish();
}

ListenerDraft ReadListener(TableReader& t, Problems& problems, const std::string& origin,
                           std::string path) {
  ListenerDraft l;
  l.path = std::move(path);
  l.table = &t.table();
  l.name = ReadName(t, "http", l.config.name);
  if (const Value* v = t.Get("vip"); v == nullptr) {
    t.Missing("vip", EndpointText(kVipExample));
  } else if (const auto e = ReadEndpoint(problems, *v, t.Path("vip"), kVipExample)) {
    l.vip = v;
    l.host = e->host;
    l.config.vip = dp::IpAddr::V4(e->host);
    l.config.port = e->port;
  }
  if (const auto* c = ReadChoice(t, "mode", kModes)) l.config.mode = c->value;
  if (const Value* v = t.Get("pool"); v == nullptr) {
    t.Missing("pool", "the name of a [[pool]]");
  } else if (!v->is_string()) {
    t.Bad(*v, "pool", "the name of a [[pool]]");
  } else {
    l.pool = v;
  }
  t.Bool("proxy_protocol", l.config.proxy_protocol);
  const Value* tls = t.Get("tls");
  if (l.config.mode == dp::ListenerMode::kTls) {
    if (tls == nullptr) {
      t.Missing("tls", "a [listener.tls] table with the certificates");
    } else if (!tls->is_table()) {
      t.Bad(*tls, "tls", "a [listener.tls] table with the certificates");
    } else {
      l.tls = tls;
      TableReader tt(problems, *tls, t.Path("tls"));
      ReadTls(tt, problems, origin, l);
    }
  } else if (tls != nullptr) {
    t.Bad(*tls, "tls", "no [listener.tls] table (it needs mode = \"tls\")");
  }
  t.Finish();
  return l;
}

// ---------------------------------------------------------------------------------------
// [[pool]] and [[listener]] arrays, and the rules between them and the ports.

// The tables of an optional [[name]] array, each read by read(reader, path).
template <typename Draft, typename Read>
std::vector<Draft> ReadTableArray(TableReader& top, Problems& problems, std::string_view name,
                                  Read read) {
  std::vector<Draft> drafts;
  const Value* v = top.Get(name);
  if (v == nullptr) return drafts;
  if (!v->is_array()) {
    top.Bad(*v, name, "an array of tables written [[" + std::string(name) + "]]");
    return drafts;
  }
  const auto& items = v->as_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = std::string(name) + "[" + std::to_string(i) + "]";
    if (!items[i].is_table()) {
      problems.Add(items[i].location().line(), path, Show(items[i]), "a table");
      continue;
    }
    TableReader t(problems, items[i], path);
    drafts.push_back(read(t, path));
  }
  return drafts;
}

// What is wrong with `host` (a VIP or a backend, named by `noun`) next to port `p`, or "".
std::string ClashWithPort(uint32_t host, const PortDraft& p, std::string_view noun) {
  if (p.address == nullptr) return {};
  const uint8_t len = p.config.address.length;
  if (host == p.host)
    return std::string(noun) + " other than " + p.path + "'s own address " + V4Text(p.host);
  if ((host & Mask(len)) == (p.host & Mask(len)) && IsNetworkOrBroadcast(host, len)) {
    return std::string(noun) + " other than the network or broadcast address of " + p.path +
           "'s subnet " + SubnetText(p.host, len);
  }
  return {};
}

void CrossCheckPools(const std::vector<PoolDraft>& pools, Problems& problems) {
  std::map<std::string_view, const PoolDraft*> names;
  for (const PoolDraft& b : pools) {
    if (b.name == nullptr) continue;
    const auto [it, fresh] = names.emplace(b.config.name, &b);
    if (!fresh) {
      problems.Add(b.name->location().line(), b.path + ".name", Show(*b.name),
                   "a name no other pool uses (" + it->second->path + " has it)");
    }
  }
}

void CrossCheckListeners(const std::vector<PortDraft>& ports,
                         const std::vector<PoolDraft>& pools,
                         std::vector<ListenerDraft>& listeners, Problems& problems) {
  // Every string given as a pool name, valid or not, to its first pool.
  std::map<std::string_view, size_t> pool_index;
  std::vector<std::string_view> valid_pool_names;
  for (size_t i = 0; i < pools.size(); ++i) {
    if (pools[i].name_text) pool_index.emplace(*pools[i].name_text, i);
    if (pools[i].name != nullptr) valid_pool_names.push_back(pools[i].config.name);
  }
  std::map<std::string_view, const ListenerDraft*> names;
  std::map<uint64_t, const ListenerDraft*> vips;
  for (ListenerDraft& b : listeners) {
    if (b.name != nullptr) {
      const auto [it, fresh] = names.emplace(b.config.name, &b);
      if (!fresh) {
        problems.Add(b.name->location().line(), b.path + ".name", Show(*b.name),
                     "a name no other listener uses (" + it->second->path + " has it)");
      }
    }
    if (b.vip != nullptr) {
      const auto [it, fresh] = vips.emplace(EndpointKey(b.host, b.config.port), &b);
      if (!fresh) {
        problems.Add(b.vip->location().line(), b.path + ".vip", Show(*b.vip),
                     "an address and port no other listener uses (" + it->second->path +
                         " has it)");
      }
      for (const PortDraft& p : ports) {
        if (const std::string clash = ClashWithPort(b.host, p, "a VIP"); !clash.empty()) {
          problems.Add(b.vip->location().line(), b.path + ".vip", Show(*b.vip), clash);
          break;
        }
      }
    }
    const auto resolve = [&](const Value* pool, const std::string& key, uint16_t& out) {
      if (pool == nullptr) return;
      const std::string& wanted = pool->as_string().str;
      if (const auto it = pool_index.find(wanted); it != pool_index.end()) {
        // A pool whose name is wrong already has its message; the index then goes unused.
        out = static_cast<uint16_t>(it->second);
        return;
      }
      std::string expected = "the name of a [[pool]]";
      if (const auto near = Suggest(wanted, valid_pool_names))
        expected.append(" (did you mean \"").append(*near).append("\"?)");
      else if (valid_pool_names.empty())
        expected += " (there is none)";
      else if (valid_pool_names.size() <= kMaxListedPools)
        expected.append(" (one of ").append(JoinNames(valid_pool_names, "\"")).append(")");
      problems.Add(pool->location().line(), key, Show(*pool), expected);
    };
    resolve(b.pool, b.path + ".pool", b.config.pool);
    for (size_t i = 0; i < b.routes.size(); ++i)
      resolve(b.routes[i].pool, b.routes[i].path + ".pool", b.config.tls.routes[i].pool);
  }
}

// Backends: no address and port twice in a pool. They are reached over the back port, so
// they must not be a port's address or a VIP, and without a gateway on the back port they
// must sit on its subnet.
void CrossCheckBackends(const std::vector<PortDraft>& ports, const std::vector<PoolDraft>& pools,
                        const std::vector<ListenerDraft>& listeners, Problems& problems) {
  const auto roles_bad = [](const PortDraft& p) { return p.roles == nullptr; };
  const bool roles_ok =
      !ports.empty() && std::none_of(ports.begin(), ports.end(), roles_bad);
  const PortDraft* back = nullptr;
  for (const PortDraft& p : ports)
    if (back == nullptr && (p.config.roles & dp::kRoleBack) != 0) back = &p;
  if (roles_ok && back == nullptr && !listeners.empty()) {
    problems.Add(listeners.front().table->location().line(), "listener",
                 "listeners and no port with role \"back\"",
                 "a port with role \"back\" (backends are reached over it)");
  }
  std::map<uint32_t, const ListenerDraft*> vip_hosts;  // the first listener on each VIP
  for (const ListenerDraft& l : listeners)
    if (l.vip != nullptr) vip_hosts.emplace(l.host, &l);
  const bool check_route =
      roles_ok && back != nullptr && back->address != nullptr && !back->gateway_given;
  for (const PoolDraft& pool : pools) {
    // Maps, not pairwise loops, so a file with huge lists still loads in O(n log n).
    std::map<uint64_t, const BackendDraft*> seen;
    for (const BackendDraft& b : pool.backends) {
      if (b.address == nullptr) continue;
      // The same address and port twice in one pool: reported on the later entry only
      // (the first one gets any other message).
      if (const auto [it, fresh] = seen.emplace(EndpointKey(b.host, b.config.port), &b); !fresh) {
        problems.Add(b.address->location().line(), b.key, Show(*b.address),
                     "an address and port no other backend of this pool uses (" +
                         it->second->path + " has it)");
        continue;
      }
      std::string clash;
      for (const PortDraft& p : ports)
        if (clash.empty()) clash = ClashWithPort(b.host, p, "a backend address");
      if (const auto it = vip_hosts.find(b.host); clash.empty() && it != vip_hosts.end())
        clash = "a backend address other than " + it->second->path + "'s VIP " + V4Text(b.host);
      if (clash.empty() && check_route) {
        const uint8_t len = back->config.address.length;
        if ((b.host & Mask(len)) != (back->host & Mask(len))) {
          clash = "a backend address inside " + back->path + "'s subnet " +
                  SubnetText(back->host, len) + " (" + back->path +
                  " has role \"back\" and no gateway)";
        }
      }
      if (!clash.empty())
        problems.Add(b.address->location().line(), b.key, Show(*b.address), clash);
    }
  }
}

// toml11's what() is several lines of ASCII art; keep the reason from the first one,
// "[error] toml::parse_key_value_pair: missing key-value separator `=`", or, when that
// line names only the function, the note under the caret: " |   ^--- the next token ...".
std::string ShortReason(std::string_view what) {
  std::string_view first = what.substr(0, what.find('\n'));
  constexpr std::string_view kTag = "[error] ";
  if (first.substr(0, kTag.size()) == kTag) first.remove_prefix(kTag.size());
  if (first.substr(0, 6) == "toml::") {
    const size_t colon = first.find(": ");
    first.remove_prefix(colon == std::string_view::npos ? first.size() : colon + 2);
  }
  if (first.empty()) {
    constexpr std::string_view kCaret = "^--- ";
    if (const size_t at = what.find(kCaret); at != std::string_view::npos) {
      first = what.substr(at + kCaret.size());
      first = first.substr(0, first.find('\n'));
    }
  }
  while (!first.empty() && (first.back() == '.' || first.back() == ' ')) first.remove_suffix(1);
  return first.empty() ? std::string("not valid TOML") : std::string(first);
}

}  // namespace

// TOML files are UTF-8 (TOML 1.0). Checked before toml11 sees the text: Debian's
// toml11 3.7.1 reads past its buffer on invalid UTF-8 inside literal strings
// (toml11 issue #199, fixed upstream after 3.7.1; our fuzzer found it).
// Returns the 1-based line of the first bad byte, or 0 when the text is valid.
uint32_t FirstInvalidUtf8Line(std::string_view text) noexcept {
  uint32_t line = 1;
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if (b == '\n') ++line;
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if ((b & 0xe0) == 0xc0) {
      len = 2, cp = b & 0x1f, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
      len = 3, cp = b & 0x0f, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
      len = 4, cp = b & 0x07, min = 0x10000;
    } else {
      return line;
    }
    if (i + len > text.size()) return line;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) return line;
      cp = cp << 6 | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return line;
    i += len;
  }
  return 0;
}

dp::ConfigSnapshot ParseConfig(const std::string& text, const std::string& origin) {
  if (const uint32_t bad = FirstInvalidUtf8Line(text); bad != 0)
    throw ConfigError(origin + ":" + std::to_string(bad) + ": syntax error: invalid UTF-8");
  Value root;
  try {
    std::istringstream in(text);
    root = toml::parse<toml::discard_comments, std::map, std::vector>(in, origin);
  } catch (const toml::exception& e) {
    throw ConfigError(origin + ":" + std::to_string(e.location().line()) +
                      ": syntax error: " + ShortReason(e.what()));
  } catch (const std::exception& e) {  // e.g. std::out_of_range from a number parser
    throw ConfigError(origin + ":1: syntax error: " + ShortReason(e.what()));
  }

  Problems problems;
  dp::ConfigSnapshot snap;
  snap.source = origin;
  TableReader top(problems, root, "");
  for (const std::string_view name : {"dataplane", "arp", "tcp"}) {
    const Value* v = top.Get(name);
    if (v == nullptr) continue;
    if (!v->is_table()) {
      top.Bad(*v, name, "a table");
      continue;
    }
    TableReader t(problems, *v, std::string(name));
    if (name == "dataplane")
      ReadDataplane(t, snap.dataplane);
    else if (name == "arp")
      ReadArp(t, snap.arp);
    else
      ReadTcp(t, snap.tcp);
  }
  std::vector<PortDraft> ports = ReadPorts(top, problems);
  std::vector<PoolDraft> pools = ReadTableArray<PoolDraft>(
      top, problems, "pool",
      [&problems](TableReader& t, const std::string& path) { return ReadPool(t, problems, path); });
  if (pools.size() > kMaxPools) {
    const PoolDraft& extra = pools[kMaxPools];
    problems.Add(extra.table->location().line(), extra.path, "a table",
                 "at most " + std::to_string(kMaxPools) + " [[pool]] tables");
  }
  std::vector<ListenerDraft> listeners = ReadTableArray<ListenerDraft>(
      top, problems, "listener", [&problems, &origin](TableReader& t, const std::string& path) {
        return ReadListener(t, problems, origin, path);
      });
  CrossCheckPools(pools, problems);
  CrossCheckListeners(ports, pools, listeners, problems);
  CrossCheckBackends(ports, pools, listeners, problems);
  for (const ListenerDraft& l : listeners) {
    if (l.config.mode != dp::ListenerMode::kTls || snap.tcp.buffer_bytes >= kMinTlsBufferBytes) continue;
    problems.Add(l.table->location().line(), l.path + ".mode", "\"tls\"",
                 "\"tcp\", or [tcp] buffer_kib of at least 32 (a whole TLS record must fit a session buffer)");
  }
  top.Finish("table");
  if (!problems.empty()) problems.Throw(origin);

  for (PortDraft& p : ports) snap.ports.push_back(std::move(p.config));
  for (PoolDraft& p : pools) {
    for (BackendDraft& b : p.backends) p.config.backends.push_back(b.config);
    snap.pools.push_back(std::move(p.config));
  }
  for (ListenerDraft& l : listeners) snap.listeners.push_back(std::move(l.config));
  return snap;
}

dp::ConfigSnapshot LoadConfig(const std::string& path) {
  const auto fail = [&path](int err) {
    throw ConfigError(path + ": cannot read: " + std::generic_category().message(err));
  };
  errno = 0;
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"),
                                                           &std::fclose);
  if (!f) fail(errno);
  std::string text;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) text.append(buf, n);
  if (std::ferror(f.get())) fail(errno != 0 ? errno : EIO);  // EISDIR for a directory
  return ParseConfig(text, path);
}

}  // namespace baton::cp
