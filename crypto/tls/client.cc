#include "crypto/tls/client.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "crypto/key_schedule.h"
#include "crypto/secure_wipe.h"
#include "crypto/tls/verify.h"

namespace baton::crypto::tls {
namespace {

constexpr uint8_t kAlertLevelWarning = 1;
constexpr uint8_t kAlertLevelFatal = 2;
// RFC 8446 4.6.3: KeyUpdateRequest values.
constexpr uint8_t kUpdateNotRequested = 0;
constexpr uint8_t kUpdateRequested = 1;
// RFC 6066 3 / RFC 1035 2.3.4: a DNS host name is at most 253 octets (255 on the wire).
constexpr size_t kMaxServerNameBytes = 255;

bool Ok(CryptoStatus s) noexcept { return s == CryptoStatus::kOk; }

uint32_t Load24(const uint8_t* p) noexcept { return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]; }

bool SameBytes(ByteView a, ByteView b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// RFC 6066 3: "Literal IPv4 and IPv6 addresses are not permitted in "HostName"". A name of
// digits and dots only, or one with a colon, is an address literal (no top-level domain
// is all-numeric).
bool IsAddressLiteral(std::string_view name) noexcept {
  if (name.find(':') != std::string_view::npos) return true;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

bool IsImplementedGroup(NamedGroup g) noexcept {
  return g == NamedGroup::kX25519 || g == NamedGroup::kSecp256r1;
}

// Our share for `group`. ShareKeyPair keeps no private length: kSharePrivateBytes is the
// scalar size of every group IsImplementedGroup lets a config name.
Step MakeShare(NamedGroup group, RandomFn random, void* random_ctx, ShareKeyPair& key) noexcept {
  key = ShareKeyPair{};
  uint8_t private_len = 0;
  return MakeEphemeralKey(group, random, random_ctx, key.private_key, private_len, key.public_key,
                          key.public_len);
}

}  // namespace

void TlsClientState::Wipe() noexcept {
  for (ClientKeyShare& s : shares) SecureWipe(s.key.private_key.data(), s.key.private_key.size());
  read_key.Wipe();
  write_key.Wipe();
  client_hs_secret.Wipe();
  server_hs_secret.Wipe();
  master_secret.Wipe();
  client_app_secret.Wipe();
  server_app_secret.Wipe();
  resumption_secret.Wipe();
  ticket.psk.Wipe();
  SecureWipe(record.bytes.data(), record.bytes.size());
  SecureWipe(hs_buf.data(), hs_buf.size());
}

TlsClient::TlsClient(const TlsClientConfig& config, CryptoContext& ctx) noexcept
    : config_(&config), ctx_(&ctx) {
  st_.key_update_credit = config.max_key_update_credit;
}

TlsClient::TlsClient(const TlsClientConfig& config, CryptoContext& ctx,
                     const TlsClientState& state) noexcept
    : config_(&config), ctx_(&ctx), st_(state) {}

TlsClient::~TlsClient() { st_.Wipe(); }

std::optional<Alert> TlsClient::alert_sent() const noexcept {
  return st_.has_alert_sent ? std::optional<Alert>(st_.alert_sent) : std::nullopt;
}

std::optional<Alert> TlsClient::alert_received() const noexcept {
  return st_.has_alert_received ? std::optional<Alert>(st_.alert_received) : std::nullopt;
}

AeadAlg TlsClient::aead() const noexcept {
  SuiteParams p{};
  (void)LookupSuite(st_.suite, p);
  return p.aead;
}

bool TlsClient::ReadKeyReady() noexcept {
  if (!read_ready_) read_ready_ = Ok(ctx_->Expand(st_.read_key, read_aead_));
  return read_ready_;
}

bool TlsClient::WriteKeyReady() noexcept {
  if (!write_ready_) write_ready_ = Ok(ctx_->Expand(st_.write_key, write_aead_));
  return write_ready_;
}

bool TlsClient::Offered(CipherSuite suite) const noexcept {
  return std::find(config_->suites.begin(), config_->suites.end(), suite) != config_->suites.end();
}

bool TlsClient::OfferedGroup(uint16_t group) const noexcept {
  for (const NamedGroup g : config_->groups) {
    if (static_cast<uint16_t>(g) == group && IsImplementedGroup(g)) return true;
  }
  return false;
}

bool TlsClient::SniSent() const noexcept {
  return !config_->server_name.empty() && !IsAddressLiteral(config_->server_name);
}

// ---------------------------------------------------------------------------------------
// ClientHello

TlsStatus TlsClient::Start(OutputSink& to_peer) noexcept {
  if (st_.hs != ClientHsState::kStart) return TlsStatus::kFailed;
  // A config that cannot make a handshake fails here, before anything is sent.
  SuiteParams params{};
  const bool suite_ok = std::any_of(config_->suites.begin(), config_->suites.end(), [&](CipherSuite s) {
    return LookupSuite(static_cast<uint16_t>(s), params);
  });
  const bool groups_ok = !config_->groups.empty() && config_->key_shares >= 1 &&
                         std::all_of(config_->groups.begin(), config_->groups.end(), IsImplementedGroup);
  const bool schemes_ok = std::any_of(config_->signature_schemes.begin(),
                                      config_->signature_schemes.end(), IsCertificateVerifyScheme);
  const bool host_ok = config_->server_name.size() <= kMaxServerNameBytes &&
                       (config_->trust == nullptr || !config_->check_host_name ||
                        !config_->server_name.empty());
  if (!suite_ok || !groups_ok || !schemes_ok || !host_ok) {
    st_.hs = ClientHsState::kClosed;
    return TlsStatus::kFailed;
  }

  const RandomFn random = config_->random != nullptr ? config_->random : &DefaultRandom;
  // RFC 8446 D.4: in compatibility mode legacy_session_id is 32 fresh random bytes.
  st_.session_id_len = config_->middlebox_compat ? static_cast<uint8_t>(kMaxLegacySessionIdBytes) : 0;
  if (!random(config_->random_ctx, st_.random.data(), st_.random.size()) ||
      !random(config_->random_ctx, st_.session_id.data(), st_.session_id_len)) {
    return Fail(Alert::kInternalError, to_peer);
  }
  // Shares for the first groups (no two for one group: RFC 8446 4.2.8).
  st_.share_count = 0;
  for (const NamedGroup g : config_->groups) {
    if (st_.share_count == std::min<size_t>(config_->key_shares, kMaxClientKeyShares)) break;
    bool dup = false;
    for (size_t i = 0; i < st_.share_count; ++i) dup = dup || st_.shares[i].group == static_cast<uint16_t>(g);
    if (dup) continue;
    ClientKeyShare& s = st_.shares[st_.share_count];
    s.group = static_cast<uint16_t>(g);
    if (const Step r = MakeShare(g, random, config_->random_ctx, s.key); !r.ok) return Fail(r.alert, to_peer);
    ++st_.share_count;
  }
  if (const Step s = SendClientHello({}, to_peer); !s.ok) return Fail(s.alert, to_peer);
  st_.hs = ClientHsState::kExpectServerHello;
  return TlsStatus::kOk;
}

Step TlsClient::SendClientHello(ByteView cookie, OutputSink& to_peer) noexcept {
  // HEAP: lists for the builder, once or twice per handshake.
  std::vector<uint16_t> suites, groups;
  for (const CipherSuite s : config_->suites) {
    SuiteParams p{};
    if (LookupSuite(static_cast<uint16_t>(s), p)) suites.push_back(static_cast<uint16_t>(s));
  }
  for (const NamedGroup g : config_->groups) groups.push_back(static_cast<uint16_t>(g));
  std::array<OfferedShare, kMaxClientKeyShares> shares{};
  for (size_t i = 0; i < st_.share_count; ++i) {
    shares[i] = {st_.shares[i].group, {st_.shares[i].key.public_key.data(), st_.shares[i].key.public_len}};
  }
  ClientHelloParams p;
  p.random = st_.random;
  p.session_id = {st_.session_id.data(), st_.session_id_len};
  p.suites = suites;
  p.groups = groups;
  p.shares = {shares.data(), st_.share_count};
  p.schemes = config_->signature_schemes;
  if (SniSent()) p.server_name = config_->server_name;
  p.alpn_wire = config_->alpn_wire;
  p.cookie = cookie;
  flight_.clear();
  if (!BuildClientHello(p, flight_)) return Alert::kInternalError;
  st_.transcript.Update(flight_);
  // The suite (so the hash) is unknown until the server answers the first ClientHello.
  if (!st_.retried) st_.transcript_sha384.Update(flight_);
  return SendRecords(ContentType::kHandshake, flight_, to_peer);
}

Step TlsClient::SendCompatCcs(OutputSink& to_peer) noexcept {
  // RFC 8446 D.4: the client "sends a dummy change_cipher_spec record immediately before
  // its second flight. This may either be before its second ClientHello or before its
  // encrypted handshake flight." Once, and always in the clear (RFC 8446 5).
  if (!config_->middlebox_compat || st_.ccs_sent) return Step::Continue();
  const uint8_t one = 1;
  size_t written = 0;
  if (WritePlaintextRecord(ContentType::kChangeCipherSpec, {&one, 1}, out_buf_, written) !=
          RecordStatus::kOk ||
      !to_peer.Append({out_buf_.data(), written})) {
    return Alert::kInternalError;
  }
  st_.ccs_sent = true;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// Input

TlsStatus TlsClient::Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept {
  while (true) {
    if (st_.hs == ClientHsState::kClosed) {
      return st_.has_alert_sent || (st_.has_alert_received &&
                                    st_.alert_received != Alert::kCloseNotify)
                 ? TlsStatus::kFailed
                 : TlsStatus::kClosed;
    }
    // RFC 8446 6.1: "Any data received after a closure alert has been received MUST be
    // ignored."
    if (st_.peer_closed) return TlsStatus::kClosed;
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

Step TlsClient::OnRecord(OutputSink& to_peer, OutputSink& app) noexcept {
  const RecordHeader hdr = st_.record.header;
  const MutByteView body = st_.record.body();
  switch (hdr.type) {
    case ContentType::kChangeCipherSpec:
      // RFC 8446 5: a change_cipher_spec "consisting of the single byte value 0x01" received
      // after our first ClientHello and before the server's Finished is dropped; another
      // value or another time is unexpected_message. D.4: a server sends exactly one.
      if (body.size() != 1 || body[0] != 1 || st_.ccs_received ||
          st_.hs == ClientHsState::kStart || st_.hs == ClientHsState::kConnected) {
        return Alert::kUnexpectedMessage;
      }
      st_.ccs_received = true;
      return Step::Continue();
    case ContentType::kHandshake:
      // After the ServerHello every handshake message is protected.
      if (st_.read_protected) return Alert::kUnexpectedMessage;
      return OnContent(hdr.type, body, to_peer, app);
    case ContentType::kAlert:
      // A server that cannot process our ClientHello has no keys and alerts in the clear.
      if (st_.hs == ClientHsState::kConnected) return Alert::kUnexpectedMessage;
      return OnContent(hdr.type, body, to_peer, app);
    case ContentType::kApplicationData:
      break;
    case ContentType::kInvalid:
      return Alert::kUnexpectedMessage;
  }
  // We never send early data, so nothing protected can precede the ServerHello.
  if (!st_.read_protected) return Alert::kUnexpectedMessage;
  if (!ReadKeyReady()) return Alert::kInternalError;
  // RFC 8446 5.3: a sequence number must never wrap.
  if (st_.read_seq == UINT64_MAX) return Alert::kInternalError;
  ContentType inner = ContentType::kInvalid;
  MutByteView content;
  const RecordStatus rs = Unprotect(*ctx_, read_aead_, st_.read_seq, st_.record.record(), inner,
                                    content);
  if (rs != RecordStatus::kOk) return AlertFor(rs);
  ++st_.read_seq;
  // RFC 8446 5: "An implementation which receives ... a protected change_cipher_spec record
  // MUST abort the handshake with an "unexpected_message" alert."
  if (inner == ContentType::kChangeCipherSpec) return Alert::kUnexpectedMessage;
  // RFC 8446 5.1: no zero-length handshake fragments, inside protection too.
  if (inner == ContentType::kHandshake && content.empty()) return Alert::kUnexpectedMessage;
  return OnContent(inner, content, to_peer, app);
}

Step TlsClient::OnContent(ContentType type, ByteView content, OutputSink& to_peer,
                          OutputSink& app) noexcept {
  // RFC 8446 5.1: "Handshake messages MUST NOT be interleaved with other record types."
  if (st_.hs_fill != 0 && type != ContentType::kHandshake) return Alert::kUnexpectedMessage;
  switch (type) {
    case ContentType::kHandshake:
      return OnHandshakeBytes(content, to_peer);
    case ContentType::kAlert:
      return OnAlert(content);
    case ContentType::kApplicationData:
      if (st_.hs != ClientHsState::kConnected) return Alert::kUnexpectedMessage;
      if (content.empty()) ++st_.glitches;  // legal (RFC 8446 5.1), but a flood is hostile
      if (++st_.records_since_credit >= config_->records_per_key_update) {
        st_.records_since_credit = 0;
        if (st_.key_update_credit < config_->max_key_update_credit) ++st_.key_update_credit;
      }
      if (!content.empty() && !app.Append(content)) return Alert::kInternalError;
      return Step::Continue();
    case ContentType::kChangeCipherSpec:
    case ContentType::kInvalid:
      break;
  }
  return Alert::kUnexpectedMessage;  // RFC 8446 5: unknown content types
}

Step TlsClient::OnHandshakeBytes(ByteView content, OutputSink& to_peer) noexcept {
  key_changed_ = false;
  while (!content.empty()) {
    const size_t take = std::min(content.size(), st_.hs_buf.size() - st_.hs_fill);
    std::memcpy(st_.hs_buf.data() + st_.hs_fill, content.data(), take);
    st_.hs_fill = static_cast<uint16_t>(st_.hs_fill + take);
    content = content.subspan(take);
    size_t start = 0;
    while (st_.hs_fill - start >= kHandshakeHeaderBytes) {
      const uint8_t* p = st_.hs_buf.data() + start;
      const uint32_t len = Load24(p + 1);
      // Larger messages do not fit the reassembly buffer (a Certificate chain of more than
      // 16 KiB; see docs/TLS.md). RFC 8446 names no alert for this.
      if (len > kMaxHandshakeMessageBytes) return Alert::kDecodeError;
      if (st_.hs_fill - start < kHandshakeHeaderBytes + len) break;
      const Step s = OnMessage(static_cast<HsType>(p[0]), {p, kHandshakeHeaderBytes + len}, to_peer);
      if (!s.ok) return s;
      start += kHandshakeHeaderBytes + len;
      // RFC 8446 5.1: messages before a key change must end their record, else
      // unexpected_message.
      if (key_changed_ && (start != st_.hs_fill || !content.empty())) {
        return Alert::kUnexpectedMessage;
      }
    }
    if (start > 0) {
      std::memmove(st_.hs_buf.data(), st_.hs_buf.data() + start, st_.hs_fill - start);
      st_.hs_fill = static_cast<uint16_t>(st_.hs_fill - start);
    }
  }
  return Step::Continue();
}

Step TlsClient::OnMessage(HsType type, ByteView msg, OutputSink& to_peer) noexcept {
  switch (st_.hs) {
    case ClientHsState::kExpectServerHello:
    case ClientHsState::kExpectRetriedServerHello:
      return type == HsType::kServerHello ? OnServerHello(msg, to_peer) : Alert::kUnexpectedMessage;
    case ClientHsState::kExpectEncryptedExtensions:
      return type == HsType::kEncryptedExtensions ? OnEncryptedExtensions(msg)
                                                  : Alert::kUnexpectedMessage;
    case ClientHsState::kExpectCertificate:
      // RFC 8446 2: CertificateRequest may come between EncryptedExtensions and Certificate.
      if (type == HsType::kCertificateRequest) return OnCertificateRequest(msg);
      return type == HsType::kCertificate ? OnCertificate(msg) : Alert::kUnexpectedMessage;
    case ClientHsState::kExpectCertificateVerify:
      return type == HsType::kCertificateVerify ? OnCertificateVerify(msg)
                                                : Alert::kUnexpectedMessage;
    case ClientHsState::kExpectServerFinished:
      return type == HsType::kFinished ? OnServerFinished(msg, to_peer) : Alert::kUnexpectedMessage;
    case ClientHsState::kConnected:
      // No post_handshake_auth was offered, so CertificateRequest is unexpected here too
      // (RFC 8446 4.6.2).
      if (type == HsType::kNewSessionTicket) return OnNewSessionTicket(msg);
      return type == HsType::kKeyUpdate ? OnKeyUpdate(msg, to_peer) : Alert::kUnexpectedMessage;
    case ClientHsState::kStart:
    case ClientHsState::kClosed:
      return Alert::kUnexpectedMessage;
  }
  return Alert::kInternalError;  // no default: -Werror=switch flags new states
}

// ---------------------------------------------------------------------------------------
// ServerHello and HelloRetryRequest

Step TlsClient::OnServerHello(ByteView msg, OutputSink& to_peer) noexcept {
  ServerHelloView sh;
  if (const Step s = ParseServerHello(msg.subspan(kHandshakeHeaderBytes), sh); !s.ok) return s;
  // RFC 8446 4.2.1: without supported_versions the server chose TLS 1.2 or older, which
  // we do not speak; "If the "supported_versions" extension in the ServerHello contains a
  // version not offered by the client or contains a version prior to TLS 1.3, the client
  // MUST abort the handshake with an "illegal_parameter" alert." legacy_version is then
  // ignored ("clients MUST ignore the ServerHello.legacy_version value").
  if (!sh.has_supported_versions) return Alert::kProtocolVersion;
  if (sh.version != kTls13) return Alert::kIllegalParameter;
  // RFC 8446 4.1.3: "A client which receives a legacy_session_id_echo field that does not
  // match what it sent in the ClientHello MUST abort the handshake with an
  // "illegal_parameter" alert."
  if (!SameBytes(sh.session_id, {st_.session_id.data(), st_.session_id_len})) {
    return Alert::kIllegalParameter;
  }
  // RFC 8446 4.1.3: "A client which receives a cipher suite that was not offered MUST
  // abort the handshake with an "illegal_parameter" alert."
  SuiteParams params{};
  if (!Offered(static_cast<CipherSuite>(sh.suite)) || !LookupSuite(sh.suite, params)) {
    return Alert::kIllegalParameter;
  }
  // RFC 8446 4.1.3: legacy_compression_method "MUST have the value 0".
  if (sh.compression != 0) return Alert::kIllegalParameter;

  if (sh.retry) {
    // RFC 8446 4.1.4: "If a client receives a second HelloRetryRequest in the same
    // connection ... it MUST abort the handshake with an "unexpected_message" alert."
    if (st_.hs == ClientHsState::kExpectRetriedServerHello) return Alert::kUnexpectedMessage;
    return OnHelloRetry(msg, sh, to_peer);
  }
  // RFC 8446 4.1.4: "the client MUST check that the ... cipher_suite is the same as that in
  // the HelloRetryRequest".
  if (st_.retried && sh.suite != st_.suite) return Alert::kIllegalParameter;
  // No PSK was offered, so the server must do (EC)DHE (RFC 8446 4.2.8, 9.2).
  if (!sh.has_key_share) return Alert::kMissingExtension;
  // RFC 8446 4.2.8: the server's share must be for a group we sent a share for (after a
  // HelloRetryRequest that is its selected_group only).
  const ClientKeyShare* ours = nullptr;
  for (size_t i = 0; i < st_.share_count; ++i) {
    if (st_.shares[i].group == sh.group) ours = &st_.shares[i];
  }
  if (ours == nullptr) return Alert::kIllegalParameter;

  if (!st_.retried && params.hash == HashAlg::kSha384) st_.transcript = st_.transcript_sha384;
  st_.transcript_sha384.Reset(HashAlg::kSha384);
  st_.transcript.Update(msg);
  st_.suite = sh.suite;
  st_.group = sh.group;

  std::array<uint8_t, kMaxSharedSecretBytes> shared{};
  uint8_t shared_len = 0;
  WipeOnExit wipe_shared(shared.data(), shared.size());
  if (const Step s = DeriveSharedSecret(static_cast<NamedGroup>(sh.group), ours->key.private_key,
                                        sh.key_exchange, shared, shared_len);
      !s.ok) {
    return s;
  }
  for (ClientKeyShare& s : st_.shares) SecureWipe(&s, sizeof(s));
  st_.share_count = 0;

  // RFC 8446 7.1: handshake secrets from Transcript-Hash(ClientHello...ServerHello).
  Secret early, handshake;
  WipeOnExit w1(&early, sizeof(early)), w2(&handshake, sizeof(handshake));
  Digest th;
  st_.transcript.Current(th);
  if (!Ok(EarlySecret(params.hash, {}, early)) ||
      !Ok(HandshakeSecret(early, {shared.data(), shared_len}, handshake)) ||
      !Ok(ClientHandshakeTrafficSecret(handshake, th.view(), st_.client_hs_secret)) ||
      !Ok(ServerHandshakeTrafficSecret(handshake, th.view(), st_.server_hs_secret)) ||
      !Ok(MasterSecret(handshake, st_.master_secret)) ||
      !Ok(DeriveTrafficKey(params.aead, st_.server_hs_secret, st_.read_key)) ||
      !Ok(DeriveTrafficKey(params.aead, st_.client_hs_secret, st_.write_key))) {
    return Alert::kInternalError;
  }
  // From here our alerts go out under the client handshake key, as the server expects.
  st_.read_seq = 0;
  st_.write_seq = 0;
  st_.read_protected = true;
  st_.write_protected = true;
  read_ready_ = false;
  write_ready_ = false;
  key_changed_ = true;  // the ServerHello must end its record (RFC 8446 5.1)
  st_.hs = ClientHsState::kExpectEncryptedExtensions;
  return Step::Continue();
}

Step TlsClient::OnHelloRetry(ByteView msg, const ServerHelloView& hrr, OutputSink& to_peer) noexcept {
  // RFC 8446 4.1.4: "Clients MUST abort the handshake with an "illegal_parameter" alert if
  // the HelloRetryRequest would not result in any change in the ClientHello."
  if (!hrr.has_key_share && !hrr.has_cookie) return Alert::kIllegalParameter;
  if (hrr.has_key_share) {
    // RFC 8446 4.2.8: "Clients MUST verify that the selected_group field corresponds to a
    // group which was provided in the "supported_groups" extension in the original
    // ClientHello and ... not a group for which a corresponding "key_share" was provided".
    if (!OfferedGroup(hrr.group)) return Alert::kIllegalParameter;
    for (size_t i = 0; i < st_.share_count; ++i) {
      if (st_.shares[i].group == hrr.group) return Alert::kIllegalParameter;
    }
  }
  SuiteParams params{};
  (void)LookupSuite(hrr.suite, params);  // checked by the caller

  // RFC 8446 4.4.1: the transcript restarts with message_hash = Hash(ClientHello1), in the
  // hash of the suite the server chose.
  Digest ch1;
  (params.hash == HashAlg::kSha384 ? st_.transcript_sha384 : st_.transcript).Current(ch1);
  st_.transcript.Reset(params.hash);
  st_.transcript_sha384.Reset(HashAlg::kSha384);
  const std::array<uint8_t, 4> synthetic_header = {static_cast<uint8_t>(HsType::kMessageHash), 0,
                                                   0, ch1.len};
  st_.transcript.Update(synthetic_header);
  st_.transcript.Update(ch1.view());
  st_.transcript.Update(msg);
  st_.suite = hrr.suite;
  st_.retried = true;

  if (hrr.has_key_share) {
    // RFC 8446 4.2.8: the second ClientHello carries a single share, for selected_group.
    for (ClientKeyShare& s : st_.shares) SecureWipe(&s, sizeof(s));
    st_.share_count = 0;
    ClientKeyShare& s = st_.shares[0];
    s.group = hrr.group;
    const RandomFn random = config_->random != nullptr ? config_->random : &DefaultRandom;
    if (const Step r = MakeShare(static_cast<NamedGroup>(hrr.group), random, config_->random_ctx, s.key);
        !r.ok) {
      return r;
    }
    st_.share_count = 1;
    st_.group = hrr.group;
  }
  // RFC 8446 D.4 lets the compatibility change_cipher_spec go before the second
  // ClientHello or before our encrypted flight. A cookie means the server may be stateless
  // and have forgotten our first ClientHello; libssl's SSL_stateless() then refuses a
  // change_cipher_spec that precedes the ClientHello. So with a cookie it waits for the
  // encrypted flight (OnServerFinished).
  if (!hrr.has_cookie) {
    if (const Step s = SendCompatCcs(to_peer); !s.ok) return s;
  }
  // RFC 8446 4.1.2: the same ClientHello, with the new key_share and the cookie echoed.
  if (const Step s = SendClientHello(hrr.cookie, to_peer); !s.ok) return s;
  st_.hs = ClientHsState::kExpectRetriedServerHello;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// The server's encrypted flight

Step TlsClient::OnEncryptedExtensions(ByteView msg) noexcept {
  EncryptedExtensionsView ee;
  if (const Step s = ParseEncryptedExtensions(msg.subspan(kHandshakeHeaderBytes),
                                              !config_->alpn_wire.empty(), SniSent(), ee);
      !s.ok) {
    return s;
  }
  st_.alpn_len = 0;
  if (ee.has_alpn) {
    // RFC 7301 3.2: the server selects one of the client's protocols; a name we did not
    // offer is a protocol violation. RFC 7301 names no alert for the client side; the
    // value is wrong, so illegal_parameter.
    if (!AlpnListHas(config_->alpn_wire, ee.alpn)) return Alert::kIllegalParameter;
    std::memcpy(st_.alpn.data(), ee.alpn.data(), ee.alpn.size());
    st_.alpn_len = static_cast<uint8_t>(ee.alpn.size());
  }
  st_.transcript.Update(msg);
  st_.hs = ClientHsState::kExpectCertificate;
  return Step::Continue();
}

Step TlsClient::OnCertificateRequest(ByteView msg) noexcept {
  // One CertificateRequest at most, before the Certificate (RFC 8446 2).
  if (st_.cert_requested) return Alert::kUnexpectedMessage;
  CertificateRequestView cr;
  if (const Step s = ParseCertificateRequest(msg.subspan(kHandshakeHeaderBytes), cr); !s.ok) {
    return s;
  }
  // RFC 8446 4.3.2: certificate_request_context "SHALL be zero length unless used for the
  // post-handshake authentication exchanges".
  if (!cr.context.empty()) return Alert::kIllegalParameter;
  st_.cert_requested = true;  // answered with an empty Certificate (we have none)
  st_.transcript.Update(msg);
  return Step::Continue();
}

Step TlsClient::OnCertificate(ByteView msg) noexcept {
  CertificateView cm;
  if (const Step s = ParseCertificate(msg.subspan(kHandshakeHeaderBytes), cm); !s.ok) return s;
  // RFC 8446 4.4.2: in server authentication certificate_request_context "SHALL be zero
  // length".
  if (!cm.context.empty()) return Alert::kIllegalParameter;
  // RFC 8446 4.4.2.4: "If the server supplies an empty Certificate message, the client MUST
  // abort the handshake with a "decode_error" alert."
  if (cm.count == 0) return Alert::kDecodeError;
  size_t key_len = 0;
  if (const Step s = LeafPublicKey(cm.certs[0], st_.peer_key, key_len); !s.ok) return s;
  st_.peer_key_len = static_cast<uint16_t>(key_len);
  if (config_->trust != nullptr) {
    ChainCheck check;
    check.store = config_->trust;
    check.host = config_->server_name;
    check.check_host = config_->check_host_name;
    check.time_s = config_->verify_time_s;
    if (const Step s = VerifyServerChain(check, {cm.certs.data(), cm.count}); !s.ok) return s;
  }
  st_.transcript.Update(msg);
  st_.hs = ClientHsState::kExpectCertificateVerify;
  return Step::Continue();
}

Step TlsClient::OnCertificateVerify(ByteView msg) noexcept {
  CertificateVerifyView cv;
  if (const Step s = ParseCertificateVerify(msg.subspan(kHandshakeHeaderBytes), cv); !s.ok) {
    return s;
  }
  // RFC 8446 4.4.3: the algorithm "MUST be one offered in the client's
  // "signature_algorithms" extension"; and "RSA signatures MUST use an RSASSA-PSS
  // algorithm". Anything else is illegal_parameter.
  const auto& offered = config_->signature_schemes;
  if (std::find(offered.begin(), offered.end(), cv.scheme) == offered.end() ||
      !IsCertificateVerifyScheme(cv.scheme)) {
    return Alert::kIllegalParameter;
  }
  Digest th;
  st_.transcript.Current(th);  // ClientHello...Certificate
  if (const Step s = VerifyServerSignature({st_.peer_key.data(), st_.peer_key_len}, cv.scheme,
                                           th.view(), cv.signature);
      !s.ok) {
    return s;
  }
  st_.transcript.Update(msg);
  st_.hs = ClientHsState::kExpectServerFinished;
  return Step::Continue();
}

Step TlsClient::OnServerFinished(ByteView msg, OutputSink& to_peer) noexcept {
  const ByteView body = msg.subspan(kHandshakeHeaderBytes);
  Digest th, expected;
  st_.transcript.Current(th);  // ClientHello...CertificateVerify
  if (!Ok(FinishedVerifyData(st_.server_hs_secret, th.view(), expected))) {
    return Alert::kInternalError;
  }
  if (body.size() != expected.len) return Alert::kDecodeError;
  // RFC 8446 4.4.4: "Recipients of Finished messages MUST verify that the contents are
  // correct and if incorrect MUST terminate the connection with a "decrypt_error" alert."
  if (CRYPTO_memcmp(body.data(), expected.bytes.data(), expected.len) != 0) {
    return Alert::kDecryptError;
  }
  st_.transcript.Update(msg);

  // RFC 8446 7.1: application secrets from Transcript-Hash(ClientHello...server Finished).
  st_.transcript.Current(th);
  if (!Ok(ClientApplicationTrafficSecret(st_.master_secret, th.view(), st_.client_app_secret)) ||
      !Ok(ServerApplicationTrafficSecret(st_.master_secret, th.view(), st_.server_app_secret)) ||
      !Ok(DeriveTrafficKey(aead(), st_.server_app_secret, st_.read_key))) {
    return Alert::kInternalError;
  }
  st_.read_seq = 0;
  read_ready_ = false;
  key_changed_ = true;  // the server Finished must end its record (RFC 8446 5.1)

  // Our second flight: [change_cipher_spec] [Certificate] Finished.
  if (const Step s = SendCompatCcs(to_peer); !s.ok) return s;
  flight_.clear();
  Writer w(flight_);
  if (st_.cert_requested) {
    // RFC 8446 4.4.2: with no suitable certificate the client "MUST send a Certificate
    // message containing no certificates"; the context echoes the request's (empty).
    const size_t m = BeginMessage(w, HsType::kCertificate);
    w.U8(0);
    w.U24(0);
    if (!w.End(m)) return Alert::kInternalError;
    st_.transcript.Update(flight_);
  }
  st_.transcript.Current(th);
  Digest verify;
  if (!Ok(FinishedVerifyData(st_.client_hs_secret, th.view(), verify))) return Alert::kInternalError;
  const size_t fin_at = flight_.size();
  const size_t m = BeginMessage(w, HsType::kFinished);
  w.Bytes(verify.view());
  if (!w.End(m)) return Alert::kInternalError;
  st_.transcript.Update({flight_.data() + fin_at, flight_.size() - fin_at});
  if (const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer); !s.ok) return s;

  // RFC 8446 7.1: resumption_master_secret from Transcript-Hash(ClientHello...client
  // Finished); then the handshake secrets are no longer needed.
  st_.transcript.Current(th);
  if (!Ok(ResumptionMasterSecret(st_.master_secret, th.view(), st_.resumption_secret)) ||
      !Ok(DeriveTrafficKey(aead(), st_.client_app_secret, st_.write_key))) {
    return Alert::kInternalError;
  }
  st_.write_seq = 0;
  write_ready_ = false;
  st_.client_hs_secret.Wipe();
  st_.server_hs_secret.Wipe();
  st_.master_secret.Wipe();
  st_.hs = ClientHsState::kConnected;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// After the handshake

Step TlsClient::SpendPostHandshakeCredit() noexcept {
  // STYLE.md 12: KeyUpdate and NewSessionTicket floods are legal but hostile; each costs a
  // credit that only received application data earns back. RFC 8446 names no alert.
  if (st_.key_update_credit == 0) {
    ++st_.glitches;
    return Alert::kUnexpectedMessage;
  }
  --st_.key_update_credit;
  return Step::Continue();
}

Step TlsClient::OnKeyUpdate(ByteView msg, OutputSink& to_peer) noexcept {
  const ByteView body = msg.subspan(kHandshakeHeaderBytes);
  if (body.size() != 1) return Alert::kDecodeError;
  // RFC 8446 4.6.3: "If an implementation receives any other value [than 0 or 1], it MUST
  // terminate the connection with an "illegal_parameter" alert."
  if (body[0] != kUpdateNotRequested && body[0] != kUpdateRequested) {
    return Alert::kIllegalParameter;
  }
  if (const Step s = SpendPostHandshakeCredit(); !s.ok) return s;
  ++st_.key_updates_received;
  // RFC 8446 7.2: application_traffic_secret_N+1; the receive side restarts at seq 0.
  if (!Ok(NextApplicationTrafficSecret(st_.server_app_secret, st_.server_app_secret)) ||
      !Ok(DeriveTrafficKey(aead(), st_.server_app_secret, st_.read_key))) {
    return Alert::kInternalError;
  }
  st_.read_seq = 0;
  read_ready_ = false;
  key_changed_ = true;
  // RFC 8446 4.6.3: on update_requested, send our own KeyUpdate (update_not_requested)
  // before the next application data record.
  if (body[0] == kUpdateRequested && !st_.close_sent) return SendKeyUpdate(false, to_peer);
  return Step::Continue();
}

Step TlsClient::OnNewSessionTicket(ByteView msg) noexcept {
  NewSessionTicketView nst;
  if (const Step s = ParseNewSessionTicket(msg.subspan(kHandshakeHeaderBytes), nst); !s.ok) {
    return s;
  }
  if (const Step s = SpendPostHandshakeCredit(); !s.ok) return s;
  ++st_.tickets_received;
  // RFC 8446 4.6.1: "The value of zero indicates that the ticket should be discarded
  // immediately." A ticket too large for the state is not kept either; the previous one
  // (if any) stays usable.
  if (nst.lifetime_s == 0 || nst.ticket.size() > kMaxTicketBytes) return Step::Continue();
  TlsClientTicket& t = st_.ticket;
  if (!Ok(ResumptionPsk(st_.resumption_secret, nst.nonce, t.psk))) return Alert::kInternalError;
  t.suite = st_.suite;
  t.lifetime_s = std::min(nst.lifetime_s, kMaxTicketLifetimeSeconds);
  t.age_add = nst.age_add;
  t.max_early_data_bytes = nst.max_early_data_bytes;
  t.ticket_len = static_cast<uint16_t>(nst.ticket.size());
  std::memcpy(t.ticket.data(), nst.ticket.data(), nst.ticket.size());
  st_.has_ticket = true;
  return Step::Continue();
}

Step TlsClient::OnAlert(ByteView content) noexcept {
  // RFC 8446 6: struct { AlertLevel level; AlertDescription description; }, never
  // fragmented.
  if (content.size() != 2) return Alert::kDecodeError;
  const Alert desc = static_cast<Alert>(content[1]);
  st_.has_alert_received = true;
  st_.alert_received = desc;
  if (desc == Alert::kCloseNotify) {
    st_.peer_closed = true;
    // A close_notify before the handshake is done ends it: nothing more can follow.
    if (st_.close_sent || st_.hs != ClientHsState::kConnected) st_.hs = ClientHsState::kClosed;
    return Step::Continue();
  }
  // RFC 8446 6.1: user_canceled is followed by close_notify; it is not an error by itself.
  if (desc == Alert::kUserCanceled) return Step::Continue();
  // RFC 8446 6.2: every other alert is fatal whatever its level; close without answering.
  st_.hs = ClientHsState::kClosed;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// Output

Step TlsClient::SendRecords(ContentType type, ByteView data, OutputSink& to_peer) noexcept {
  do {
    const ByteView chunk = data.first(std::min(data.size(), kMaxPlaintextBytes));
    data = data.subspan(chunk.size());
    size_t written = 0;
    RecordStatus rs;
    if (st_.write_protected) {
      if (!WriteKeyReady()) return Alert::kInternalError;
      // RFC 8446 5.5: rekey before the AEAD's safety limit; never let the sequence wrap.
      if (st_.write_seq >= config_->max_records_per_key && st_.hs == ClientHsState::kConnected &&
          type == ContentType::kApplicationData) {
        if (const Step s = SendKeyUpdate(false, to_peer); !s.ok) return s;
        if (!WriteKeyReady()) return Alert::kInternalError;
      }
      if (st_.write_seq == UINT64_MAX) return Alert::kInternalError;
      rs = Protect(*ctx_, write_aead_, st_.write_seq, type, chunk, 0, out_buf_, written);
      if (rs == RecordStatus::kOk) ++st_.write_seq;
    } else {
      rs = WritePlaintextRecord(type, chunk, out_buf_, written);
    }
    if (rs != RecordStatus::kOk) return Alert::kInternalError;
    if (!to_peer.Append({out_buf_.data(), written})) return Alert::kInternalError;
  } while (!data.empty());
  return Step::Continue();
}

Step TlsClient::SendKeyUpdate(bool request, OutputSink& to_peer) noexcept {
  const std::array<uint8_t, 5> msg = {static_cast<uint8_t>(HsType::kKeyUpdate), 0, 0, 1,
                                      request ? kUpdateRequested : kUpdateNotRequested};
  if (!WriteKeyReady() || st_.write_seq == UINT64_MAX) return Alert::kInternalError;
  size_t written = 0;
  if (Protect(*ctx_, write_aead_, st_.write_seq, ContentType::kHandshake, msg, 0, out_buf_,
              written) != RecordStatus::kOk ||
      !to_peer.Append({out_buf_.data(), written})) {
    return Alert::kInternalError;
  }
  return RekeyWrite();
}

Step TlsClient::RekeyWrite() noexcept {
  if (!Ok(NextApplicationTrafficSecret(st_.client_app_secret, st_.client_app_secret)) ||
      !Ok(DeriveTrafficKey(aead(), st_.client_app_secret, st_.write_key))) {
    return Alert::kInternalError;
  }
  st_.write_seq = 0;
  write_ready_ = false;
  return Step::Continue();
}

TlsStatus TlsClient::WriteApp(ByteView plain, OutputSink& to_peer) noexcept {
  if (st_.hs != ClientHsState::kConnected || st_.close_sent) return TlsStatus::kFailed;
  if (plain.empty()) return TlsStatus::kOk;
  const Step s = SendRecords(ContentType::kApplicationData, plain, to_peer);
  return s.ok ? TlsStatus::kOk : Fail(s.alert, to_peer);
}

TlsStatus TlsClient::KeyUpdate(bool request_peer, OutputSink& to_peer) noexcept {
  if (st_.hs != ClientHsState::kConnected || st_.close_sent) return TlsStatus::kFailed;
  const Step s = SendKeyUpdate(request_peer, to_peer);
  return s.ok ? TlsStatus::kOk : Fail(s.alert, to_peer);
}

TlsStatus TlsClient::Close(OutputSink& to_peer) noexcept {
  if (st_.hs == ClientHsState::kClosed) return TlsStatus::kClosed;
  if (st_.hs == ClientHsState::kStart) {
    st_.hs = ClientHsState::kClosed;
    return TlsStatus::kClosed;
  }
  if (!st_.close_sent) {
    const std::array<uint8_t, 2> alert = {kAlertLevelWarning,
                                          static_cast<uint8_t>(Alert::kCloseNotify)};
    st_.close_sent = true;
    if (!SendRecords(ContentType::kAlert, alert, to_peer).ok) {
      st_.hs = ClientHsState::kClosed;
      return TlsStatus::kFailed;
    }
  }
  if (st_.peer_closed || st_.hs != ClientHsState::kConnected) st_.hs = ClientHsState::kClosed;
  return TlsStatus::kClosed;
}

TlsStatus TlsClient::Fail(Alert alert, OutputSink& to_peer) noexcept {
  st_.has_alert_sent = true;
  st_.alert_sent = alert;
  if (!st_.close_sent) {
    const std::array<uint8_t, 2> msg = {kAlertLevelFatal, static_cast<uint8_t>(alert)};
    st_.close_sent = true;
    (void)SendRecords(ContentType::kAlert, msg, to_peer);  // best effort; we close anyway
  }
  st_.hs = ClientHsState::kClosed;
  return TlsStatus::kFailed;
}

}  // namespace baton::crypto::tls
