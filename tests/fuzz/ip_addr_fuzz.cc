// libFuzzer target: dp::IpAddr::Parse and dp::IpPrefix::Parse (dataplane/api/ip_addr.h).
// Whatever parses must print as text that parses back to the same value, and a
// prefix contains its own address. The first 4 or 16 input bytes are also printed as a
// raw address, which must parse back too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dataplane/api/ip_addr.h"

namespace {

using baton::dp::IpAddr;
using baton::dp::IpFamily;
using baton::dp::IpPrefix;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "ip_addr_fuzz: invariant violated: %s: \"%s\"\n", what, detail.c_str());
  std::abort();
}

void CheckAddr(const IpAddr& a) {
  if (a.family != IpFamily::kV4 && a.family != IpFamily::kV6) Fail("parsed family", a.ToString());
  if (a.IsV4() && !std::all_of(a.bytes.begin() + 4, a.bytes.end(), [](uint8_t b) { return b == 0; }))
    Fail("IPv4 address with bytes past the fourth", a.ToString());
  const std::string text = a.ToString();
  const auto back = IpAddr::Parse(text);
  if (!back) Fail("ToString does not parse", text);
  if (!(*back == a)) Fail("ToString parses to another address", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256) return 0;  // addresses are short; longer text tests nothing new
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto a = IpAddr::Parse(text)) CheckAddr(*a);

  if (const auto p = IpPrefix::Parse(text)) {
    CheckAddr(p->addr);
    if (p->length > (p->addr.IsV4() ? 32 : 128)) Fail("prefix length too long", std::string(text));
    if (!p->Contains(p->addr)) Fail("prefix does not contain its address", p->ToString());
    const std::string s = p->ToString();
    const auto back = IpPrefix::Parse(s);
    if (!back) Fail("prefix ToString does not parse", s);
    if (!(*back == *p)) Fail("prefix ToString parses to another prefix", s);
  }

  // Raw bytes as an address: every value of the family must print and parse back.
  IpAddr raw;
  if (size >= 16) {
    raw.family = IpFamily::kV6;
    std::copy(data, data + 16, raw.bytes.begin());
    CheckAddr(raw);
  } else if (size >= 4) {
    raw.family = IpFamily::kV4;
    std::copy(data, data + 4, raw.bytes.begin());
    CheckAddr(raw);
  }
  return 0;
}
