#include "dataplane/proxy/tls_listeners.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "crypto/secure_wipe.h"

namespace baton::dp {

uint16_t TlsListener::PoolFor(std::string_view sni, std::string_view alpn, uint16_t fallback) const noexcept {
  const auto same_host = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x >= 'A' && x <= 'Z' ? char(x - 'A' + 'a') : x) == y;
           });
  };
  for (const TlsRouteConfig& r : config.routes) {
    if (!r.sni.empty() && !same_host(sni, r.sni)) continue;
    if (!r.alpn.empty() && alpn != r.alpn) continue;
    return r.pool;
  }
  return fallback;
}

TlsListener::~TlsListener() {
  if (!ticket_keys.empty()) crypto::SecureWipe(ticket_keys.data(), ticket_keys.size() * sizeof(ticket_keys[0]));
  if (!tls12_ticket_keys.empty())
    crypto::SecureWipe(tls12_ticket_keys.data(), tls12_ticket_keys.size() * sizeof(tls12_ticket_keys[0]));
}

namespace {

constexpr size_t kMaxTicketKeys = 16;

int HexDigit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<crypto::tls::TicketKey> ReadTicketKeys(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return {};
  }
  std::vector<crypto::tls::TicketKey> keys;
  std::string line;
  for (uint32_t n = 1; std::getline(in, line); ++n) {
    std::string hex;
    for (char c : line.substr(0, line.find('#')))
      if (c != ' ' && c != '\t' && c != '\r') hex += c;
    if (hex.empty()) continue;
    crypto::tls::TicketKey k;
    const bool ok = hex.size() == 2 * (k.name.size() + k.secret.size()) &&
                    std::all_of(hex.begin(), hex.end(), [](char c) { return HexDigit(c) >= 0; });
    if (!ok || keys.size() == kMaxTicketKeys) {
      error = path + ":" + std::to_string(n) + ": " +
              (ok ? "more than " + std::to_string(kMaxTicketKeys) + " keys"
                  : "expected 96 hex digits (a 16-byte key name, then a 32-byte secret)");
      crypto::SecureWipe(hex.data(), hex.size());
      return {};
    }
    for (size_t i = 0; i < k.name.size() + k.secret.size(); ++i) {
      const uint8_t b = uint8_t(HexDigit(hex[2 * i]) << 4 | HexDigit(hex[2 * i + 1]));
      if (i < k.name.size()) k.name[i] = b; else k.secret[i - k.name.size()] = b;
    }
    crypto::SecureWipe(hex.data(), hex.size());
    keys.push_back(k);
    crypto::SecureWipe(&k, sizeof(k));
  }
  if (keys.empty()) error = path + ": no key in the file";
  return keys;
}

std::unique_ptr<TlsListener> TlsListeners::LoadListener(const ConfigSnapshot& config, size_t i, const Plan& plan,
                                                        std::vector<std::string>& errors) {
  const ListenerConfig& l = config.listeners[i];
  auto t = std::make_unique<TlsListener>();
  t->config = l.tls;
  if (plan.reuse_credentials && plan.previous != nullptr) {
    t->credentials = plan.previous->credentials;
  } else {
    auto creds = std::make_shared<std::vector<crypto::tls::Credential>>();
    for (size_t j = 0; j < l.tls.certificates.size(); ++j) {
      const TlsCertificateConfig& c = l.tls.certificates[j];
      std::string error;
      std::optional<crypto::tls::Credential> cred = crypto::tls::LoadCredential(c.cert_file, c.key_file, error);
      if (!cred) {
        errors.push_back(config.source + ":" + std::to_string(c.line) + ": listener[" + std::to_string(i) +
                         "].tls.certificates[" + std::to_string(j) + "]: " + error);
        continue;
      }
      creds->push_back(std::move(*cred));
    }
    t->credentials = std::move(creds);
  }
  t->server.credentials = *t->credentials;
  const TlsListener* prev = plan.previous;
  if (!l.tls.ticket_key_file.empty()) {
    std::string error;
    t->ticket_keys = ReadTicketKeys(l.tls.ticket_key_file, error);
    if (t->ticket_keys.empty())
      errors.push_back(config.source + ":" + std::to_string(l.tls.ticket_key_line) + ": listener[" +
                       std::to_string(i) + "].tls.ticket_key_file: " + error);
  } else {
    // Random keys belong to this process: its tickets resume on any of its workers. A
    // reload keeps them (tickets already issued stay good); a rotation puts a new one first.
    const bool keep = prev != nullptr && prev->config.ticket_key_file.empty() && !prev->ticket_keys.empty();
    if (!keep || plan.rotate) {
      crypto::tls::TicketKey k;
      if (getrandom(&k, sizeof(k), 0) != sizeof(k)) {
        errors.push_back(config.source + ": listener[" + std::to_string(i) + "].tls: no random bytes for a ticket key");
      } else {
        t->ticket_keys.push_back(k);
      }
      crypto::SecureWipe(&k, sizeof(k));
    }
    if (keep) {
      for (const crypto::tls::TicketKey& k : prev->ticket_keys) {
        if (t->ticket_keys.size() == kMaxRotatedTicketKeys) break;
        t->ticket_keys.push_back(k);
      }
    }
  }
  // TLS 1.2 tickets (RFC 5077) use the same keys; the TLS 1.3 ones seal under a key
  // derived from the secret, so a ticket of one version never opens as the other.
  for (const crypto::tls::TicketKey& k : t->ticket_keys) {
    crypto::tls::Tls12TicketKey k12;
    static_assert(sizeof(k12.name) == sizeof(k.name) && sizeof(k12.key) == sizeof(k.secret));
    std::copy(k.name.begin(), k.name.end(), k12.name.begin());
    std::copy(k.secret.begin(), k.secret.end(), k12.key.begin());
    t->tls12_ticket_keys.push_back(k12);
  }
  t->server.ticket_keys = t->ticket_keys;
  t->server.tickets_per_handshake = l.tls.tickets_per_handshake;
  std::vector<std::string_view> alpn(l.tls.alpn.begin(), l.tls.alpn.end());
  t->server.alpn_wire = crypto::tls::EncodeAlpn(alpn);
  return t;
}

TlsListeners TlsListeners::Load(const ConfigSnapshot& config, std::vector<std::string>& errors) {
  TlsListeners out;
  out.by_listener_.resize(config.listeners.size());
  for (size_t i = 0; i < config.listeners.size(); ++i)
    if (config.listeners[i].mode == ListenerMode::kTls) out.by_listener_[i] = LoadListener(config, i, {}, errors);
  return out;
}

TlsListeners TlsListeners::Reload(const ConfigSnapshot& config, const ConfigSnapshot& previous_config,
                                  const TlsListeners& previous, std::vector<std::string>& errors) {
  TlsListeners out;
  out.by_listener_.resize(config.listeners.size());
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    if (config.listeners[i].mode != ListenerMode::kTls) continue;
    Plan plan;
    for (size_t j = 0; j < previous_config.listeners.size(); ++j)
      if (previous_config.listeners[j].name == config.listeners[i].name) plan.previous = previous.For(j);
    out.by_listener_[i] = LoadListener(config, i, plan, errors);
  }
  return out;
}

TlsListeners TlsListeners::RotateTicketKeys(const ConfigSnapshot& config, const TlsListeners& current,
                                            std::vector<std::string>& errors) {
  TlsListeners out;
  out.by_listener_.resize(config.listeners.size());
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    if (config.listeners[i].mode != ListenerMode::kTls) continue;
    const Plan plan{current.For(i), current.For(i) != nullptr, true};
    out.by_listener_[i] = LoadListener(config, i, plan, errors);
  }
  return out;
}

bool TlsListeners::empty() const noexcept {
  return std::none_of(by_listener_.begin(), by_listener_.end(), [](const auto& p) { return p != nullptr; });
}

}  // namespace baton::dp
