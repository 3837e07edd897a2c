#include "dataplane/api/ip_addr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace baton::dp {

std::optional<IpAddr> IpAddr::Parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short, so bound the copy.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  // inet_pton stops at a NUL; an embedded one would hide trailing garbage.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = IpFamily::kV4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = IpFamily::kV6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  switch (family) {
    case IpFamily::kV4:
      return inet_ntop(AF_INET, bytes.data(), buf, sizeof(buf)) ? buf : "?";
    case IpFamily::kV6:
      return inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf)) ? buf : "?";
    case IpFamily::kNone:
      return "none";
  }
  return "?";
}

std::optional<IpPrefix> IpPrefix::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto addr = IpAddr::Parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  const auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  // Plain decimal: no sign, no leading zero ("/024" is a typo, not 24).
  if (len_text.empty() || (len_text.size() > 1 && len_text[0] == '0')) return std::nullopt;
  if (ec != std::errc() || end != len_text.data() + len_text.size()) return std::nullopt;
  if (len > (addr->IsV4() ? 32u : 128u)) return std::nullopt;
  return IpPrefix{*addr, uint8_t(len)};
}

bool IpPrefix::Contains(const IpAddr& other) const noexcept {
  if (other.family != addr.family) return false;
  unsigned bits = length;
  for (size_t i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const uint8_t mask = uint8_t(0xff00u >> take);
    if ((addr.bytes[i] & mask) != (other.bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::string IpPrefix::ToString() const { return addr.ToString() + "/" + std::to_string(length); }

}  // namespace baton::dp
