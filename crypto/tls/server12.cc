#include "crypto/tls/server12.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "crypto/ossl_call.h"
#include "crypto/secure_wipe.h"
#include "crypto/tls/credentials.h"
#include "crypto/tls/key_exchange.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/reader.h"

namespace baton::crypto::tls {
namespace {

constexpr uint8_t kAlertLevelWarning = 1;
constexpr uint8_t kAlertLevelFatal = 2;
// Alerts alert.h does not name (alert.h is shared with TLS 1.3, which has no use for them).
constexpr Alert kInappropriateFallback = static_cast<Alert>(86);  // RFC 7507 2
constexpr Alert kNoRenegotiation = static_cast<Alert>(100);       // RFC 5246 7.2.2

// RFC 5246 7.4 HandshakeType values we handle (HsType in messages.h is the TLS 1.3 set).
constexpr uint8_t kHelloRequest = 0;
constexpr uint8_t kClientHello = 1;
constexpr uint8_t kServerHello = 2;
constexpr uint8_t kNewSessionTicket = 4;
constexpr uint8_t kCertificate = 11;
constexpr uint8_t kServerKeyExchange = 12;
constexpr uint8_t kServerHelloDone = 14;
constexpr uint8_t kClientKeyExchange = 16;
constexpr uint8_t kFinished = 20;

// Extension numbers TLS 1.2 adds to messages.h's ExtType.
constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtSupportedGroups = 10;
constexpr uint16_t kExtEcPointFormats = 11;         // RFC 8422 5.1.2
constexpr uint16_t kExtSignatureAlgorithms = 13;
constexpr uint16_t kExtAlpn = 16;
constexpr uint16_t kExtExtendedMasterSecret = 23;  // RFC 7627 5.1
constexpr uint16_t kExtSessionTicket = 35;          // RFC 5077 3.2
constexpr uint16_t kExtSupportedVersions = 43;
constexpr uint16_t kExtRenegotiationInfo = 0xff01;  // RFC 5746 3.2

constexpr uint16_t kEmptyRenegotiationInfoScsv = 0x00ff;  // RFC 5746 3.3
constexpr uint16_t kFallbackScsv = 0x5600;                // RFC 7507 2
constexpr uint16_t kRsaPkcs1Sha256 = 0x0401;
constexpr uint8_t kCurveTypeNamed = 3;  // RFC 8422 5.4 ECCurveType named_curve
constexpr uint8_t kPointUncompressed = 0;

// RFC 8446 4.1.3: a TLS 1.3 server negotiating TLS 1.2 ends ServerHello.random with this.
constexpr std::array<uint8_t, 8> kDowngradeTls12 = {0x44, 0x4F, 0x57, 0x4E, 0x47, 0x52, 0x44, 0x01};

bool Ok(CryptoStatus s) noexcept { return s == CryptoStatus::kOk; }

uint32_t Load24(const uint8_t* p) noexcept { return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]; }

// ---------------------------------------------------------------------------------------
// ClientHello (RFC 5246 7.4.1.2) with the extensions TLS 1.2 needs. Our own parser: the
// TLS 1.3 one (messages.h) skips the TLS 1.2-only extensions and compression methods.

struct ClientHello12 {
  uint16_t client_version = 0;
  ByteView random{};
  ByteView session_id{};
  ByteView cipher_suites{};
  ByteView compression{};
  bool has_supported_versions = false;
  bool offers_tls12 = false;
  ByteView supported_groups{};  // u16 list; empty when absent
  bool has_supported_groups = false;
  ByteView signature_algorithms{};
  bool has_sni = false;
  ByteView sni{};
  bool has_alpn = false;
  ByteView alpn_list{};
  bool has_ems = false;
  bool has_renegotiation_info = false;
  ByteView renegotiated_connection{};
  bool has_point_formats = false;
  ByteView point_formats{};
  bool has_session_ticket = false;
  ByteView ticket{};
};

Step ParseU16List(ByteView ext, ByteView& out) noexcept {
  Reader r(ext);
  out = r.Vec16();
  if (!r.ok() || !r.empty() || out.size() < 2 || out.size() % 2 != 0) return Alert::kDecodeError;
  return Step::Continue();
}

Step ParseExtension(uint16_t type, ByteView data, ClientHello12& ch) noexcept {
  Reader r(data);
  switch (type) {
    case kExtSupportedVersions: {
      Reader versions = r.Sub8();
      if (!r.ok() || !r.empty() || versions.remaining() < 2 || versions.remaining() % 2 != 0) {
        return Alert::kDecodeError;
      }
      while (!versions.empty()) {
        if (versions.U16() == kTls12) ch.offers_tls12 = true;
      }
      ch.has_supported_versions = true;
      return Step::Continue();
    }
    case kExtSupportedGroups:
      ch.has_supported_groups = true;
      return ParseU16List(data, ch.supported_groups);
    case kExtSignatureAlgorithms:
      return ParseU16List(data, ch.signature_algorithms);
    case kExtServerName: {
      // RFC 6066 3: ServerName server_name_list<1..2^16-1>, host_name (0) at most once.
      Reader list = r.Sub16();
      if (!r.ok() || !r.empty() || list.empty()) return Alert::kDecodeError;
      while (!list.empty()) {
        const uint8_t name_type = list.U8();
        const ByteView name = list.Vec16();
        if (!list.ok() || name.empty()) return Alert::kDecodeError;
        if (name_type == 0) {
          if (ch.has_sni) return Alert::kIllegalParameter;
          ch.has_sni = true;
          ch.sni = name;
        }
      }
      return Step::Continue();
    }
    case kExtAlpn: {
      // RFC 7301 3.1: ProtocolName protocol_name_list<2..2^16-1>, names <1..2^8-1>.
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
    case kExtExtendedMasterSecret:
      // RFC 7627 5.1: "The "extension_data" field of this extension is empty."
      if (!data.empty()) return Alert::kDecodeError;
      ch.has_ems = true;
      return Step::Continue();
    case kExtRenegotiationInfo:
      ch.renegotiated_connection = r.Vec8();  // RFC 5746 3.2
      if (!r.ok() || !r.empty()) return Alert::kDecodeError;
      ch.has_renegotiation_info = true;
      return Step::Continue();
    case kExtEcPointFormats:
      ch.point_formats = r.Vec8();  // RFC 8422 5.1.2: ECPointFormat ec_point_format_list<1..2^8-1>
      if (!r.ok() || !r.empty() || ch.point_formats.empty()) return Alert::kDecodeError;
      ch.has_point_formats = true;
      return Step::Continue();
    case kExtSessionTicket:
      ch.has_session_ticket = true;  // RFC 5077 3.2: the opaque ticket is the whole body
      ch.ticket = data;
      return Step::Continue();
    default:
      return Step::Continue();  // RFC 5246 7.4.1.4: unknown extensions are ignored
  }
}

Step ParseClientHello12(ByteView body, ClientHello12& ch) noexcept {
  ch = ClientHello12{};
  Reader r(body);
  ch.client_version = r.U16();
  ch.random = r.Bytes(kHelloRandomBytes);
  ch.session_id = r.Vec8();      // SessionID <0..32>
  ch.cipher_suites = r.Vec16();  // CipherSuite cipher_suites<2..2^16-2>
  ch.compression = r.Vec8();     // CompressionMethod compression_methods<1..2^8-1>
  // RFC 5246 7.4.1.2: the extensions block may be absent altogether.
  Reader exts = r.empty() ? Reader() : r.Sub16();
  if (!r.ok() || !r.empty() || ch.session_id.size() > kMaxSessionIdBytes ||
      ch.cipher_suites.size() < 2 || ch.cipher_suites.size() % 2 != 0 || ch.compression.empty()) {
    return Alert::kDecodeError;
  }
  std::array<uint16_t, kMaxHelloExtensions> seen{};
  size_t seen_count = 0;
  while (!exts.empty()) {
    const uint16_t type = exts.U16();
    const ByteView data = exts.Vec16();
    if (!exts.ok()) return Alert::kDecodeError;
    // RFC 5246 7.4.1.4: "There MUST NOT be more than one extension of the same type." No
    // alert is named; illegal_parameter, as the TLS 1.3 server does.
    for (size_t i = 0; i < seen_count; ++i) {
      if (seen[i] == type) return Alert::kIllegalParameter;
    }
    if (seen_count == seen.size()) return Alert::kDecodeError;
    seen[seen_count++] = type;
    if (const Step s = ParseExtension(type, data, ch); !s.ok) return s;
  }
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// libcrypto (key_exchange.h). The ephemeral ECDHE key is MakeEphemeralKey /
// DeriveSharedSecret, kept as raw bytes in the state between ServerKeyExchange and
// ClientKeyExchange, so a half-done handshake can move.

// RFC 5246 7.4.3: the signature over client_random || server_random || ServerECDHParams,
// with SHA-256 and the scheme's padding (RFC 8446 4.2.3 for rsa_pss_rsae_sha256).
Step SignParams(EVP_PKEY* key, uint16_t scheme, ByteView signed_data,
                std::vector<uint8_t>& signature) noexcept {
  const RsaPadding padding =
      scheme == static_cast<uint16_t>(SignatureScheme::kRsaPssRsaeSha256) ? RsaPadding::kPss
      : scheme == kRsaPkcs1Sha256                                         ? RsaPadding::kPkcs1
                                                                          : RsaPadding::kNone;
  return SignWithKey(key, EVP_sha256(), padding, signed_data, signature);
}

// The scheme we sign ServerKeyExchange with for `key`, given the client's
// signature_algorithms; 0 when there is none. RFC 5246 7.4.1.4.1: without the extension
// the client implies SHA-1, which we do not sign with.
uint16_t PickScheme(EVP_PKEY* key, ByteView client_schemes) noexcept {
  const uint16_t kind = SchemeForKey(key);
  if (kind == static_cast<uint16_t>(SignatureScheme::kEcdsaSecp256r1Sha256)) {
    return ListHas(client_schemes, kind) ? kind : 0;
  }
  if (kind == static_cast<uint16_t>(SignatureScheme::kRsaPssRsaeSha256)) {
    if (ListHas(client_schemes, kind)) return kind;
    if (ListHas(client_schemes, kRsaPkcs1Sha256)) return kRsaPkcs1Sha256;
  }
  return 0;
}

void WriteExtensionHeader(Writer& w, uint16_t type, uint16_t len) {
  w.U16(type);
  w.U16(len);
}

}  // namespace

// ---------------------------------------------------------------------------------------

void Tls12ServerState::Wipe() noexcept {
  read_key.Wipe();
  write_key.Wipe();
  SecureWipe(master_secret.data(), master_secret.size());
  SecureWipe(ecdhe_private.data(), ecdhe_private.size());
  SecureWipe(record.bytes.data(), record.bytes.size());
  SecureWipe(hs_buf.data(), hs_buf.size());
}

Tls12Server::Tls12Server(const Tls12Config& config, CryptoContext& ctx) noexcept
    : config_(&config), ctx_(&ctx) {}

Tls12Server::Tls12Server(const Tls12Config& config, CryptoContext& ctx,
                         const Tls12ServerState& state) noexcept
    : config_(&config), ctx_(&ctx), st_(state) {}

Tls12Server::~Tls12Server() { st_.Wipe(); }

std::optional<Alert> Tls12Server::alert_sent() const noexcept {
  return st_.has_alert_sent ? std::optional<Alert>(st_.alert_sent) : std::nullopt;
}

std::optional<Alert> Tls12Server::alert_received() const noexcept {
  return st_.has_alert_received ? std::optional<Alert>(st_.alert_received) : std::nullopt;
}

bool Tls12Server::ReadKeyReady() noexcept {
  if (!read_ready_) read_ready_ = Ok(ctx_->Expand(st_.read_key, read_aead_));
  return read_ready_;
}

bool Tls12Server::WriteKeyReady() noexcept {
  if (!write_ready_) write_ready_ = Ok(ctx_->Expand(st_.write_key, write_aead_));
  return write_ready_;
}

TlsStatus Tls12Server::Status() const noexcept {
  if (st_.hs != Hs12State::kClosed) return st_.peer_closed ? TlsStatus::kClosed : TlsStatus::kOk;
  const bool fatal_received = st_.has_alert_received && st_.alert_received != Alert::kCloseNotify;
  return st_.has_alert_sent || (fatal_received && !st_.peer_closed) ? TlsStatus::kFailed
                                                                     : TlsStatus::kClosed;
}

// ---------------------------------------------------------------------------------------
// Input

TlsStatus Tls12Server::Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept {
  if (config_->base == nullptr) return Fail(Alert::kInternalError, to_peer);
  while (true) {
    // RFC 5246 7.2.1: after close_notify (or a fatal alert) nothing more is read.
    if (st_.hs == Hs12State::kClosed || st_.peer_closed) return Status();
    if (in.empty()) return TlsStatus::kOk;
    size_t used = 0;
    const RecordStatus rs = st_.record.Feed(in, used);
    in = in.subspan(used);
    if (rs == RecordStatus::kNeedMore) return TlsStatus::kOk;
    if (rs != RecordStatus::kOk) return Fail(AlertFor(rs), to_peer);
    const Step s = OnRecord(to_peer, app);
    st_.record.Reset();
    if (!s.ok) return Fail(s.alert, to_peer);
  }
}

Step Tls12Server::OnRecord(OutputSink& to_peer, OutputSink& app) noexcept {
  const ContentType type = st_.record.header.type;
  MutByteView content = st_.record.body();
  // RFC 5246 6.2.1 / E.1: once the version is agreed every record carries it (only the
  // first ClientHello may say 0x0301 or so). libssl enforces the same.
  if (st_.hs != Hs12State::kExpectClientHello && st_.record.header.version != kTls12) {
    return Alert::kProtocolVersion;
  }
  if (type == ContentType::kChangeCipherSpec) {
    // Never protected here: we refuse renegotiation, so CCS comes once, in the clear.
    if (st_.read_protected) return Alert::kUnexpectedMessage;
    return OnChangeCipherSpec(content);
  }
  if (st_.read_protected) {
    if (!ReadKeyReady()) return Alert::kInternalError;
    if (st_.read_seq == UINT64_MAX) return Alert::kInternalError;  // RFC 5246 6.1: no wrap
    const RecordStatus rs = Unprotect12(*ctx_, read_aead_, st_.read_seq, st_.record.record(), content);
    if (rs != RecordStatus::kOk) return AlertFor(rs);
    ++st_.read_seq;
    // RFC 5246 6.2.1: "Implementations MUST NOT send zero-length fragments of Handshake,
    // Alert, or ChangeCipherSpec content types" (the header check saw only ciphertext).
    if (content.empty() && type != ContentType::kApplicationData) return Alert::kUnexpectedMessage;
  } else if (type == ContentType::kApplicationData) {
    return Alert::kUnexpectedMessage;  // no keys yet, so no application data
  }
  // RFC 5246 6.2.1 does not allow a handshake message to be interleaved with other
  // content; we insist, as for TLS 1.3.
  if (st_.hs_fill != 0 && type != ContentType::kHandshake) return Alert::kUnexpectedMessage;
  switch (type) {
    case ContentType::kHandshake:
      return OnHandshakeBytes(content, to_peer);
    case ContentType::kAlert:
      return OnAlert(content, to_peer);
    case ContentType::kApplicationData:
      if (st_.hs != Hs12State::kConnected) return Alert::kUnexpectedMessage;
      if (content.empty()) ++st_.glitches;  // legal (RFC 5246 6.2.1), a flood is hostile
      if (!content.empty() && !app.Append(content)) return Alert::kInternalError;
      return Step::Continue();
    case ContentType::kChangeCipherSpec:
    case ContentType::kInvalid:
      break;
  }
  return Alert::kUnexpectedMessage;
}

Step Tls12Server::OnChangeCipherSpec(ByteView body) noexcept {
  // RFC 5246 7.1: a single byte of value 1, only where the handshake expects it, and
  // (like a key change in TLS 1.3) not inside a partly received handshake message.
  if (body.size() != 1 || body[0] != 1) return Alert::kDecodeError;
  if (st_.hs != Hs12State::kExpectChangeCipherSpec || st_.hs_fill != 0) {
    return Alert::kUnexpectedMessage;
  }
  st_.read_protected = true;
  st_.read_seq = 0;
  read_ready_ = false;
  st_.hs = Hs12State::kExpectClientFinished;
  return Step::Continue();
}

Step Tls12Server::OnHandshakeBytes(ByteView content, OutputSink& to_peer) noexcept {
  while (!content.empty()) {
    const size_t take = std::min(content.size(), st_.hs_buf.size() - st_.hs_fill);
    std::memcpy(st_.hs_buf.data() + st_.hs_fill, content.data(), take);
    st_.hs_fill = static_cast<uint16_t>(st_.hs_fill + take);
    content = content.subspan(take);
    size_t start = 0;
    while (st_.hs_fill - start >= kHandshakeHeaderBytes) {
      const uint8_t* p = st_.hs_buf.data() + start;
      const uint32_t len = Load24(p + 1);
      if (len > kMaxHandshakeMessageBytes) return Alert::kDecodeError;
      if (st_.hs_fill - start < kHandshakeHeaderBytes + len) break;
      const Step s = OnMessage(p[0], {p, kHandshakeHeaderBytes + len}, to_peer);
      if (!s.ok) return s;
      start += kHandshakeHeaderBytes + len;
      if (st_.hs == Hs12State::kClosed) return Step::Continue();
    }
    if (start > 0) {
      std::memmove(st_.hs_buf.data(), st_.hs_buf.data() + start, st_.hs_fill - start);
      st_.hs_fill = static_cast<uint16_t>(st_.hs_fill - start);
    }
  }
  return Step::Continue();
}

Step Tls12Server::OnMessage(uint8_t type, ByteView msg, OutputSink& to_peer) noexcept {
  switch (st_.hs) {
    case Hs12State::kExpectClientHello:
      return type == kClientHello ? OnClientHello(msg, to_peer) : Alert::kUnexpectedMessage;
    case Hs12State::kExpectClientKeyExchange:
      // No CertificateRequest was sent, so no client Certificate (RFC 5246 7.4.6).
      return type == kClientKeyExchange ? OnClientKeyExchange(msg) : Alert::kUnexpectedMessage;
    case Hs12State::kExpectChangeCipherSpec:
      return Alert::kUnexpectedMessage;  // RFC 5246 7.4.9: Finished comes after CCS
    case Hs12State::kExpectClientFinished:
      return type == kFinished ? OnClientFinished(msg, to_peer) : Alert::kUnexpectedMessage;
    case Hs12State::kConnected:
      // RFC 5246 7.4.1.1: HelloRequest is server-to-client only.
      if (type == kHelloRequest) return Alert::kUnexpectedMessage;
      return type == kClientHello ? OnRenegotiation(to_peer) : Alert::kUnexpectedMessage;
    case Hs12State::kClosed:
      return Alert::kUnexpectedMessage;
  }
  return Alert::kInternalError;  // no default: -Werror=switch flags new states
}

// ---------------------------------------------------------------------------------------
// ClientHello

Step Tls12Server::OnClientHello(ByteView msg, OutputSink& to_peer) noexcept {
  ClientHello12 ch;
  if (const Step s = ParseClientHello12(msg.subspan(kHandshakeHeaderBytes), ch); !s.ok) return s;

  // Version (RFC 5246 E.1; RFC 8446 4.2.1: with supported_versions, only that counts).
  if (ch.has_supported_versions ? !ch.offers_tls12 : ch.client_version < kTls12) {
    return Alert::kProtocolVersion;
  }
  // RFC 7507 3: a fallback retry while we could have done better (TLS 1.3).
  if (config_->tls13_enabled && ListHas(ch.cipher_suites, kFallbackScsv)) {
    return kInappropriateFallback;
  }
  // RFC 5246 7.4.1.2: the list "MUST contain ... CompressionMethod.null".
  if (std::find(ch.compression.begin(), ch.compression.end(), uint8_t{0}) == ch.compression.end()) {
    return Alert::kDecodeError;
  }
  // RFC 5746 3.6: on an initial handshake renegotiated_connection must be empty
  // ("MUST abort the handshake"; handshake_failure, 3.6 names it).
  if (ch.has_renegotiation_info && !ch.renegotiated_connection.empty()) {
    return Alert::kHandshakeFailure;
  }
  st_.secure_renegotiation =
      ch.has_renegotiation_info || ListHas(ch.cipher_suites, kEmptyRenegotiationInfoScsv);
  // RFC 7627 5.3 allows continuing without extended master secret; we do not (the
  // triple-handshake fix is required, and resumption relies on it).
  if (!ch.has_ems) return Alert::kHandshakeFailure;
  // RFC 8422 5.1.2: a point format list without uncompressed is illegal_parameter.
  if (ch.has_point_formats &&
      std::find(ch.point_formats.begin(), ch.point_formats.end(), kPointUncompressed) ==
          ch.point_formats.end()) {
    return Alert::kIllegalParameter;
  }
  std::memcpy(st_.client_random.data(), ch.random.data(), kHelloRandomBytes);

  if (ch.has_sni) {
    if (ch.sni.size() > kMaxSniBytes) return Alert::kUnrecognizedName;  // RFC 6066 3
    std::memcpy(st_.sni.data(), ch.sni.data(), ch.sni.size());
    st_.sni_len = static_cast<uint8_t>(ch.sni.size());
  }
  ByteView alpn{};
  if (ch.has_alpn && !base().alpn_wire.empty()) {
    // RFC 7301 3.2: no overlap is fatal.
    if (!PickAlpn(ch.alpn_list, base().alpn_wire, alpn)) return Alert::kNoApplicationProtocol;
  }
  if (!alpn.empty()) std::memcpy(st_.alpn.data(), alpn.data(), alpn.size());
  st_.alpn_len = static_cast<uint8_t>(alpn.size());

  // Resumption first (RFC 5077 3.4: a valid ticket wins over the session id).
  if (TryResume(ch.session_id, ch.has_session_ticket, ch.ticket, ch.cipher_suites,
                {ch.has_sni ? ch.sni.data() : nullptr, ch.has_sni ? ch.sni.size() : 0})) {
    return SendResumedFlight(msg, ch.has_point_formats, to_peer);
  }

  // Suite and credential, server preference: the first suite the client offers for which
  // a credential of its kind (chosen by SNI as for TLS 1.3, credentials.h) can sign with
  // a scheme the client accepts.
  const std::string_view sni_name(st_.sni.data(), st_.sni_len);
  uint16_t scheme = 0;
  Suite12Params params{};
  for (const Tls12Suite suite : config_->suites) {
    const uint16_t wire = static_cast<uint16_t>(suite);
    if (!ListHas(ch.cipher_suites, wire) || !LookupSuite12(wire, params)) continue;
    // RFC 8422 5.1.1 / 2.3: in TLS 1.2 the client's supported_groups also constrains the
    // curve of an ECDSA certificate (libssl enforces it: "wrong curve").
    if (params.ecdsa && ch.has_supported_groups &&
        !ListHas(ch.supported_groups, static_cast<uint16_t>(NamedGroup::kSecp256r1))) {
      continue;
    }
    // ChooseCredential speaks TLS 1.3 schemes: ask for a key that can do the suite's
    // kind, then pick the TLS 1.2 scheme for it.
    const uint16_t kind = params.ecdsa
                              ? static_cast<uint16_t>(SignatureScheme::kEcdsaSecp256r1Sha256)
                              : static_cast<uint16_t>(SignatureScheme::kRsaPssRsaeSha256);
    const std::array<uint8_t, 2> wanted = {static_cast<uint8_t>(kind >> 8),
                                           static_cast<uint8_t>(kind)};
    const std::optional<CredentialChoice> choice =
        ChooseCredential(base().credentials, sni_name, wanted);
    if (!choice) continue;
    scheme = PickScheme(base().credentials[choice->index].key, ch.signature_algorithms);
    if (scheme != 0) {
      st_.credential = choice->index;
      st_.suite = wire;
      break;
    }
  }
  // No CBC, no static RSA: a client without a common ECDHE AEAD suite ends here.
  if (scheme == 0) return Alert::kHandshakeFailure;

  // Group: our preference among the client's supported_groups. RFC 8422 4: without the
  // extension the server may choose any curve.
  for (const NamedGroup g : base().groups) {
    if (g != NamedGroup::kX25519 && g != NamedGroup::kSecp256r1) continue;  // ours for 1.2
    if (!ch.has_supported_groups || ListHas(ch.supported_groups, static_cast<uint16_t>(g))) {
      st_.group = static_cast<uint16_t>(g);
      break;
    }
  }
  if (st_.group == 0) return Alert::kHandshakeFailure;

  st_.issue_ticket = ch.has_session_ticket && !config_->ticket_keys.empty();
  // A session id only when the session will be cached by id; a ticket makes it redundant
  // (RFC 5077 3.4 lets the server send an empty id with a ticket).
  st_.session_id_len = 0;
  if (config_->session_cache != nullptr && !st_.issue_ticket) {
    const RandomFn random = base().random != nullptr ? base().random : &DefaultRandom;
    if (!random(base().random_ctx, st_.session_id.data(), kMaxSessionIdBytes)) {
      return Alert::kInternalError;
    }
    st_.session_id_len = kMaxSessionIdBytes;
  }
  st_.transcript.Reset(params.prf_hash);
  st_.transcript.Update(msg);
  return SendFullFlight(scheme, ch.has_point_formats, to_peer);
}

bool Tls12Server::TryResume(ByteView session_id, bool has_ticket, ByteView ticket,
                            ByteView client_suites, ByteView sni) noexcept {
  Tls12Session session;
  WipeOnExit wipe(&session, sizeof(session));
  bool found = false;
  uint32_t lifetime_s = 0;
  if (has_ticket && !ticket.empty() && !config_->ticket_keys.empty()) {
    found = OpenTls12Ticket(*ctx_, config_->ticket_keys, ticket, session);
    lifetime_s = config_->ticket_lifetime_s;
  }
  if (!found && config_->session_cache != nullptr && !session_id.empty()) {
    found = config_->session_cache->Get(session_id, session);
    lifetime_s = config_->session_lifetime_s;
  }
  if (!found) return false;
  // Age check. A session stamped in the future (clocks of two boxes) counts as new.
  const uint64_t now_s = NowSeconds();
  if (now_s > session.created_s && now_s - session.created_s > lifetime_s) return false;
  // RFC 5246 7.4.1.2: the resumed suite must be in the client's list (and still ours).
  Suite12Params params{};
  if (!ListHas(client_suites, session.suite) || !LookupSuite12(session.suite, params) ||
      std::find(config_->suites.begin(), config_->suites.end(),
                static_cast<Tls12Suite>(session.suite)) == config_->suites.end()) {
    return false;
  }
  // RFC 6066 3: "A server ... MUST NOT accept the request to resume the session if the
  // server_name extension contains a different name."
  if (sni.size() != session.sni_len || !std::equal(sni.begin(), sni.end(), session.sni.begin())) {
    return false;
  }
  st_.suite = session.suite;
  st_.group = 0;
  st_.resumed = true;
  st_.master_secret = session.master_secret;
  // RFC 5077 3.4: with a ticket, echo the client's session id; with an id, it is the id.
  st_.session_id_len = static_cast<uint8_t>(session_id.size());
  if (!session_id.empty()) std::memcpy(st_.session_id.data(), session_id.data(), session_id.size());
  st_.issue_ticket = false;  // we do not renew tickets on resumption
  return true;
}

Tls12Session Tls12Server::MakeSession() const noexcept {
  Tls12Session s;
  s.suite = st_.suite;
  s.created_s = NowSeconds();
  s.master_secret = st_.master_secret;
  s.sni_len = st_.sni_len;
  std::memcpy(s.sni.data(), st_.sni.data(), st_.sni_len);
  return s;
}

// ServerHello and its extensions, into flight_ (cleared). Shared by both flights.
namespace {

bool WriteServerHello(Writer& w, const Tls12ServerState& st, bool point_formats) {
  const size_t m = BeginMessage(w, static_cast<HsType>(kServerHello));
  w.U16(kTls12);
  w.Bytes(st.server_random);
  w.U8(st.session_id_len);
  w.Bytes({st.session_id.data(), st.session_id_len});
  w.U16(st.suite);
  w.U8(0);  // compression null
  const size_t exts = w.Begin(2);
  if (st.secure_renegotiation) {
    // RFC 5746 3.6: an empty renegotiated_connection on the initial handshake.
    WriteExtensionHeader(w, kExtRenegotiationInfo, 1);
    w.U8(0);
  }
  WriteExtensionHeader(w, kExtExtendedMasterSecret, 0);  // RFC 7627 5.2
  if (point_formats) {
    WriteExtensionHeader(w, kExtEcPointFormats, 2);  // RFC 8422 5.2: uncompressed only
    w.U8(1);
    w.U8(kPointUncompressed);
  }
  if (st.issue_ticket) WriteExtensionHeader(w, kExtSessionTicket, 0);  // RFC 5077 3.2
  if (st.alpn_len != 0) {
    w.U16(kExtAlpn);
    const size_t e = w.Begin(2);
    const size_t list = w.Begin(2);
    w.U8(st.alpn_len);
    w.Bytes({reinterpret_cast<const uint8_t*>(st.alpn.data()), st.alpn_len});
    if (!w.End(list) || !w.End(e)) return false;
  }
  return w.End(exts) && w.End(m);
}

}  // namespace

Step Tls12Server::SendFullFlight(uint16_t scheme, bool point_formats,
                                 OutputSink& to_peer) noexcept {
  const RandomFn random = base().random != nullptr ? base().random : &DefaultRandom;
  if (!random(base().random_ctx, st_.server_random.data(), st_.server_random.size())) {
    return Alert::kInternalError;
  }
  if (config_->tls13_enabled) {
    std::memcpy(st_.server_random.data() + kHelloRandomBytes - kDowngradeTls12.size(),
                kDowngradeTls12.data(), kDowngradeTls12.size());
  }
  // Our ephemeral key: the private part stays in the state for the ClientKeyExchange, the
  // public part is only sent.
  std::array<uint8_t, kMaxKeySharePublicBytes> ecdhe_public{};
  uint8_t ecdhe_public_len = 0;
  if (const Step s = MakeEphemeralKey(static_cast<NamedGroup>(st_.group), random,
                                      base().random_ctx, st_.ecdhe_private, st_.ecdhe_private_len,
                                      ecdhe_public, ecdhe_public_len);
      !s.ok) {
    return s;
  }

  flight_.clear();
  Writer w(flight_);
  if (!WriteServerHello(w, st_, point_formats)) return Alert::kInternalError;

  // Certificate (RFC 5246 7.4.2): certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>.
  const Credential& cred = base().credentials[st_.credential];
  size_t m = BeginMessage(w, static_cast<HsType>(kCertificate));
  const size_t list = w.Begin(3);
  for (const std::vector<uint8_t>& der : cred.chain_der) {
    const size_t entry = w.Begin(3);
    w.Bytes(der);
    if (!w.End(entry)) return Alert::kInternalError;
  }
  if (!w.End(list) || !w.End(m)) return Alert::kInternalError;

  // ServerKeyExchange (RFC 8422 5.4): ServerECDHParams, then the signature.
  m = BeginMessage(w, static_cast<HsType>(kServerKeyExchange));
  const size_t params_at = w.size();
  w.U8(kCurveTypeNamed);
  w.U16(st_.group);
  w.U8(ecdhe_public_len);
  w.Bytes({ecdhe_public.data(), ecdhe_public_len});
  std::vector<uint8_t> signed_data;
  signed_data.reserve(2 * kHelloRandomBytes + 4 + ecdhe_public_len);
  signed_data.insert(signed_data.end(), st_.client_random.begin(), st_.client_random.end());
  signed_data.insert(signed_data.end(), st_.server_random.begin(), st_.server_random.end());
  signed_data.insert(signed_data.end(), flight_.begin() + static_cast<long>(params_at), flight_.end());
  std::vector<uint8_t> signature;
  if (const Step s = SignParams(cred.key, scheme, signed_data, signature); !s.ok) return s;
  w.U16(scheme);  // RFC 5246 4.7 DigitallySigned: SignatureAndHashAlgorithm
  const size_t sig = w.Begin(2);
  w.Bytes(signature);
  if (!w.End(sig) || !w.End(m)) return Alert::kInternalError;

  // ServerHelloDone (RFC 5246 7.4.5).
  m = BeginMessage(w, static_cast<HsType>(kServerHelloDone));
  if (!w.End(m)) return Alert::kInternalError;

  st_.transcript.Update(flight_);
  if (const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer); !s.ok) return s;
  st_.hs = Hs12State::kExpectClientKeyExchange;
  return Step::Continue();
}

Step Tls12Server::SendResumedFlight(ByteView client_hello, bool point_formats,
                                    OutputSink& to_peer) noexcept {
  const RandomFn random = base().random != nullptr ? base().random : &DefaultRandom;
  if (!random(base().random_ctx, st_.server_random.data(), st_.server_random.size())) {
    return Alert::kInternalError;
  }
  if (config_->tls13_enabled) {
    std::memcpy(st_.server_random.data() + kHelloRandomBytes - kDowngradeTls12.size(),
                kDowngradeTls12.data(), kDowngradeTls12.size());
  }
  Suite12Params params{};
  if (!LookupSuite12(st_.suite, params)) return Alert::kInternalError;
  st_.transcript.Reset(params.prf_hash);
  st_.transcript.Update(client_hello);
  flight_.clear();
  Writer w(flight_);
  if (!WriteServerHello(w, st_, point_formats)) return Alert::kInternalError;
  st_.transcript.Update(flight_);
  if (const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer); !s.ok) return s;
  // RFC 5246 7.3 (abbreviated handshake): the server sends ChangeCipherSpec and Finished
  // first; the client answers with its own.
  if (const Step s = DeriveKeys(); !s.ok) return s;
  if (const Step s = SendChangeCipherSpecAndFinished(to_peer); !s.ok) return s;
  st_.hs = Hs12State::kExpectChangeCipherSpec;
  return Step::Continue();
}

Step Tls12Server::DeriveKeys() noexcept {
  Suite12Params params{};
  if (!LookupSuite12(st_.suite, params)) return Alert::kInternalError;
  if (!Ok(KeyBlock12(params, st_.master_secret, st_.client_random, st_.server_random,
                     st_.read_key, st_.write_key))) {
    return Alert::kInternalError;
  }
  read_ready_ = false;
  write_ready_ = false;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// The client's flight

Step Tls12Server::OnClientKeyExchange(ByteView msg) noexcept {
  // RFC 8422 5.7: ClientECDiffieHellmanPublic: opaque point <1..2^8-1>.
  Reader r(msg.subspan(kHandshakeHeaderBytes));
  const ByteView point = r.Vec8();
  if (!r.ok() || !r.empty() || point.empty()) return Alert::kDecodeError;
  std::array<uint8_t, kMaxSharedSecretBytes> shared{};
  WipeOnExit wipe(shared.data(), shared.size());
  uint8_t shared_len = 0;
  if (const Step s = DeriveSharedSecret(static_cast<NamedGroup>(st_.group),
                                        {st_.ecdhe_private.data(), st_.ecdhe_private_len}, point,
                                        shared, shared_len);
      !s.ok) {
    return s;
  }
  SecureWipe(st_.ecdhe_private.data(), st_.ecdhe_private.size());
  st_.ecdhe_private_len = 0;
  // RFC 7627 4: session_hash = Hash(ClientHello .. ClientKeyExchange).
  st_.transcript.Update(msg);
  Digest session_hash;
  st_.transcript.Current(session_hash);
  if (!Ok(ExtendedMasterSecret(st_.transcript.alg(), {shared.data(), shared_len},
                               session_hash.view(), st_.master_secret))) {
    return Alert::kInternalError;
  }
  if (const Step s = DeriveKeys(); !s.ok) return s;
  st_.hs = Hs12State::kExpectChangeCipherSpec;
  return Step::Continue();
}

Step Tls12Server::OnClientFinished(ByteView msg, OutputSink& to_peer) noexcept {
  const ByteView body = msg.subspan(kHandshakeHeaderBytes);
  Digest th;
  st_.transcript.Current(th);
  std::array<uint8_t, kVerifyDataBytes> expected{};
  if (!Ok(VerifyData12(st_.transcript.alg(), st_.master_secret, true, th.view(), expected))) {
    return Alert::kInternalError;
  }
  if (body.size() != expected.size()) return Alert::kDecodeError;
  // RFC 5246 7.4.9: a wrong verify_data is decrypt_error.
  if (CRYPTO_memcmp(body.data(), expected.data(), expected.size()) != 0) {
    return Alert::kDecryptError;
  }
  st_.transcript.Update(msg);
  if (!st_.resumed) {
    if (st_.issue_ticket) {
      if (const Step s = SendNewSessionTicket(to_peer); !s.ok) return s;
    }
    if (const Step s = SendChangeCipherSpecAndFinished(to_peer); !s.ok) return s;
    if (config_->session_cache != nullptr && st_.session_id_len != 0) {
      Tls12Session session = MakeSession();
      config_->session_cache->Put({st_.session_id.data(), st_.session_id_len}, session);
      session.Wipe();
    }
  }
  st_.hs = Hs12State::kConnected;
  return Step::Continue();
}

Step Tls12Server::SendNewSessionTicket(OutputSink& to_peer) noexcept {
  Tls12Session session = MakeSession();
  std::vector<uint8_t> ticket;
  const RandomFn random = base().random != nullptr ? base().random : &DefaultRandom;
  const bool sealed =
      SealTls12Ticket(*ctx_, config_->ticket_keys[0], session, random, base().random_ctx, ticket);
  session.Wipe();
  // RFC 5077 3.3: having promised a ticket we must send the message; an empty ticket
  // says "no ticket after all".
  if (!sealed) ticket.clear();
  flight_.clear();
  Writer w(flight_);
  const size_t m = BeginMessage(w, static_cast<HsType>(kNewSessionTicket));
  w.U8(static_cast<uint8_t>(config_->ticket_lifetime_s >> 24));  // ticket_lifetime_hint
  w.U8(static_cast<uint8_t>(config_->ticket_lifetime_s >> 16));
  w.U16(static_cast<uint16_t>(config_->ticket_lifetime_s));
  const size_t t = w.Begin(2);
  w.Bytes(ticket);
  if (!w.End(t) || !w.End(m)) return Alert::kInternalError;
  st_.transcript.Update(flight_);
  return SendRecords(ContentType::kHandshake, flight_, to_peer);
}

Step Tls12Server::SendChangeCipherSpecAndFinished(OutputSink& to_peer) noexcept {
  const uint8_t one = 1;
  if (const Step s = SendRecords(ContentType::kChangeCipherSpec, {&one, 1}, to_peer); !s.ok) {
    return s;
  }
  st_.write_protected = true;
  st_.write_seq = 0;
  Digest th;
  st_.transcript.Current(th);
  std::array<uint8_t, kVerifyDataBytes> verify{};
  if (!Ok(VerifyData12(st_.transcript.alg(), st_.master_secret, false, th.view(), verify))) {
    return Alert::kInternalError;
  }
  std::array<uint8_t, kHandshakeHeaderBytes + kVerifyDataBytes> fin = {kFinished, 0, 0,
                                                                       kVerifyDataBytes};
  std::memcpy(fin.data() + kHandshakeHeaderBytes, verify.data(), verify.size());
  st_.transcript.Update(fin);
  return SendRecords(ContentType::kHandshake, fin, to_peer);
}

Step Tls12Server::OnRenegotiation(OutputSink& to_peer) noexcept {
  // Renegotiation is refused (docs/TLS.md): RFC 5246 7.2.2 no_renegotiation is a warning
  // and the client may carry on with the current session. Repeated attempts are hostile
  // (STYLE.md 12): beyond the budget the session ends.
  ++st_.glitches;
  if (++st_.refused_renegotiations > config_->max_refused_renegotiations) {
    return Alert::kUnexpectedMessage;
  }
  return SendAlert(kAlertLevelWarning, kNoRenegotiation, to_peer);
}

Step Tls12Server::OnAlert(ByteView content, OutputSink& to_peer) noexcept {
  // RFC 5246 7.2: struct { AlertLevel level; AlertDescription description; }. We do not
  // reassemble alerts split over records (RFC 8446 forbids it; TLS 1.2 peers never do).
  if (content.size() != 2) return Alert::kDecodeError;
  const uint8_t level = content[0];
  const Alert desc = static_cast<Alert>(content[1]);
  if (level != kAlertLevelWarning && level != kAlertLevelFatal) return Alert::kIllegalParameter;
  st_.has_alert_received = true;
  st_.alert_received = desc;
  if (desc == Alert::kCloseNotify) {
    // RFC 5246 7.2.1: "The other party MUST respond with a close_notify alert of its own
    // and close down the connection immediately, discarding any pending writes."
    st_.peer_closed = true;
    if (!st_.close_sent) {
      st_.close_sent = true;
      if (const Step s = SendAlert(kAlertLevelWarning, Alert::kCloseNotify, to_peer); !s.ok) {
        return s;
      }
    }
    st_.hs = Hs12State::kClosed;
    return Step::Continue();
  }
  if (level == kAlertLevelFatal) {
    st_.hs = Hs12State::kClosed;  // RFC 5246 7.2: close without answering
    return Step::Continue();
  }
  // Warnings (user_canceled, no_renegotiation, ...) are ignored, within a budget.
  ++st_.glitches;
  if (++st_.warning_alerts > config_->max_warning_alerts) return Alert::kUnexpectedMessage;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// Output

Step Tls12Server::SendRecords(ContentType type, ByteView data, OutputSink& to_peer) noexcept {
  do {
    const ByteView chunk = data.first(std::min(data.size(), kMaxPlaintextBytes));
    data = data.subspan(chunk.size());
    size_t written = 0;
    RecordStatus rs;
    if (st_.write_protected && type != ContentType::kChangeCipherSpec) {
      if (!WriteKeyReady() || st_.write_seq == UINT64_MAX) return Alert::kInternalError;
      rs = Protect12(*ctx_, write_aead_, st_.write_seq, type, chunk, out_buf_, written);
      if (rs == RecordStatus::kOk) ++st_.write_seq;
    } else {
      rs = WritePlaintextRecord(type, chunk, out_buf_, written);
    }
    if (rs != RecordStatus::kOk) return Alert::kInternalError;
    if (!to_peer.Append({out_buf_.data(), written})) return Alert::kInternalError;
  } while (!data.empty());
  return Step::Continue();
}

Step Tls12Server::SendAlert(uint8_t level, Alert alert, OutputSink& to_peer) noexcept {
  const std::array<uint8_t, 2> msg = {level, static_cast<uint8_t>(alert)};
  return SendRecords(ContentType::kAlert, msg, to_peer);
}

TlsStatus Tls12Server::WriteApp(ByteView plain, OutputSink& to_peer) noexcept {
  if (st_.hs != Hs12State::kConnected || st_.close_sent) return TlsStatus::kFailed;
  if (plain.empty()) return TlsStatus::kOk;
  const Step s = SendRecords(ContentType::kApplicationData, plain, to_peer);
  return s.ok ? TlsStatus::kOk : Fail(s.alert, to_peer);
}

TlsStatus Tls12Server::Close(OutputSink& to_peer) noexcept {
  if (st_.hs == Hs12State::kClosed) return Status() == TlsStatus::kFailed ? TlsStatus::kFailed
                                                                          : TlsStatus::kClosed;
  if (!st_.close_sent) {
    st_.close_sent = true;
    if (!SendAlert(kAlertLevelWarning, Alert::kCloseNotify, to_peer).ok) {
      st_.hs = Hs12State::kClosed;
      return TlsStatus::kFailed;
    }
  }
  // TLS 1.2 has no half-close: once we said close_notify we read nothing more either
  // (RFC 5246 7.2.1 lets the initiator close without waiting for the reply).
  st_.hs = Hs12State::kClosed;
  return TlsStatus::kClosed;
}

TlsStatus Tls12Server::Fail(Alert alert, OutputSink& to_peer) noexcept {
  st_.has_alert_sent = true;
  st_.alert_sent = alert;
  if (!st_.close_sent) {
    st_.close_sent = true;
    (void)SendAlert(kAlertLevelFatal, alert, to_peer);  // best effort; we close anyway
  }
  st_.hs = Hs12State::kClosed;
  return TlsStatus::kFailed;
}

}  // namespace baton::crypto::tls
