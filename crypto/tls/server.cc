#include "crypto/tls/server.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "crypto/key_schedule.h"
#include "crypto/secure_wipe.h"

namespace baton::crypto::tls {
namespace {

constexpr uint8_t kAlertLevelWarning = 1;
constexpr uint8_t kAlertLevelFatal = 2;
// RFC 8446 4.6.3: KeyUpdateRequest values.
constexpr uint8_t kUpdateNotRequested = 0;
constexpr uint8_t kUpdateRequested = 1;

bool Ok(CryptoStatus s) noexcept { return s == CryptoStatus::kOk; }

uint32_t Load24(const uint8_t* p) noexcept { return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]; }

}  // namespace

std::vector<uint8_t> EncodeAlpn(std::span<const std::string_view> names) {
  std::vector<uint8_t> out;
  for (const std::string_view n : names) {
    if (n.empty() || n.size() > 255) continue;
    out.push_back(static_cast<uint8_t>(n.size()));
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

void TlsServerState::Wipe() noexcept {
  read_key.Wipe();
  write_key.Wipe();
  client_hs_secret.Wipe();
  client_app_secret.Wipe();
  server_app_secret.Wipe();
  SecureWipe(record.bytes.data(), record.bytes.size());
  SecureWipe(hs_buf.data(), hs_buf.size());
}

TlsServer::TlsServer(const TlsServerConfig& config, CryptoContext& ctx) noexcept
    : config_(&config), ctx_(&ctx) {
  st_.key_update_credit = config.max_key_update_credit;
}

TlsServer::TlsServer(const TlsServerConfig& config, CryptoContext& ctx,
                     const TlsServerState& state) noexcept
    : config_(&config), ctx_(&ctx), st_(state) {}

TlsServer::~TlsServer() { st_.Wipe(); }

std::optional<Alert> TlsServer::alert_sent() const noexcept {
  return st_.has_alert_sent ? std::optional<Alert>(st_.alert_sent) : std::nullopt;
}

std::optional<Alert> TlsServer::alert_received() const noexcept {
  return st_.has_alert_received ? std::optional<Alert>(st_.alert_received) : std::nullopt;
}

AeadAlg TlsServer::aead() const noexcept {
  SuiteParams p{};
  (void)LookupSuite(st_.suite, p);
  return p.aead;
}

bool TlsServer::ReadKeyReady() noexcept {
  if (!read_ready_) read_ready_ = Ok(ctx_->Expand(st_.read_key, read_aead_));
  return read_ready_;
}

bool TlsServer::WriteKeyReady() noexcept {
  if (!write_ready_) write_ready_ = Ok(ctx_->Expand(st_.write_key, write_aead_));
  return write_ready_;
}

// ---------------------------------------------------------------------------------------
// Input

TlsStatus TlsServer::Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept {
  while (true) {
    if (st_.hs == HsState::kClosed) {
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

Step TlsServer::OnRecord(OutputSink& to_peer, OutputSink& app) noexcept {
  const RecordHeader hdr = st_.record.header;
  const MutByteView body = st_.record.body();
  switch (hdr.type) {
    case ContentType::kChangeCipherSpec:
      // RFC 8446 5: a change_cipher_spec "consisting of the single byte value 0x01" received
      // "after the first ClientHello message has been sent or received and before the peer's
      // Finished message has been received" MUST be dropped; any other value, or one outside
      // that window, is unexpected_message. Middlebox compatibility (D.4) sends exactly one.
      if (body.size() != 1 || body[0] != 1 || st_.ccs_received ||
          (st_.hs != HsState::kExpectRetriedClientHello &&
           st_.hs != HsState::kExpectClientFinished)) {
        return Alert::kUnexpectedMessage;
      }
      st_.ccs_received = true;
      return Step::Continue();
    case ContentType::kHandshake:
      // Once the client's handshake keys are in use, handshake records must be protected.
      if (st_.read_protected) return Alert::kUnexpectedMessage;
      return OnContent(hdr.type, body, to_peer, app);
    case ContentType::kAlert:
      // A client that cannot process our ServerHello has no keys yet and alerts in the
      // clear, so plaintext alerts are accepted until the handshake is done.
      if (st_.hs == HsState::kConnected) return Alert::kUnexpectedMessage;
      return OnContent(hdr.type, body, to_peer, app);
    case ContentType::kApplicationData:
      break;
    case ContentType::kInvalid:
      return Alert::kUnexpectedMessage;
  }

  if (!st_.read_protected) {
    // RFC 8446 4.2.10: after a HelloRetryRequest the server skips "all records with an
    // external content type of "application_data" (indicating that they are encrypted),
    // up to the configured max_early_data_size".
    if (st_.hs == HsState::kExpectRetriedClientHello && st_.early_skip_budget >= body.size()) {
      st_.early_skip_budget -= static_cast<uint32_t>(body.size());
      ++st_.glitches;
      return Step::Continue();
    }
    return Alert::kUnexpectedMessage;
  }
  if (!ReadKeyReady()) return Alert::kInternalError;
  // RFC 8446 5.3: a sequence number must never wrap. 2^64 records cannot arrive in
  // practice; the check keeps the nonce argument total.
  if (st_.read_seq == UINT64_MAX) return Alert::kInternalError;
  ContentType inner = ContentType::kInvalid;
  MutByteView content;
  const RecordStatus rs = Unprotect(*ctx_, read_aead_, st_.read_seq, st_.record.record(), inner,
                                    content);
  if (rs == RecordStatus::kBadMac && st_.hs == HsState::kExpectClientFinished &&
      st_.early_skip_budget >= body.size()) {
    // RFC 8446 4.2.10: having declined 0-RTT, the server skips records that fail to
    // decrypt with the handshake key, "up to the configured max_early_data_size".
    st_.early_skip_budget -= static_cast<uint32_t>(body.size());
    ++st_.glitches;
    return Step::Continue();
  }
  if (rs != RecordStatus::kOk) return AlertFor(rs);
  st_.early_skip_budget = 0;  // the first record that opens ends the 0-RTT window
  ++st_.read_seq;
  // RFC 8446 5: "An implementation which receives ... a protected change_cipher_spec record
  // MUST abort the handshake with an "unexpected_message" alert."
  if (inner == ContentType::kChangeCipherSpec) return Alert::kUnexpectedMessage;
  // RFC 8446 5.1: no zero-length handshake fragments, inside protection too.
  if (inner == ContentType::kHandshake && content.empty()) return Alert::kUnexpectedMessage;
  return OnContent(inner, content, to_peer, app);
}

Step TlsServer::OnContent(ContentType type, ByteView content, OutputSink& to_peer,
                          OutputSink& app) noexcept {
  // RFC 8446 5.1: "Handshake messages MUST NOT be interleaved with other record types."
  if (st_.hs_fill != 0 && type != ContentType::kHandshake) return Alert::kUnexpectedMessage;
  switch (type) {
    case ContentType::kHandshake:
      return OnHandshakeBytes(content, to_peer);
    case ContentType::kAlert:
      return OnAlert(content);
    case ContentType::kApplicationData:
      if (st_.hs != HsState::kConnected) return Alert::kUnexpectedMessage;
      if (content.empty()) ++st_.glitches;  // legal (RFC 8446 5.1), but a flood is hostile
      // Each run of records_per_key_update records earns one KeyUpdate credit back.
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

Step TlsServer::OnHandshakeBytes(ByteView content, OutputSink& to_peer) noexcept {
  key_changed_ = false;
  while (!content.empty()) {
    const size_t take = std::min(content.size(), st_.hs_buf.size() - st_.hs_fill);
    std::memcpy(st_.hs_buf.data() + st_.hs_fill, content.data(), take);
    st_.hs_fill = static_cast<uint16_t>(st_.hs_fill + take);
    content = content.subspan(take);
    // Every whole message in the buffer.
    size_t start = 0;
    while (st_.hs_fill - start >= kHandshakeHeaderBytes) {
      const uint8_t* p = st_.hs_buf.data() + start;
      const uint32_t len = Load24(p + 1);
      // Larger messages do not fit the reassembly buffer; none is legitimate here.
      if (len > kMaxHandshakeMessageBytes) return Alert::kDecodeError;
      if (st_.hs_fill - start < kHandshakeHeaderBytes + len) break;
      const Step s = OnMessage(static_cast<HsType>(p[0]), {p, kHandshakeHeaderBytes + len}, to_peer);
      if (!s.ok) return s;
      start += kHandshakeHeaderBytes + len;
      // RFC 8446 5.1: "Handshake messages MUST NOT span key changes ... all messages
      // immediately preceding a key change [must] align with a record boundary; if not,
      // then they MUST terminate the connection with an "unexpected_message" alert."
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

Step TlsServer::OnMessage(HsType type, ByteView msg, OutputSink& to_peer) noexcept {
  switch (st_.hs) {
    case HsState::kExpectClientHello:
    case HsState::kExpectRetriedClientHello:
      return type == HsType::kClientHello ? OnClientHello(msg, to_peer) : Alert::kUnexpectedMessage;
    case HsState::kExpectClientFinished:
      // No CertificateRequest was sent and 0-RTT was declined, so Finished is the only
      // message the client may send here (RFC 8446 4.5, 4.4.2).
      return type == HsType::kFinished ? OnClientFinished(msg) : Alert::kUnexpectedMessage;
    case HsState::kConnected:
      return type == HsType::kKeyUpdate ? OnKeyUpdate(msg, to_peer) : Alert::kUnexpectedMessage;
    case HsState::kClosed:
      return Alert::kUnexpectedMessage;
  }
  return Alert::kInternalError;  // no default: -Werror=switch flags new states
}

// ---------------------------------------------------------------------------------------
// ClientHello

Step TlsServer::OnClientHello(ByteView msg, OutputSink& to_peer) noexcept {
  const bool retry = st_.hs == HsState::kExpectRetriedClientHello;
  ClientHello ch;
  if (const Step s = ParseClientHello(msg.subspan(kHandshakeHeaderBytes), ch); !s.ok) return s;

  // RFC 8446 4.2.1: without supported_versions the client wants TLS 1.2 or older; TLS 1.2
  // is not built yet. "If the "supported_versions" extension in the ClientHello contains
  // no versions acceptable to the server, the server MUST abort the handshake with a
  // "protocol_version" alert."
  if (!ch.has_supported_versions || !ch.offers_tls13) return Alert::kProtocolVersion;

  // Cipher suite, server preference.
  SuiteParams params{};
  uint16_t suite = 0;
  for (const CipherSuite s : config_->suites) {
    if (ListHas(ch.cipher_suites, static_cast<uint16_t>(s)) &&
        LookupSuite(static_cast<uint16_t>(s), params)) {
      suite = static_cast<uint16_t>(s);
      break;
    }
  }
  if (suite == 0) return Alert::kHandshakeFailure;
  // RFC 8446 4.1.4: after HelloRetryRequest the server must negotiate the same suite.
  if (retry && suite != st_.suite) return Alert::kIllegalParameter;

  // RFC 8446 9.2: a ClientHello without pre_shared_key "MUST contain both a
  // "signature_algorithms" extension and a "supported_groups" extension", and one with
  // supported_groups must carry key_share, and vice versa; else missing_extension.
  if (!ch.has_signature_algorithms || !ch.has_supported_groups || !ch.has_key_share) {
    return Alert::kMissingExtension;
  }
  if (config_->credentials.empty()) return Alert::kInternalError;
  st_.credential = 0;
  const uint16_t scheme = SchemeForKey(config_->credentials[st_.credential].key);
  if (scheme == 0) return Alert::kInternalError;
  // RFC 8446 4.4.2.2: we can only sign with a scheme the client offered.
  if (!ListHas(ch.signature_algorithms, scheme)) return Alert::kHandshakeFailure;

  // Group: our first preference for which the client sent a share.
  const KeyShareOffer* share = nullptr;
  NamedGroup group{};
  for (const NamedGroup g : config_->groups) {
    for (size_t i = 0; i < ch.share_count && share == nullptr; ++i) {
      if (ch.shares[i].group == static_cast<uint16_t>(g)) {
        share = &ch.shares[i];
        group = g;
      }
    }
    if (share != nullptr) break;
  }
  if (retry) {
    // RFC 8446 4.2.8: after HelloRetryRequest the client "MUST replace its "key_share"
    // extension with one containing a single KeyShareEntry for the indicated group";
    // RFC 8446 4.2.10: and "MUST NOT include the "early_data" extension".
    if (share == nullptr || static_cast<uint16_t>(group) != st_.group || ch.share_count != 1 ||
        ch.has_early_data) {
      return Alert::kIllegalParameter;
    }
  }

  // ALPN (RFC 7301 3.2): our preference; no overlap is fatal.
  ByteView alpn{};
  if (ch.has_alpn && !config_->alpn_wire.empty()) {
    if (!PickAlpn(ch.alpn_list, config_->alpn_wire, alpn)) return Alert::kNoApplicationProtocol;
  }
  if (ch.has_sni) {
    // RFC 6066 3: host names are DNS names, at most 255 bytes.
    if (ch.sni.size() > kMaxSniBytes) return Alert::kUnrecognizedName;
    std::memcpy(st_.sni.data(), ch.sni.data(), ch.sni.size());
    st_.sni_len = static_cast<uint8_t>(ch.sni.size());
  } else {
    st_.sni_len = 0;
  }
  std::memcpy(st_.alpn.data(), alpn.data(), alpn.size());
  st_.alpn_len = static_cast<uint8_t>(alpn.size());

  if (share == nullptr) {
    // RFC 8446 4.1.1: no usable share, but a group we support in supported_groups:
    // HelloRetryRequest for it; no common group at all: handshake_failure.
    for (const NamedGroup g : config_->groups) {
      if (ListHas(ch.supported_groups, static_cast<uint16_t>(g))) {
        st_.suite = suite;
        return SendHelloRetry(msg, ch.session_id, params, g, ch.has_early_data, to_peer);
      }
    }
    return Alert::kHandshakeFailure;
  }
  st_.suite = suite;
  st_.group = static_cast<uint16_t>(group);
  const Step s = SendServerFlight(msg, ch, params, scheme, retry, to_peer);
  if (s.ok && ch.has_early_data) {
    // RFC 8446 4.2.10: we never accept 0-RTT (no early_data in EncryptedExtensions), so
    // the client's early records are skipped until one opens with the handshake key.
    st_.early_skip_budget = config_->max_early_data_skip_bytes;
  }
  return s;
}

Step TlsServer::SendHelloRetry(ByteView client_hello, ByteView session_id,
                               const SuiteParams& params, NamedGroup group, bool early_data,
                               OutputSink& to_peer) noexcept {
  // RFC 8446 4.4.1: the transcript restarts with message_hash = Hash(ClientHello1).
  st_.transcript.Reset(params.hash);
  st_.transcript.Update(client_hello);
  Digest ch1;
  st_.transcript.Current(ch1);
  st_.transcript.Reset(params.hash);
  const std::array<uint8_t, 4> synthetic_header = {static_cast<uint8_t>(HsType::kMessageHash), 0,
                                                   0, ch1.len};
  st_.transcript.Update(synthetic_header);
  st_.transcript.Update(ch1.view());

  // RFC 8446 4.1.4: a ServerHello with the special random and only supported_versions,
  // key_share (the selected group) and, optionally, cookie.
  flight_.clear();
  Writer w(flight_);
  const size_t m = BeginMessage(w, HsType::kServerHello);
  w.U16(kTls12);  // legacy_version
  w.Bytes(kHelloRetryRandom);
  w.U8(static_cast<uint8_t>(session_id.size()));  // legacy_session_id_echo
  w.Bytes(session_id);
  w.U16(st_.suite);
  w.U8(0);  // legacy_compression_method
  const size_t exts = w.Begin(2);
  w.U16(static_cast<uint16_t>(ExtType::kSupportedVersions));
  w.U16(2);
  w.U16(kTls13);
  w.U16(static_cast<uint16_t>(ExtType::kKeyShare));
  w.U16(2);
  w.U16(static_cast<uint16_t>(group));
  if (!w.End(exts) || !w.End(m)) return Alert::kInternalError;
  st_.transcript.Update(flight_);
  if (const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer); !s.ok) return s;
  // RFC 8446 D.4: in middlebox compatibility mode (non-empty session id) the server sends
  // one change_cipher_spec right after its first handshake message.
  if (!session_id.empty() && !st_.ccs_sent) {
    const uint8_t one = 1;
    if (const Step s = SendRecords(ContentType::kChangeCipherSpec, {&one, 1}, to_peer); !s.ok) {
      return s;
    }
    st_.ccs_sent = true;
  }
  st_.group = static_cast<uint16_t>(group);
  if (early_data) st_.early_skip_budget = config_->max_early_data_skip_bytes;
  st_.hs = HsState::kExpectRetriedClientHello;
  return Step::Continue();
}

Step TlsServer::SendServerFlight(ByteView client_hello, const ClientHello& ch,
                                 const SuiteParams& params, uint16_t scheme, bool retry,
                                 OutputSink& to_peer) noexcept {
  const NamedGroup group = static_cast<NamedGroup>(st_.group);
  const KeyShareOffer* share = nullptr;
  for (size_t i = 0; i < ch.share_count; ++i) {
    if (ch.shares[i].group == st_.group) share = &ch.shares[i];
  }
  if (share == nullptr) return Alert::kInternalError;
  if (!retry) st_.transcript.Reset(params.hash);  // else: message_hash + HRR already in
  st_.transcript.Update(client_hello);

  KeyExchangeResult kx;
  WipeOnExit wipe_kx(&kx, sizeof(kx));
  const RandomFn random = config_->random != nullptr ? config_->random : &DefaultRandom;
  if (const Step s = KeyExchange(group, share->key, random, config_->random_ctx, kx); !s.ok) {
    return s;
  }
  std::array<uint8_t, 32> server_random{};
  if (!random(config_->random_ctx, server_random.data(), server_random.size())) {
    return Alert::kInternalError;
  }

  // ServerHello (RFC 8446 4.1.3).
  flight_.clear();
  Writer w(flight_);
  size_t m = BeginMessage(w, HsType::kServerHello);
  w.U16(kTls12);
  w.Bytes(server_random);
  w.U8(static_cast<uint8_t>(ch.session_id.size()));
  w.Bytes(ch.session_id);
  w.U16(st_.suite);
  w.U8(0);
  size_t exts = w.Begin(2);
  w.U16(static_cast<uint16_t>(ExtType::kSupportedVersions));
  w.U16(2);
  w.U16(kTls13);
  w.U16(static_cast<uint16_t>(ExtType::kKeyShare));
  w.U16(static_cast<uint16_t>(4 + kx.server_public_len));
  w.U16(st_.group);
  w.U16(kx.server_public_len);
  w.Bytes({kx.server_public.data(), kx.server_public_len});
  if (!w.End(exts) || !w.End(m)) return Alert::kInternalError;
  st_.transcript.Update(flight_);
  if (const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer); !s.ok) return s;
  if (!ch.session_id.empty() && !st_.ccs_sent) {  // RFC 8446 D.4, as in SendHelloRetry
    const uint8_t one = 1;
    if (const Step s = SendRecords(ContentType::kChangeCipherSpec, {&one, 1}, to_peer); !s.ok) {
      return s;
    }
    st_.ccs_sent = true;
  }

  // RFC 8446 7.1: handshake secrets from Transcript-Hash(ClientHello...ServerHello).
  Secret early, handshake, server_hs, master;
  WipeOnExit w1(&early, sizeof(early)), w2(&handshake, sizeof(handshake)),
      w3(&server_hs, sizeof(server_hs)), w4(&master, sizeof(master));
  Digest th;
  st_.transcript.Current(th);
  if (!Ok(EarlySecret(params.hash, {}, early)) ||
      !Ok(HandshakeSecret(early, {kx.shared.data(), kx.shared_len}, handshake)) ||
      !Ok(ClientHandshakeTrafficSecret(handshake, th.view(), st_.client_hs_secret)) ||
      !Ok(ServerHandshakeTrafficSecret(handshake, th.view(), server_hs)) ||
      !Ok(DeriveTrafficKey(params.aead, server_hs, st_.write_key)) ||
      !Ok(DeriveTrafficKey(params.aead, st_.client_hs_secret, st_.read_key))) {
    return Alert::kInternalError;
  }
  st_.write_seq = 0;
  st_.read_seq = 0;
  st_.write_protected = true;
  st_.read_protected = true;
  write_ready_ = false;
  read_ready_ = false;
  key_changed_ = true;  // the ClientHello must end its record (RFC 8446 5.1)

  // EncryptedExtensions (RFC 8446 4.3.1). No early_data: 0-RTT is declined.
  flight_.clear();
  m = BeginMessage(w, HsType::kEncryptedExtensions);
  exts = w.Begin(2);
  if (st_.alpn_len != 0) {
    w.U16(static_cast<uint16_t>(ExtType::kAlpn));
    const size_t e = w.Begin(2);
    const size_t list = w.Begin(2);
    w.U8(st_.alpn_len);
    w.Bytes({reinterpret_cast<const uint8_t*>(st_.alpn.data()), st_.alpn_len});
    if (!w.End(list) || !w.End(e)) return Alert::kInternalError;
  }
  if (!w.End(exts) || !w.End(m)) return Alert::kInternalError;

  // Certificate (RFC 8446 4.4.2): empty request context, no per-entry extensions.
  const Credential& cred = config_->credentials[st_.credential];
  m = BeginMessage(w, HsType::kCertificate);
  w.U8(0);
  const size_t list = w.Begin(3);
  for (const std::vector<uint8_t>& der : cred.chain_der) {
    const size_t entry = w.Begin(3);
    w.Bytes(der);
    if (!w.End(entry)) return Alert::kInternalError;
    w.U16(0);
  }
  if (!w.End(list) || !w.End(m)) return Alert::kInternalError;
  st_.transcript.Update(flight_);

  // CertificateVerify (RFC 8446 4.4.3) over Transcript-Hash(ClientHello...Certificate).
  st_.transcript.Current(th);
  std::vector<uint8_t> signature;
  if (const Step s = SignCertificateVerify(cred.key, scheme, th.view(), signature); !s.ok) {
    return s;
  }
  const size_t cv_at = flight_.size();
  m = BeginMessage(w, HsType::kCertificateVerify);
  w.U16(scheme);
  const size_t sig = w.Begin(2);
  w.Bytes(signature);
  if (!w.End(sig) || !w.End(m)) return Alert::kInternalError;
  st_.transcript.Update({flight_.data() + cv_at, flight_.size() - cv_at});

  // Finished (RFC 8446 4.4.4) over Transcript-Hash(ClientHello...CertificateVerify).
  st_.transcript.Current(th);
  Digest verify;
  if (!Ok(FinishedVerifyData(server_hs, th.view(), verify))) return Alert::kInternalError;
  const size_t fin_at = flight_.size();
  m = BeginMessage(w, HsType::kFinished);
  w.Bytes(verify.view());
  if (!w.End(m)) return Alert::kInternalError;
  st_.transcript.Update({flight_.data() + fin_at, flight_.size() - fin_at});
  if (const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer); !s.ok) return s;

  // RFC 8446 7.1: application secrets from Transcript-Hash(ClientHello...server Finished).
  // We send with ours from now on (0.5-RTT is allowed); the client's wait for its Finished.
  st_.transcript.Current(th);
  if (!Ok(MasterSecret(handshake, master)) ||
      !Ok(ClientApplicationTrafficSecret(master, th.view(), st_.client_app_secret)) ||
      !Ok(ServerApplicationTrafficSecret(master, th.view(), st_.server_app_secret)) ||
      !Ok(DeriveTrafficKey(params.aead, st_.server_app_secret, st_.write_key))) {
    return Alert::kInternalError;
  }
  st_.write_seq = 0;
  write_ready_ = false;
  st_.hs = HsState::kExpectClientFinished;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// After the server flight

Step TlsServer::OnClientFinished(ByteView msg) noexcept {
  const ByteView body = msg.subspan(kHandshakeHeaderBytes);
  Digest th, expected;
  st_.transcript.Current(th);  // ClientHello...server Finished
  if (!Ok(FinishedVerifyData(st_.client_hs_secret, th.view(), expected))) {
    return Alert::kInternalError;
  }
  if (body.size() != expected.len) return Alert::kDecodeError;
  // RFC 8446 4.4.4: "Recipients of Finished messages MUST verify that the contents are
  // correct and if incorrect MUST terminate the connection with a "decrypt_error" alert."
  if (CRYPTO_memcmp(body.data(), expected.bytes.data(), expected.len) != 0) {
    return Alert::kDecryptError;
  }
  st_.transcript.Update(msg);  // for the resumption master secret, once tickets exist
  if (!Ok(DeriveTrafficKey(aead(), st_.client_app_secret, st_.read_key))) {
    return Alert::kInternalError;
  }
  st_.read_seq = 0;
  read_ready_ = false;
  key_changed_ = true;
  st_.client_hs_secret.Wipe();
  st_.early_skip_budget = 0;
  st_.hs = HsState::kConnected;
  return Step::Continue();
}

Step TlsServer::OnKeyUpdate(ByteView msg, OutputSink& to_peer) noexcept {
  const ByteView body = msg.subspan(kHandshakeHeaderBytes);
  if (body.size() != 1) return Alert::kDecodeError;
  // RFC 8446 4.6.3: "If an implementation receives any other value [than 0 or 1], it MUST
  // terminate the connection with an "illegal_parameter" alert."
  if (body[0] != kUpdateNotRequested && body[0] != kUpdateRequested) {
    return Alert::kIllegalParameter;
  }
  // STYLE.md 12: KeyUpdate floods are legal but hostile; each update costs a credit that
  // only received application data earns back. RFC 8446 names no alert for this.
  if (st_.key_update_credit == 0) {
    ++st_.glitches;
    return Alert::kUnexpectedMessage;
  }
  --st_.key_update_credit;
  ++st_.key_updates_received;
  // RFC 8446 7.2: application_traffic_secret_N+1, and the receive side restarts at seq 0.
  if (!Ok(NextApplicationTrafficSecret(st_.client_app_secret, st_.client_app_secret)) ||
      !Ok(DeriveTrafficKey(aead(), st_.client_app_secret, st_.read_key))) {
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

Step TlsServer::OnAlert(ByteView content) noexcept {
  // RFC 8446 6: struct { AlertLevel level; AlertDescription description; }, never
  // fragmented.
  if (content.size() != 2) return Alert::kDecodeError;
  const Alert desc = static_cast<Alert>(content[1]);
  st_.has_alert_received = true;
  st_.alert_received = desc;
  if (desc == Alert::kCloseNotify) {
    st_.peer_closed = true;
    if (st_.close_sent) st_.hs = HsState::kClosed;
    return Step::Continue();
  }
  // RFC 8446 6.1: user_canceled is followed by close_notify; it is not an error by itself.
  if (desc == Alert::kUserCanceled) return Step::Continue();
  // RFC 8446 6.2: every other alert is fatal whatever its level; close without answering.
  st_.hs = HsState::kClosed;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// Output

Step TlsServer::SendRecords(ContentType type, ByteView data, OutputSink& to_peer) noexcept {
  do {
    const ByteView chunk = data.first(std::min(data.size(), kMaxPlaintextBytes));
    data = data.subspan(chunk.size());
    size_t written = 0;
    RecordStatus rs;
    if (st_.write_protected && type != ContentType::kChangeCipherSpec) {
      if (!WriteKeyReady()) return Alert::kInternalError;
      // RFC 8446 5.5: rekey before the AEAD's safety limit; never let the sequence wrap.
      if (st_.write_seq >= config_->max_records_per_key && st_.hs == HsState::kConnected &&
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

Step TlsServer::SendKeyUpdate(bool request, OutputSink& to_peer) noexcept {
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

Step TlsServer::RekeyWrite() noexcept {
  if (!Ok(NextApplicationTrafficSecret(st_.server_app_secret, st_.server_app_secret)) ||
      !Ok(DeriveTrafficKey(aead(), st_.server_app_secret, st_.write_key))) {
    return Alert::kInternalError;
  }
  st_.write_seq = 0;
  write_ready_ = false;
  return Step::Continue();
}

TlsStatus TlsServer::WriteApp(ByteView plain, OutputSink& to_peer) noexcept {
  if (st_.hs != HsState::kConnected || st_.close_sent) return TlsStatus::kFailed;
  if (plain.empty()) return TlsStatus::kOk;
  const Step s = SendRecords(ContentType::kApplicationData, plain, to_peer);
  return s.ok ? TlsStatus::kOk : Fail(s.alert, to_peer);
}

TlsStatus TlsServer::Close(OutputSink& to_peer) noexcept {
  if (st_.hs == HsState::kClosed) return TlsStatus::kClosed;
  if (!st_.close_sent) {
    const std::array<uint8_t, 2> alert = {kAlertLevelWarning,
                                          static_cast<uint8_t>(Alert::kCloseNotify)};
    st_.close_sent = true;
    if (!SendRecords(ContentType::kAlert, alert, to_peer).ok) {
      st_.hs = HsState::kClosed;
      return TlsStatus::kFailed;
    }
  }
  if (st_.peer_closed || st_.hs != HsState::kConnected) st_.hs = HsState::kClosed;
  return TlsStatus::kClosed;
}

TlsStatus TlsServer::Fail(Alert alert, OutputSink& to_peer) noexcept {
  st_.has_alert_sent = true;
  st_.alert_sent = alert;
  if (!st_.close_sent) {
    const std::array<uint8_t, 2> msg = {kAlertLevelFatal, static_cast<uint8_t>(alert)};
    st_.close_sent = true;
    (void)SendRecords(ContentType::kAlert, msg, to_peer);  // best effort; we close anyway
  }
  st_.hs = HsState::kClosed;
  return TlsStatus::kFailed;
}

}  // namespace baton::crypto::tls
