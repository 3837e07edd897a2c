#include "crypto/tls/messages.h"

#include <algorithm>

namespace baton::crypto::tls {

const std::array<uint8_t, 32> kHelloRetryRandom = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

namespace {

Step ParseSupportedVersions(ByteView ext, ClientHello& ch) noexcept {
  Reader r(ext);
  Reader versions = r.Sub8();  // ProtocolVersion versions<2..254>
  if (!r.ok() || !r.empty() || versions.remaining() < 2 || versions.remaining() % 2 != 0) {
    return Alert::kDecodeError;
  }
  while (!versions.empty()) {
    if (versions.U16() == kTls13) ch.offers_tls13 = true;
  }
  ch.has_supported_versions = true;
  return Step::Continue();
}

Step ParseKeyShare(ByteView ext, ClientHello& ch) noexcept {
  Reader r(ext);
  Reader shares = r.Sub16();  // KeyShareEntry client_shares<0..2^16-1>
  if (!r.ok() || !r.empty()) return Alert::kDecodeError;
  while (!shares.empty()) {
    const uint16_t group = shares.U16();
    const ByteView key = shares.Vec16();  // opaque key_exchange<1..2^16-1>
    if (!shares.ok() || key.empty()) return Alert::kDecodeError;
    // RFC 8446 4.2.8: "Clients MUST NOT offer multiple KeyShareEntry values for the same
    // group." Servers may check; we do, since we look shares up by group.
    for (size_t i = 0; i < ch.share_count; ++i) {
      if (ch.shares[i].group == group) return Alert::kIllegalParameter;
    }
    if (ch.share_count == ch.shares.size()) return Alert::kIllegalParameter;
    ch.shares[ch.share_count++] = {group, key};
  }
  ch.has_key_share = true;
  return Step::Continue();
}

Step ParseU16List(ByteView ext, ByteView& out) noexcept {
  Reader r(ext);
  out = r.Vec16();  // NamedGroup named_group_list<2..2^16-1>, SignatureScheme ...<2..2^16-2>
  if (!r.ok() || !r.empty() || out.size() < 2 || out.size() % 2 != 0) return Alert::kDecodeError;
  return Step::Continue();
}

Step ParseServerName(ByteView ext, ClientHello& ch) noexcept {
  // RFC 6066 3: ServerName server_name_list<1..2^16-1>; NameType 0 = host_name<1..2^16-1>.
  Reader r(ext);
  Reader list = r.Sub16();
  if (!r.ok() || !r.empty() || list.empty()) return Alert::kDecodeError;
  bool seen_host = false;
  while (!list.empty()) {
    const uint8_t type = list.U8();
    const ByteView name = list.Vec16();
    if (!list.ok() || name.empty()) return Alert::kDecodeError;
    if (type == 0) {
      // RFC 6066 3: "The ServerNameList MUST NOT contain more than one name of the same
      // name_type."
      if (seen_host) return Alert::kIllegalParameter;
      seen_host = true;
      ch.sni = name;
    }
  }
  ch.has_sni = seen_host;
  return Step::Continue();
}

Step ParseAlpn(ByteView ext, ClientHello& ch) noexcept {
  // RFC 7301 3.1: ProtocolName protocol_name_list<2..2^16-1>; ProtocolName <1..2^8-1>.
  Reader r(ext);
  const ByteView list = r.Vec16();
  if (!r.ok() || !r.empty() || list.size() < 2) return Alert::kDecodeError;
  Reader names(list);
  while (!names.empty()) {
    if (names.Vec8().empty()) return Alert::kDecodeError;
  }
  if (!names.ok()) return Alert::kDecodeError;
  ch.has_alpn = true;
  ch.alpn_list = list;
  return Step::Continue();
}

Step ParsePreSharedKey(ByteView body, ByteView ext, ClientHello& ch) noexcept {
  // RFC 8446 4.2.11: struct { PskIdentity identities<7..2^16-1>;
  //                           PskBinderEntry binders<33..2^16-1>; } OfferedPsks;
  Reader r(ext);
  const ByteView identities = r.Vec16();
  const size_t binders_at = static_cast<size_t>(ext.data() - body.data()) + 2 + identities.size();
  const ByteView binders = r.Vec16();
  if (!r.ok() || !r.empty() || identities.size() < 7 || binders.size() < 33) {
    return Alert::kDecodeError;
  }
  size_t identity_count = 0;
  Reader ids(identities);
  while (!ids.empty()) {
    const ByteView id = ids.Vec16();  // opaque identity<1..2^16-1>
    (void)ids.Bytes(4);               // uint32 obfuscated_ticket_age
    if (!ids.ok() || id.empty()) return Alert::kDecodeError;
    ++identity_count;
  }
  size_t binder_count = 0;
  Reader bs(binders);
  while (!bs.empty()) {
    const ByteView b = bs.Vec8();  // opaque PskBinderEntry<32..255>
    if (!bs.ok() || b.size() < 32) return Alert::kDecodeError;
    ++binder_count;
  }
  // RFC 8446 4.2.11 names no alert for a count mismatch; the binders are malformed.
  if (binder_count != identity_count) return Alert::kIllegalParameter;
  ch.psk_identities = identities;
  ch.psk_binders = binders;
  ch.psk_binders_offset = binders_at;
  ch.psk_count = identity_count;
  ch.has_pre_shared_key = true;
  return Step::Continue();
}

Step ParsePskModes(ByteView ext, ClientHello& ch) noexcept {
  // RFC 8446 4.2.9: PskKeyExchangeMode ke_modes<1..255>.
  Reader r(ext);
  const ByteView modes = r.Vec8();
  if (!r.ok() || !r.empty() || modes.empty()) return Alert::kDecodeError;
  for (const uint8_t m : modes) {
    if (m == static_cast<uint8_t>(PskKeyExchangeMode::kPskKe)) ch.psk_ke = true;
    if (m == static_cast<uint8_t>(PskKeyExchangeMode::kPskDheKe)) ch.psk_dhe_ke = true;
  }
  ch.has_psk_modes = true;
  return Step::Continue();
}

Step ParseRecordSizeLimit(ByteView ext, ClientHello& ch) noexcept {
  // RFC 8449 4: uint16 RecordSizeLimit; "Endpoints MUST NOT send a "record_size_limit"
  // extension with a value smaller than 64. An endpoint MUST treat receipt of a smaller
  // value as a fatal error and generate an "illegal_parameter" alert."
  Reader r(ext);
  const uint16_t limit = r.U16();
  if (!r.ok() || !r.empty()) return Alert::kDecodeError;
  if (limit < kMinRecordSizeLimit) return Alert::kIllegalParameter;
  ch.has_record_size_limit = true;
  ch.record_size_limit = limit;
  return Step::Continue();
}

Step ParseCookie(ByteView ext, ClientHello& ch) noexcept {
  Reader r(ext);
  const ByteView cookie = r.Vec16();  // opaque cookie<1..2^16-1>
  if (!r.ok() || !r.empty() || cookie.empty()) return Alert::kDecodeError;
  ch.has_cookie = true;
  ch.cookie = cookie;
  return Step::Continue();
}

}  // namespace

ByteView PskBinderAt(ByteView binders, size_t index) noexcept {
  Reader r(binders);
  for (size_t i = 0; i < index; ++i) (void)r.Vec8();
  const ByteView b = r.Vec8();
  return r.ok() ? b : ByteView{};
}

bool ListHas(ByteView list, uint16_t v) noexcept {
  for (size_t i = 0; i + 1 < list.size(); i += 2) {
    if (static_cast<uint16_t>(list[i] << 8 | list[i + 1]) == v) return true;
  }
  return false;
}

bool PickAlpn(ByteView client_list, ByteView server_list, ByteView& chosen) noexcept {
  Reader s(server_list);
  while (!s.empty()) {
    const ByteView want = s.Vec8();
    if (!s.ok()) return false;
    Reader c(client_list);
    while (!c.empty()) {
      const ByteView have = c.Vec8();
      if (!c.ok()) return false;
      if (have.size() == want.size() && std::equal(have.begin(), have.end(), want.begin())) {
        chosen = want;
        return true;
      }
    }
  }
  return false;
}

size_t BeginMessage(Writer& w, HsType type) {
  w.U8(static_cast<uint8_t>(type));
  return w.Begin(3);
}

Step ParseClientHello(ByteView body, ClientHello& out) noexcept {
  out = ClientHello{};
  Reader r(body);
  out.legacy_version = r.U16();
  out.random = r.Bytes(32);
  out.session_id = r.Vec8();           // opaque legacy_session_id<0..32>
  out.cipher_suites = r.Vec16();       // CipherSuite cipher_suites<2..2^16-2>
  const ByteView compression = r.Vec8();  // opaque legacy_compression_methods<1..2^8-1>
  // Extensions are mandatory in TLS 1.3, but a TLS 1.2 ClientHello may omit the block; that
  // gets protocol_version below (no supported_versions), not decode_error.
  Reader exts = r.empty() ? Reader() : r.Sub16();
  if (!r.ok() || !r.empty() || out.session_id.size() > 32 || out.cipher_suites.size() < 2 ||
      out.cipher_suites.size() % 2 != 0 || compression.empty()) {
    return Alert::kDecodeError;
  }
  std::array<uint16_t, kMaxHelloExtensions> seen{};
  size_t seen_count = 0;
  bool psk_seen = false;
  while (!exts.empty()) {
    const uint16_t type = exts.U16();
    const ByteView data = exts.Vec16();
    if (!exts.ok()) return Alert::kDecodeError;
    // RFC 8446 4.2.11: pre_shared_key "MUST be the last extension in the ClientHello";
    // "Servers MUST check that it is the last extension and otherwise fail the handshake
    // with an "illegal_parameter" alert."
    if (psk_seen) return Alert::kIllegalParameter;
    for (size_t i = 0; i < seen_count; ++i) {
      // RFC 8446 4.2: no two extensions of one type; RFC 8446 doesn't name the alert, we
      // follow the common choice of illegal_parameter.
      if (seen[i] == type) return Alert::kIllegalParameter;
    }
    if (seen_count == seen.size()) return Alert::kDecodeError;
    seen[seen_count++] = type;

    Step s;
    switch (static_cast<ExtType>(type)) {
      case ExtType::kSupportedVersions: s = ParseSupportedVersions(data, out); break;
      case ExtType::kKeyShare: s = ParseKeyShare(data, out); break;
      case ExtType::kSupportedGroups:
        s = ParseU16List(data, out.supported_groups);
        out.has_supported_groups = true;
        break;
      case ExtType::kSignatureAlgorithms:
        s = ParseU16List(data, out.signature_algorithms);
        out.has_signature_algorithms = true;
        break;
      case ExtType::kServerName: s = ParseServerName(data, out); break;
      case ExtType::kAlpn: s = ParseAlpn(data, out); break;
      case ExtType::kEarlyData:
        // RFC 8446 4.2.10: in a ClientHello the extension_data is empty.
        if (!data.empty()) return Alert::kDecodeError;
        out.has_early_data = true;
        break;
      case ExtType::kPreSharedKey:
        s = ParsePreSharedKey(body, data, out);
        psk_seen = true;
        break;
      case ExtType::kCookie: s = ParseCookie(data, out); break;
      case ExtType::kPskKeyExchangeModes: s = ParsePskModes(data, out); break;
      case ExtType::kRecordSizeLimit: s = ParseRecordSizeLimit(data, out); break;
    }
    if (!s.ok) return s;
  }
  // RFC 8446 4.1.2 "legacy_compression_methods": a TLS 1.3 ClientHello carries exactly one
  // byte, 0; "If a TLS 1.3 ClientHello is received with any other value in this field, the
  // server MUST abort the handshake with an "illegal_parameter" alert."
  if (out.offers_tls13 && (compression.size() != 1 || compression[0] != 0)) {
    return Alert::kIllegalParameter;
  }
  return Step::Continue();
}

}  // namespace baton::crypto::tls
