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
  uint32_t line() const { return table_.location().line(); }

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
constexpr std::string_view kNameText =
    "a name like \"front\" (a-z, then up to 15 of a-z 0-9 _ -)";
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
  uint32_t line = 0;
  const Value* name = nullptr;
  const Value* roles = nullptr;
  const Value* device = nullptr;
  const Value* address = nullptr;
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
  p.line = t.line();
  if (const Value* v = t.Get("name"); v == nullptr) {
    t.Missing("name", kNameText);
  } else if (!v->is_string() || !IsPortName(v->as_string().str)) {
    t.Bad(*v, "name", kNameText);
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
      problems.Add(ports.front().line, "port", "no port with role \"front\"",
                   "one port with role \"front\"");
    }
  }
}

void ReadPorts(TableReader& top, Problems& problems, dp::ConfigSnapshot& snap) {
  constexpr std::string_view kPortsText = "at least one [[port]] table";
  const Value* v = top.Get("port");
  if (v == nullptr) return problems.Add(1, "port", "nothing", kPortsText);
  if (!v->is_array()) return top.Bad(*v, "port", "an array of tables written [[port]]");
  if (v->as_array().empty()) return top.Bad(*v, "port", kPortsText);
  std::vector<PortDraft> drafts;
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
  for (PortDraft& d : drafts) snap.ports.push_back(std::move(d.config));
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

dp::ConfigSnapshot ParseConfig(const std::string& text, const std::string& origin) {
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
  for (const std::string_view name : {"dataplane", "arp"}) {
    const Value* v = top.Get(name);
    if (v == nullptr) continue;
    if (!v->is_table()) {
      top.Bad(*v, name, "a table");
      continue;
    }
    TableReader t(problems, *v, std::string(name));
    if (name == "dataplane")
      ReadDataplane(t, snap.dataplane);
    else
      ReadArp(t, snap.arp);
  }
  ReadPorts(top, problems, snap);
  top.Finish("table");
  if (!problems.empty()) problems.Throw(origin);
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
