#include "crypto/tls/client_messages.h"

#include <algorithm>

namespace baton::crypto::tls {
namespace {

constexpr size_t kMaxExtensions = 64;

// RFC 8446 4.2: "There MUST NOT be more than one extension of the same type in a given
// extension block." The RFC names no alert; we use illegal_parameter, as the server does.
class SeenExtensions {
 public:
  Step Add(uint16_t type) noexcept {
    for (size_t i = 0; i < count_; ++i) {
      if (seen_[i] == type) return Alert::kIllegalParameter;
    }
    if (count_ == seen_.size()) return Alert::kDecodeError;
    seen_[count_++] = type;
    return Step::Continue();
  }

 private:
  std::array<uint16_t, kMaxExtensions> seen_{};
  size_t count_ = 0;
};

// Extensions we know that never belong in what the server sends during the handshake
// (ServerHello or EncryptedExtensions), unless named by the caller. RFC 8446 4.2: "If an
// implementation receives an extension which it recognizes and which is not specified for
// the message in which it appears, it MUST abort the handshake with an "illegal_parameter"
// alert." Anything else we did not ask for is unsupported_extension (same section).
bool IsMisplaced(uint16_t type) noexcept {
  switch (type) {
    case static_cast<uint16_t>(ExtType::kSignatureAlgorithms):
    case static_cast<uint16_t>(ExtType::kPskKeyExchangeModes):
    case kExtStatusRequest:
    case kExtSignedCertTimestamp:
    case kExtCertificateAuthorities:
    case kExtOidFilters:
    case kExtPostHandshakeAuth:
    case kExtSignatureAlgorithmsCert:
      return true;
    default:
      return false;
  }
}

Alert UnexpectedExtension(uint16_t type) noexcept {
  return IsMisplaced(type) ? Alert::kIllegalParameter : Alert::kUnsupportedExtension;
}

void PutU16List(Writer& w, std::span<const uint16_t> list) {
  for (const uint16_t v : list) w.U16(v);
}

}  // namespace

bool AlpnListHas(ByteView list, ByteView name) noexcept {
  Reader r(list);
  while (!r.empty()) {
    const ByteView have = r.Vec8();
    if (!r.ok()) return false;
    if (have.size() == name.size() && std::equal(have.begin(), have.end(), name.begin())) {
      return true;
    }
  }
  return false;
}

bool BuildClientHello(const ClientHelloParams& p, std::vector<uint8_t>& out) {
  Writer w(out);
  const size_t m = BeginMessage(w, HsType::kClientHello);
  w.U16(kTls12);  // RFC 8446 4.1.2: legacy_version = 0x0303
  w.Bytes(p.random);
  w.U8(static_cast<uint8_t>(p.session_id.size()));
  w.Bytes(p.session_id);
  size_t v = w.Begin(2);
  PutU16List(w, p.suites);
  bool ok = w.End(v);
  w.U8(1);  // legacy_compression_methods = {null}
  w.U8(0);
  const size_t exts = w.Begin(2);

  if (!p.server_name.empty()) {
    // RFC 6066 3: server_name_list with one host_name.
    w.U16(static_cast<uint16_t>(ExtType::kServerName));
    const size_t e = w.Begin(2);
    const size_t list = w.Begin(2);
    w.U8(0);  // NameType host_name
    const size_t name = w.Begin(2);
    w.Bytes({reinterpret_cast<const uint8_t*>(p.server_name.data()), p.server_name.size()});
    ok = w.End(name) && w.End(list) && w.End(e) && ok;
  }
  w.U16(static_cast<uint16_t>(ExtType::kSupportedGroups));
  size_t e = w.Begin(2);
  v = w.Begin(2);
  PutU16List(w, p.groups);
  ok = w.End(v) && w.End(e) && ok;

  w.U16(static_cast<uint16_t>(ExtType::kSignatureAlgorithms));
  e = w.Begin(2);
  v = w.Begin(2);
  PutU16List(w, p.schemes);
  ok = w.End(v) && w.End(e) && ok;

  if (!p.alpn_wire.empty()) {
    w.U16(static_cast<uint16_t>(ExtType::kAlpn));
    e = w.Begin(2);
    v = w.Begin(2);
    w.Bytes(p.alpn_wire);
    ok = w.End(v) && w.End(e) && ok;
  }
  // RFC 8446 4.2.1: supported_versions lists TLS 1.3 only (TLS 1.2 is not built).
  w.U16(static_cast<uint16_t>(ExtType::kSupportedVersions));
  w.U16(3);
  w.U8(2);
  w.U16(kTls13);
  if (!p.cookie.empty()) {
    // RFC 8446 4.2.2: the cookie from the HelloRetryRequest, echoed unchanged.
    w.U16(static_cast<uint16_t>(ExtType::kCookie));
    e = w.Begin(2);
    v = w.Begin(2);
    w.Bytes(p.cookie);
    ok = w.End(v) && w.End(e) && ok;
  }
  // RFC 8446 4.2.9: psk_key_exchange_modes is required only with pre_shared_key, which we
  // do not send yet; we send psk_dhe_ke anyway because servers "SHOULD NOT send
  // NewSessionTicket with tickets that are not compatible with the advertised modes", and
  // we keep the latest ticket for resumption.
  w.U16(static_cast<uint16_t>(ExtType::kPskKeyExchangeModes));
  w.U16(2);
  w.U8(1);
  w.U8(1);  // psk_dhe_ke
  w.U16(static_cast<uint16_t>(ExtType::kKeyShare));
  e = w.Begin(2);
  v = w.Begin(2);
  for (const OfferedShare& s : p.shares) {
    w.U16(s.group);
    const size_t k = w.Begin(2);
    w.Bytes(s.public_key);
    ok = w.End(k) && ok;
  }
  ok = w.End(v) && w.End(e) && ok;
  return w.End(exts) && w.End(m) && ok;
}

Step ParseServerHello(ByteView body, ServerHelloView& out) noexcept {
  out = ServerHelloView{};
  Reader r(body);
  out.legacy_version = r.U16();
  out.random = r.Bytes(kHelloRandomBytes);
  out.session_id = r.Vec8();
  out.suite = r.U16();
  out.compression = r.U8();
  // A TLS 1.2 ServerHello may end without extensions; that is protocol_version for us,
  // decided by the caller from has_supported_versions.
  Reader exts = r.empty() ? Reader() : r.Sub16();
  if (!r.ok() || !r.empty() || out.session_id.size() > kMaxLegacySessionIdBytes) {
    return Alert::kDecodeError;
  }
  out.retry = std::equal(out.random.begin(), out.random.end(), kHelloRetryRandom.begin());
  SeenExtensions seen;
  while (!exts.empty()) {
    const uint16_t type = exts.U16();
    Reader data = exts.Sub16();
    if (!exts.ok()) return Alert::kDecodeError;
    if (const Step s = seen.Add(type); !s.ok) return s;
    switch (type) {
      case static_cast<uint16_t>(ExtType::kSupportedVersions):
        out.version = data.U16();  // ProtocolVersion selected_version
        out.has_supported_versions = true;
        break;
      case static_cast<uint16_t>(ExtType::kKeyShare):
        out.group = data.U16();
        // RFC 8446 4.2.8: HelloRetryRequest carries NamedGroup selected_group only;
        // ServerHello a KeyShareEntry with key_exchange<1..2^16-1>.
        if (!out.retry) {
          out.key_exchange = data.Vec16();
          if (out.key_exchange.empty()) return Alert::kDecodeError;
        }
        out.has_key_share = true;
        break;
      case static_cast<uint16_t>(ExtType::kCookie):
        // RFC 8446 4.2.2: cookie<1..2^16-1>, only in a HelloRetryRequest.
        if (!out.retry) return Alert::kIllegalParameter;
        out.cookie = data.Vec16();
        if (out.cookie.empty()) return Alert::kDecodeError;
        out.has_cookie = true;
        break;
      case static_cast<uint16_t>(ExtType::kPreSharedKey):
        // We never offer a PSK (RFC 8446 4.2: an unrequested answer).
        return Alert::kUnsupportedExtension;
      case static_cast<uint16_t>(ExtType::kServerName):
      case static_cast<uint16_t>(ExtType::kSupportedGroups):
      case static_cast<uint16_t>(ExtType::kAlpn):
      case static_cast<uint16_t>(ExtType::kEarlyData):
        // RFC 8446 4.2 table: these go in EncryptedExtensions, never in ServerHello.
        return Alert::kIllegalParameter;
      default:
        return UnexpectedExtension(type);
    }
    if (!data.ok() || !data.empty()) return Alert::kDecodeError;
  }
  return Step::Continue();
}

Step ParseEncryptedExtensions(ByteView body, bool offered_alpn, bool offered_sni,
                              EncryptedExtensionsView& out) noexcept {
  out = EncryptedExtensionsView{};
  Reader r(body);
  Reader exts = r.Sub16();
  if (!r.ok() || !r.empty()) return Alert::kDecodeError;
  SeenExtensions seen;
  while (!exts.empty()) {
    const uint16_t type = exts.U16();
    Reader data = exts.Sub16();
    if (!exts.ok()) return Alert::kDecodeError;
    if (const Step s = seen.Add(type); !s.ok) return s;
    switch (type) {
      case static_cast<uint16_t>(ExtType::kAlpn): {
        if (!offered_alpn) return Alert::kUnsupportedExtension;
        // RFC 7301 3.1: the server's list holds exactly one ProtocolName.
        Reader list = data.Sub16();
        out.alpn = list.Vec8();
        if (!list.ok() || !list.empty() || out.alpn.empty()) return Alert::kDecodeError;
        out.has_alpn = true;
        break;
      }
      case static_cast<uint16_t>(ExtType::kServerName):
        // RFC 6066 3: the server acknowledges with empty extension_data.
        if (!offered_sni) return Alert::kUnsupportedExtension;
        if (!data.empty()) return Alert::kDecodeError;
        out.sni_acknowledged = true;
        break;
      case static_cast<uint16_t>(ExtType::kSupportedGroups): {
        // RFC 8446 4.2.7: the server's preferences, for later connections; not acted on.
        const ByteView groups = data.Vec16();
        if (groups.size() < 2 || groups.size() % 2 != 0) return Alert::kDecodeError;
        break;
      }
      case static_cast<uint16_t>(ExtType::kKeyShare):
      case static_cast<uint16_t>(ExtType::kSupportedVersions):
      case static_cast<uint16_t>(ExtType::kCookie):
      case static_cast<uint16_t>(ExtType::kPreSharedKey):
        return Alert::kIllegalParameter;  // ServerHello/HRR only (RFC 8446 4.2 table)
      case static_cast<uint16_t>(ExtType::kEarlyData):
        return Alert::kUnsupportedExtension;  // we never offer 0-RTT
      default:
        return UnexpectedExtension(type);
    }
    if (!data.ok() || !data.empty()) return Alert::kDecodeError;
  }
  return Step::Continue();
}

Step ParseCertificateRequest(ByteView body, CertificateRequestView& out) noexcept {
  out = CertificateRequestView{};
  Reader r(body);
  out.context = r.Vec8();
  Reader exts = r.Sub16();
  if (!r.ok() || !r.empty()) return Alert::kDecodeError;
  SeenExtensions seen;
  bool has_sigalgs = false;
  while (!exts.empty()) {
    const uint16_t type = exts.U16();
    Reader data = exts.Sub16();
    if (!exts.ok()) return Alert::kDecodeError;
    if (const Step s = seen.Add(type); !s.ok) return s;
    if (type == static_cast<uint16_t>(ExtType::kSignatureAlgorithms)) {
      out.signature_algorithms = data.Vec16();
      if (!data.ok() || !data.empty() || out.signature_algorithms.size() < 2 ||
          out.signature_algorithms.size() % 2 != 0) {
        return Alert::kDecodeError;
      }
      has_sigalgs = true;
    }
    // RFC 8446 4.3.2: "Clients MUST ignore unrecognized extensions."
  }
  // RFC 8446 4.3.2: "The "signature_algorithms" extension MUST be specified".
  if (!has_sigalgs) return Alert::kMissingExtension;
  return Step::Continue();
}

Step ParseCertificate(ByteView body, CertificateView& out) noexcept {
  out = CertificateView{};
  Reader r(body);
  out.context = r.Vec8();
  Reader list = r.Sub24();  // CertificateEntry certificate_list<0..2^24-1>
  if (!r.ok() || !r.empty()) return Alert::kDecodeError;
  while (!list.empty()) {
    const ByteView der = list.Vec24();  // opaque cert_data<1..2^24-1>
    const ByteView exts = list.Vec16();
    if (!list.ok() || der.empty()) return Alert::kDecodeError;
    // We request neither OCSP stapling nor SCTs, so an entry must carry no extensions
    // (RFC 8446 4.4.2: they answer ClientHello extensions; 4.2: unsupported_extension).
    if (!exts.empty()) return Alert::kUnsupportedExtension;
    // A longer chain cannot be checked here (and no public chain is that long).
    if (out.count == out.certs.size()) return Alert::kBadCertificate;
    out.certs[out.count++] = der;
  }
  return Step::Continue();
}

Step ParseCertificateVerify(ByteView body, CertificateVerifyView& out) noexcept {
  out = CertificateVerifyView{};
  Reader r(body);
  out.scheme = r.U16();
  out.signature = r.Vec16();
  if (!r.ok() || !r.empty()) return Alert::kDecodeError;
  return Step::Continue();
}

Step ParseNewSessionTicket(ByteView body, NewSessionTicketView& out) noexcept {
  out = NewSessionTicketView{};
  Reader r(body);
  out.lifetime_s = static_cast<uint32_t>(r.U16()) << 16;
  out.lifetime_s |= r.U16();
  out.age_add = static_cast<uint32_t>(r.U16()) << 16;
  out.age_add |= r.U16();
  out.nonce = r.Vec8();    // opaque ticket_nonce<0..255>
  out.ticket = r.Vec16();  // opaque ticket<1..2^16-1>
  Reader exts = r.Sub16();
  if (!r.ok() || !r.empty() || out.ticket.empty()) return Alert::kDecodeError;
  SeenExtensions seen;
  while (!exts.empty()) {
    const uint16_t type = exts.U16();
    Reader data = exts.Sub16();
    if (!exts.ok()) return Alert::kDecodeError;
    if (const Step s = seen.Add(type); !s.ok) return s;
    if (type == static_cast<uint16_t>(ExtType::kEarlyData)) {
      // RFC 8446 4.2.10: uint32 max_early_data_size.
      out.max_early_data_bytes = static_cast<uint32_t>(data.U16()) << 16;
      out.max_early_data_bytes |= data.U16();
      if (!data.ok() || !data.empty()) return Alert::kDecodeError;
    }
    // RFC 8446 4.6.1: "Clients MUST ignore unrecognized extensions."
  }
  return Step::Continue();
}

}  // namespace baton::crypto::tls
