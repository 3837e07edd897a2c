#include "crypto/tls/server.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "crypto/key_schedule.h"
#include "crypto/secure_wipe.h"
#include "crypto/tls/ticket.h"

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
  master_secret.Wipe();
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
      // With stateless retry (hrr_cookie) a fresh server may see the client's CCS, sent
      // after our HelloRetryRequest, before the second ClientHello.
      if (body.size() != 1 || body[0] != 1 || st_.ccs_received ||
          (st_.hs != HsState::kExpectRetriedClientHello &&
           st_.hs != HsState::kExpectClientFinished &&
           !(st_.hs == HsState::kExpectClientHello && config_->hrr_cookie))) {
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
  // RFC 8449 4: "An endpoint that receives a record that is larger than its advertised
  // limit MUST generate a fatal "record_overflow" alert". The TLSInnerPlaintext is the
  // ciphertext less the tag.
  if (body.size() - kAeadTagBytes > st_.recv_inner_limit) return Alert::kRecordOverflow;
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
      return type == HsType::kFinished ? OnClientFinished(msg, to_peer)
                                       : Alert::kUnexpectedMessage;
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
  bool retry = st_.hs == HsState::kExpectRetriedClientHello;
  ClientHello ch;
  if (const Step s = ParseClientHello(msg.subspan(kHandshakeHeaderBytes), ch); !s.ok) return s;

  // RFC 8446 4.2.1: without supported_versions the client wants TLS 1.2 or older; TLS 1.2
  // is not built yet. "If the "supported_versions" extension in the ClientHello contains
  // no versions acceptable to the server, the server MUST abort the handshake with a
  // "protocol_version" alert."
  if (!ch.has_supported_versions || !ch.offers_tls13) return Alert::kProtocolVersion;
  // RFC 8446 D.5: "Any endpoint receiving a Hello message with ClientHello.legacy_version
  // ... set to 0x0300 MUST abort the handshake with a "protocol_version" alert."
  if (ch.legacy_version <= 0x0300) return Alert::kProtocolVersion;

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
  // RFC 8446 4.2.2: with cookies on, a second ClientHello (to us, or to a server that
  // kept no state) must carry a good one; it restores the HelloRetryRequest's state.
  // Without cookies on, a cookie we cannot have sent is ignored.
  if (config_->hrr_cookie && (retry || ch.has_cookie)) {
    if (const Step s = RestoreFromCookie(ch); !s.ok) return s;
    retry = true;
  }
  // RFC 8446 4.1.4: after HelloRetryRequest the server must negotiate the same suite.
  if (retry && suite != st_.suite) return Alert::kIllegalParameter;

  // RFC 8446 4.2.9: "If clients offer "pre_shared_key" without a "psk_key_exchange_modes"
  // extension, servers MUST abort the handshake."
  if (ch.has_pre_shared_key && !ch.has_psk_modes) return Alert::kMissingExtension;
  // RFC 8446 9.2: a ClientHello with supported_groups must carry key_share, and vice
  // versa; we only do (EC)DHE and PSK-DHE, so both are needed either way.
  if (!ch.has_supported_groups || !ch.has_key_share) return Alert::kMissingExtension;

  // Resumption: a ticket we can open, for this suite's hash, fresh enough, with a good
  // binder; only with psk_dhe_ke (RFC 8446 4.2.9: psk_ke alone gets a full handshake).
  TicketContents psk;
  WipeOnExit wipe_psk(&psk, sizeof(psk));
  uint16_t psk_index = 0;
  bool resume = false;
  if (ch.has_pre_shared_key && ch.psk_dhe_ke && !config_->ticket_keys.empty()) {
    if (const Step s = FindPsk(msg, ch, params, retry, psk, psk_index, resume); !s.ok) return s;
  }

  uint16_t scheme = 0;
  if (!resume) {
    // RFC 8446 9.2: without pre_shared_key a ClientHello "MUST contain both a
    // "signature_algorithms" extension and a "supported_groups" extension"; and we need
    // it for a certificate even with one.
    if (!ch.has_signature_algorithms) return Alert::kMissingExtension;
    // Certificate: by SNI, then by a signature scheme the client offered (RFC 8446
    // 4.4.2.2); no usable one: handshake_failure.
    if (config_->credentials.empty()) return Alert::kInternalError;
    const std::optional<CredentialChoice> cred = ChooseCredential(
        config_->credentials,
        {reinterpret_cast<const char*>(ch.sni.data()), ch.has_sni ? ch.sni.size() : 0},
        ch.signature_algorithms);
    if (!cred) return Alert::kHandshakeFailure;
    st_.credential = cred->index;
    scheme = cred->scheme;
  }

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

  // ALPN (RFC 7301 3.2): our preference; no overlap is fatal. Negotiated afresh on
  // resumption too (no 0-RTT, so nothing binds it to the ticket's).
  ByteView alpn{};
  if (ch.has_alpn && !config_->alpn_wire.empty()) {
    if (!PickAlpn(ch.alpn_list, config_->alpn_wire, alpn)) return Alert::kNoApplicationProtocol;
  }
  if (resume) {
    // The session keeps the name it was established for (FindPsk checked that a
    // ClientHello naming a host names the same one).
    std::memcpy(st_.sni.data(), psk.sni.data(), psk.sni_len);
    st_.sni_len = psk.sni_len;
  } else if (ch.has_sni) {
    // RFC 6066 3: host names are DNS names, at most 255 bytes.
    if (ch.sni.size() > kMaxSniBytes) return Alert::kUnrecognizedName;
    std::memcpy(st_.sni.data(), ch.sni.data(), ch.sni.size());
    st_.sni_len = static_cast<uint8_t>(ch.sni.size());
  } else {
    st_.sni_len = 0;
  }
  st_.ticket_sni = resume;
  if (!alpn.empty()) std::memcpy(st_.alpn.data(), alpn.data(), alpn.size());  // data() may be null
  st_.alpn_len = static_cast<uint8_t>(alpn.size());

  if (share == nullptr) {
    // RFC 8446 4.1.1: no usable share, but a group we support in supported_groups:
    // HelloRetryRequest for it; no common group at all: handshake_failure. The PSK, if
    // any, is looked at again in the second ClientHello (its binder covers the HRR).
    for (const NamedGroup g : config_->groups) {
      if (ListHas(ch.supported_groups, static_cast<uint16_t>(g))) {
        st_.suite = suite;
        return SendHelloRetry(msg, ch.session_id, params, g, ch.has_early_data, to_peer);
      }
    }
    return Alert::kHandshakeFailure;
  }

  // RFC 8449 4: the client's limit bounds every protected record we send ("MUST NOT
  // generate a protected record with plaintext that is larger than the RecordSizeLimit
  // value it receives"); in TLS 1.3 it counts the content type byte and padding. Values
  // above the protocol maximum mean the protocol maximum.
  if (ch.has_record_size_limit) {
    st_.send_fragment_limit = static_cast<uint16_t>(
        std::min<size_t>(ch.record_size_limit - 1u, kMaxPlaintextBytes));
    st_.recv_inner_limit = static_cast<uint16_t>(std::clamp<size_t>(
        config_->record_size_limit, kMinRecordSizeLimit, kMaxPlaintextBytes + 1));
  }

  st_.suite = suite;
  st_.group = static_cast<uint16_t>(group);
  st_.resumed = resume;
  const Step s = SendServerFlight(msg, ch, params, scheme, retry, resume ? &psk : nullptr,
                                  psk_index, to_peer);
  if (s.ok && ch.has_early_data) {
    // RFC 8446 4.2.10: we never accept 0-RTT (no early_data in EncryptedExtensions), so
    // the client's early records are skipped until one opens with the handshake key.
    st_.early_skip_budget = config_->max_early_data_skip_bytes;
  }
  return s;
}

Step TlsServer::FindPsk(ByteView msg, const ClientHello& ch, const SuiteParams& params,
                        bool retry, TicketContents& psk, uint16_t& index, bool& found) noexcept {
  found = false;
  PskIdentityReader ids(ch.psk_identities);
  ByteView identity;
  uint32_t obfuscated_age = 0;
  for (uint16_t i = 0; ids.Next(identity, obfuscated_age); ++i) {
    if (!OpenTls13Ticket(*ctx_, config_->ticket_keys, identity, psk)) continue;  // not ours, or tampered
    // RFC 8446 4.2.11: "the server MUST ensure that it selects a compatible PSK (if any)
    // and cipher suite"; a ticket's PSK goes with its suite's hash.
    if (psk.psk.hash != params.hash) continue;
    // RFC 8446 4.6.1: never use a ticket past its lifetime. A ticket issued slightly in
    // our future (another box's clock) counts as age 0 within the tolerance.
    const uint64_t tolerance = config_->ticket_age_tolerance_ms;
    if (psk.issue_ms > now_ms_ + tolerance) continue;
    const uint64_t our_age = now_ms_ > psk.issue_ms ? now_ms_ - psk.issue_ms : 0;
    if (our_age > uint64_t{psk.lifetime_s} * 1000) continue;
    // RFC 8446 4.2.11.1: the client's view of the age, de-obfuscated (mod 2^32).
    const uint64_t client_age = static_cast<uint32_t>(obfuscated_age - psk.age_add);
    const uint64_t diff = client_age > our_age ? client_age - our_age : our_age - client_age;
    if (diff > tolerance) continue;
    // A ticket is for the host it was issued for (RFC 8446 4.6.1, RFC 6066 3).
    if (ch.has_sni && !SameHostName({psk.sni.data(), psk.sni_len},
                                    {reinterpret_cast<const char*>(ch.sni.data()), ch.sni.size()})) {
      continue;
    }

    // RFC 8446 4.2.11.2: the binder is an HMAC, keyed like Finished from binder_key, over
    // the transcript up to and including the identities (after HelloRetryRequest: the
    // message_hash and the HRR first).
    Transcript partial = retry ? st_.transcript.Clone() : Transcript(params.hash);
    partial.Update(msg.first(kHandshakeHeaderBytes + ch.psk_binders_offset));
    Digest th, expected;
    partial.Current(th);
    Secret early, binder_key;
    WipeOnExit w1(&early, sizeof(early)), w2(&binder_key, sizeof(binder_key));
    if (!Ok(EarlySecret(params.hash, psk.psk.view(), early)) ||
        !Ok(BinderKey(early, /*resumption=*/true, binder_key)) ||
        !Ok(FinishedVerifyData(binder_key, th.view(), expected))) {
      return Alert::kInternalError;
    }
    const ByteView binder = PskBinderAt(ch.psk_binders, i);
    // RFC 8446 4.2.11: "If the server does not validate the binder, it MUST abort the
    // handshake with a "decrypt_error" alert". Compared in constant time.
    if (binder.size() != expected.len ||
        CRYPTO_memcmp(binder.data(), expected.bytes.data(), expected.len) != 0) {
      return Alert::kDecryptError;
    }
    index = i;
    found = true;
    return Step::Continue();
  }
  psk.Wipe();
  return Step::Continue();  // nothing usable: a full handshake
}

namespace {

// RFC 8446 4.2.2 cookie (ours): u8 version | u16 suite | u16 group | u8 flags | u64 issue_ms |
// u8 hash_len | Hash(ClientHello1) | HMAC-SHA256(cookie_key, everything before).
constexpr uint8_t kCookieVersion = 1;
constexpr uint8_t kCookieFlagCcsSent = 1;
constexpr size_t kCookieMacBytes = 32;
constexpr size_t kMaxCookieBytes = 1 + 2 + 2 + 1 + 8 + 1 + kMaxHashBytes + kCookieMacBytes;

bool CookieMac(const std::array<uint8_t, 32>& key, ByteView data, Secret& mac) noexcept {
  // HKDF-Extract(salt, ikm) is HMAC-Hash(salt, ikm) (RFC 5869 2.2).
  return Ok(HkdfExtract(HashAlg::kSha256, key, data, mac));
}

}  // namespace

// Writes the HelloRetryRequest into flight_ (RFC 8446 4.1.4): a ServerHello with the
// special random and only supported_versions, key_share (the selected group) and,
// optionally, cookie.
Step TlsServer::BuildHelloRetry(ByteView session_id, NamedGroup group, ByteView cookie) noexcept {
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
  if (!cookie.empty()) {
    w.U16(static_cast<uint16_t>(ExtType::kCookie));
    const size_t e = w.Begin(2);
    const size_t c = w.Begin(2);
    w.Bytes(cookie);
    if (!w.End(c) || !w.End(e)) return Alert::kInternalError;
  }
  if (!w.End(exts) || !w.End(m)) return Alert::kInternalError;
  return Step::Continue();
}

// RFC 8446 4.4.1: after a HelloRetryRequest the transcript is message_hash =
// Hash(ClientHello1), then the HelloRetryRequest itself.
void TlsServer::RestartTranscript(HashAlg hash, const Digest& ch1) noexcept {
  st_.transcript.Reset(hash);
  const std::array<uint8_t, 4> synthetic_header = {static_cast<uint8_t>(HsType::kMessageHash), 0,
                                                   0, ch1.len};
  st_.transcript.Update(synthetic_header);
  st_.transcript.Update(ch1.view());
}

Step TlsServer::SendHelloRetry(ByteView client_hello, ByteView session_id,
                               const SuiteParams& params, NamedGroup group, bool early_data,
                               OutputSink& to_peer) noexcept {
  Transcript first(params.hash);
  first.Update(client_hello);
  Digest ch1;
  first.Current(ch1);
  RestartTranscript(params.hash, ch1);

  // RFC 8446 4.2.2: the cookie lets a server that keeps no state take the second
  // ClientHello: it carries what that one needs (suite, group, Hash(ClientHello1)),
  // authenticated with our key.
  std::array<uint8_t, kMaxCookieBytes> cookie{};
  size_t cookie_len = 0;
  if (config_->hrr_cookie) {
    const bool ccs = !session_id.empty();  // sent below (RFC 8446 D.4)
    std::array<uint8_t, kMaxCookieBytes - kCookieMacBytes> body{};
    size_t n = 0;
    auto put = [&](uint64_t v, size_t bytes) {
      for (size_t i = 0; i < bytes; ++i) body[n++] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
    };
    put(kCookieVersion, 1);
    put(st_.suite, 2);
    put(static_cast<uint16_t>(group), 2);
    put(ccs || st_.ccs_sent ? kCookieFlagCcsSent : 0, 1);
    put(now_ms_, 8);
    put(ch1.len, 1);
    std::memcpy(body.data() + n, ch1.bytes.data(), ch1.len);
    n += ch1.len;
    Secret mac;
    WipeOnExit wipe_mac(&mac, sizeof(mac));
    if (!CookieMac(config_->cookie_key, {body.data(), n}, mac)) return Alert::kInternalError;
    std::memcpy(cookie.data(), body.data(), n);
    std::memcpy(cookie.data() + n, mac.bytes.data(), kCookieMacBytes);
    cookie_len = n + kCookieMacBytes;
  }
  if (const Step s = BuildHelloRetry(session_id, group, {cookie.data(), cookie_len}); !s.ok) {
    return s;
  }
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

// A second ClientHello with our cookie: checks the cookie and rebuilds what the
// HelloRetryRequest left in the state (suite, group, transcript), whether or not this
// server object sent it. RFC 8446 4.2.2 names no alert for a bad cookie; we answer
// illegal_parameter.
Step TlsServer::RestoreFromCookie(const ClientHello& ch) noexcept {
  if (!ch.has_cookie || ch.cookie.size() <= kCookieMacBytes ||
      ch.cookie.size() > kMaxCookieBytes) {
    return Alert::kIllegalParameter;
  }
  const ByteView body = ch.cookie.first(ch.cookie.size() - kCookieMacBytes);
  Secret mac;
  WipeOnExit wipe_mac(&mac, sizeof(mac));
  if (!CookieMac(config_->cookie_key, body, mac)) return Alert::kInternalError;
  if (CRYPTO_memcmp(mac.bytes.data(), ch.cookie.data() + body.size(), kCookieMacBytes) != 0) {
    return Alert::kIllegalParameter;
  }
  Reader r(body);
  const uint8_t version = r.U8();
  const uint16_t suite = r.U16();
  const uint16_t group = r.U16();
  const uint8_t flags = r.U8();
  uint64_t issue_ms = 0;
  for (int i = 0; i < 4; ++i) issue_ms = issue_ms << 16 | r.U16();
  const ByteView ch1 = r.Vec8();
  SuiteParams params{};
  if (!r.ok() || !r.empty() || version != kCookieVersion || !LookupSuite(suite, params) ||
      ch1.size() != DigestBytes(params.hash)) {
    return Alert::kIllegalParameter;
  }
  // A cookie is good for one round trip; an old one is replayed.
  const uint64_t age_ms = now_ms_ > issue_ms ? now_ms_ - issue_ms : issue_ms - now_ms_;
  if (age_ms > uint64_t{config_->cookie_lifetime_s} * 1000) return Alert::kIllegalParameter;

  Digest d;
  d.len = static_cast<uint8_t>(ch1.size());
  std::memcpy(d.bytes.data(), ch1.data(), ch1.size());
  st_.suite = suite;
  st_.group = group;
  if ((flags & kCookieFlagCcsSent) != 0) st_.ccs_sent = true;
  RestartTranscript(params.hash, d);
  if (const Step s = BuildHelloRetry(ch.session_id, static_cast<NamedGroup>(group), ch.cookie);
      !s.ok) {
    return s;
  }
  st_.transcript.Update(flight_);
  return Step::Continue();
}

Step TlsServer::SendServerFlight(ByteView client_hello, const ClientHello& ch,
                                 const SuiteParams& params, uint16_t scheme, bool retry,
                                 const TicketContents* psk, uint16_t psk_index,
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
  // Extension order as in the RFC 8448 traces (key_share, supported_versions); RFC 8446
  // 4.2 sets none, except that pre_shared_key is last in a ClientHello.
  size_t exts = w.Begin(2);
  w.U16(static_cast<uint16_t>(ExtType::kKeyShare));
  w.U16(static_cast<uint16_t>(4 + kx.server_public_len));
  w.U16(st_.group);
  w.U16(kx.server_public_len);
  w.Bytes({kx.server_public.data(), kx.server_public_len});
  w.U16(static_cast<uint16_t>(ExtType::kSupportedVersions));
  w.U16(2);
  w.U16(kTls13);
  if (psk != nullptr) {
    // RFC 8446 4.2.11: "uint16 selected_identity", zero-based.
    w.U16(static_cast<uint16_t>(ExtType::kPreSharedKey));
    w.U16(2);
    w.U16(psk_index);
  }
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
  Secret early, handshake, server_hs;
  WipeOnExit w1(&early, sizeof(early)), w2(&handshake, sizeof(handshake)),
      w3(&server_hs, sizeof(server_hs));
  Digest th;
  st_.transcript.Current(th);
  if (!Ok(EarlySecret(params.hash, psk != nullptr ? psk->psk.view() : ByteView{}, early)) ||
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
  if (!config_->ee_supported_groups.empty()) {
    // RFC 8446 4.2.7: servers may tell clients their group preference for next time.
    w.U16(static_cast<uint16_t>(ExtType::kSupportedGroups));
    const size_t e = w.Begin(2);
    const size_t list = w.Begin(2);
    for (const uint16_t g : config_->ee_supported_groups) w.U16(g);
    if (!w.End(list) || !w.End(e)) return Alert::kInternalError;
  }
  if (st_.alpn_len != 0) {
    w.U16(static_cast<uint16_t>(ExtType::kAlpn));
    const size_t e = w.Begin(2);
    const size_t list = w.Begin(2);
    w.U8(st_.alpn_len);
    w.Bytes({reinterpret_cast<const uint8_t*>(st_.alpn.data()), st_.alpn_len});
    if (!w.End(list) || !w.End(e)) return Alert::kInternalError;
  }
  if (ch.has_record_size_limit) {
    // RFC 8449 4: a server answers the client's extension with its own limit.
    w.U16(static_cast<uint16_t>(ExtType::kRecordSizeLimit));
    w.U16(2);
    w.U16(st_.recv_inner_limit);
  }
  if (ch.has_sni && psk == nullptr) {
    // RFC 6066 3: a server that used the client's server_name "SHALL include an extension
    // of type "server_name" ... The "extension_data" field of this extension SHALL be
    // empty." We chose the certificate by it. Not on resumption (RFC 6066 3).
    w.U16(static_cast<uint16_t>(ExtType::kServerName));
    w.U16(0);
  }
  if (!w.End(exts) || !w.End(m)) return Alert::kInternalError;

  if (psk != nullptr) {
    // RFC 8446 2.2: a PSK handshake authenticates with the PSK: no Certificate and no
    // CertificateVerify.
    st_.transcript.Update(flight_);
    return FinishServerFlight(params, handshake, server_hs, to_peer);
  }

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
  if (config_->sign_for_test != nullptr) {
    if (!config_->sign_for_test(config_->sign_ctx_for_test, scheme, th.view(), signature)) {
      return Alert::kInternalError;
    }
  } else if (const Step s = SignCertificateVerify(cred.key, scheme, th.view(), signature);
             !s.ok) {
    return s;
  }
  const size_t cv_at = flight_.size();
  m = BeginMessage(w, HsType::kCertificateVerify);
  w.U16(scheme);
  const size_t sig = w.Begin(2);
  w.Bytes(signature);
  if (!w.End(sig) || !w.End(m)) return Alert::kInternalError;
  st_.transcript.Update({flight_.data() + cv_at, flight_.size() - cv_at});
  return FinishServerFlight(params, handshake, server_hs, to_peer);
}

// Appends Finished to flight_ (whose messages are already in the transcript), sends the
// flight and moves our sending side to the application traffic key.
Step TlsServer::FinishServerFlight(const SuiteParams& params, const Secret& handshake,
                                   const Secret& server_hs, OutputSink& to_peer) noexcept {
  Writer w(flight_);
  Digest th;
  // Finished (RFC 8446 4.4.4) over Transcript-Hash(ClientHello...CertificateVerify).
  st_.transcript.Current(th);
  Digest verify;
  if (!Ok(FinishedVerifyData(server_hs, th.view(), verify))) return Alert::kInternalError;
  const size_t fin_at = flight_.size();
  const size_t m = BeginMessage(w, HsType::kFinished);
  w.Bytes(verify.view());
  if (!w.End(m)) return Alert::kInternalError;
  st_.transcript.Update({flight_.data() + fin_at, flight_.size() - fin_at});
  if (const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer); !s.ok) return s;

  // RFC 8446 7.1: application secrets from Transcript-Hash(ClientHello...server Finished).
  // We send with ours from now on (0.5-RTT is allowed); the client's wait for its Finished.
  st_.transcript.Current(th);
  Secret master;
  WipeOnExit wipe_master(&master, sizeof(master));
  if (!Ok(MasterSecret(handshake, master)) ||
      !Ok(ClientApplicationTrafficSecret(master, th.view(), st_.client_app_secret)) ||
      !Ok(ServerApplicationTrafficSecret(master, th.view(), st_.server_app_secret)) ||
      !Ok(DeriveTrafficKey(params.aead, st_.server_app_secret, st_.write_key))) {
    return Alert::kInternalError;
  }
  // Kept for the resumption master secret, which needs the client Finished (RFC 8446 7.1).
  if (TicketsEnabled()) st_.master_secret = master;
  st_.write_seq = 0;
  write_ready_ = false;
  st_.hs = HsState::kExpectClientFinished;
  return Step::Continue();
}

// ---------------------------------------------------------------------------------------
// After the server flight

Step TlsServer::OnClientFinished(ByteView msg, OutputSink& to_peer) noexcept {
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
  st_.transcript.Update(msg);  // for the resumption master secret
  if (!Ok(DeriveTrafficKey(aead(), st_.client_app_secret, st_.read_key))) {
    return Alert::kInternalError;
  }
  st_.read_seq = 0;
  read_ready_ = false;
  key_changed_ = true;
  st_.client_hs_secret.Wipe();
  st_.early_skip_budget = 0;
  st_.hs = HsState::kConnected;
  // RFC 8446 4.6.1: "At any time after the server has received the client Finished
  // message, it MAY send a NewSessionTicket message."
  const Step s = TicketsEnabled() ? SendTickets(to_peer) : Step::Continue();
  st_.master_secret.Wipe();
  return s;
}

bool TlsServer::TicketsEnabled() const noexcept {
  return !config_->ticket_keys.empty() && config_->tickets_per_handshake > 0;
}

Step TlsServer::SendTickets(OutputSink& to_peer) noexcept {
  if (st_.master_secret.len == 0) return Alert::kInternalError;
  Digest th;
  st_.transcript.Current(th);  // ClientHello...client Finished
  Secret resumption;
  WipeOnExit wipe_res(&resumption, sizeof(resumption));
  if (!Ok(ResumptionMasterSecret(st_.master_secret, th.view(), resumption))) {
    return Alert::kInternalError;
  }
  const RandomFn random = config_->random != nullptr ? config_->random : &DefaultRandom;
  TicketContents t;
  WipeOnExit wipe_t(&t, sizeof(t));
  t.suite = st_.suite;
  t.issue_ms = now_ms_;
  // RFC 8446 4.6.1: "Servers MUST NOT use any value greater than 604800 seconds".
  t.lifetime_s = std::min<uint32_t>(config_->ticket_lifetime_s, 604800);
  t.sni_len = st_.sni_len;
  std::memcpy(t.sni.data(), st_.sni.data(), st_.sni_len);
  t.alpn_len = st_.alpn_len;
  std::memcpy(t.alpn.data(), st_.alpn.data(), st_.alpn_len);
  std::array<uint8_t, kMaxTls13TicketBytes> ticket{};
  flight_.clear();
  Writer w(flight_);
  for (uint8_t i = 0; i < config_->tickets_per_handshake; ++i) {
    // RFC 8446 4.6.1: ticket_nonce, "unique across all tickets issued on this connection";
    // the PSK is HKDF-Expand-Label(resumption_master_secret, "resumption", nonce).
    const std::array<uint8_t, 1> nonce = {i};
    std::array<uint8_t, 4 + kTls13TicketNonceBytes> rnd{};  // ticket_age_add, seal nonce
    if (!random(config_->random_ctx, rnd.data(), rnd.size()) ||
        !Ok(ResumptionPsk(resumption, nonce, t.psk))) {
      return Alert::kInternalError;
    }
    t.age_add = uint32_t{rnd[0]} << 24 | uint32_t{rnd[1]} << 16 | uint32_t{rnd[2]} << 8 | rnd[3];
    const size_t len =
        SealTls13Ticket(*ctx_, config_->ticket_keys[0],
                   std::span<const uint8_t, kTls13TicketNonceBytes>(rnd.data() + 4, kTls13TicketNonceBytes),
                   t, ticket);
    if (len == 0) return Alert::kInternalError;
    // RFC 8446 4.6.1: struct { uint32 ticket_lifetime; uint32 ticket_age_add;
    // opaque ticket_nonce<0..255>; opaque ticket<1..2^16-1>; Extension extensions<0..2^16-2>; }
    const size_t m = BeginMessage(w, HsType::kNewSessionTicket);
    w.U16(static_cast<uint16_t>(t.lifetime_s >> 16));
    w.U16(static_cast<uint16_t>(t.lifetime_s));
    w.U16(static_cast<uint16_t>(t.age_add >> 16));
    w.U16(static_cast<uint16_t>(t.age_add));
    w.U8(static_cast<uint8_t>(nonce.size()));
    w.Bytes(nonce);
    w.U16(static_cast<uint16_t>(len));
    w.Bytes({ticket.data(), len});
    w.U16(0);  // no extensions: no early_data, 0-RTT is not offered
    if (!w.End(m)) return Alert::kInternalError;
  }
  SecureWipe(ticket.data(), ticket.size());
  const Step s = SendRecords(ContentType::kHandshake, flight_, to_peer);
  flight_.clear();
  return s;
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
  // RFC 8449 4: protected records carry at most the client's limit; plaintext ones
  // (ServerHello, HelloRetryRequest, early alerts) are not bound by it.
  const size_t fragment =
      st_.write_protected && type != ContentType::kChangeCipherSpec
          ? std::min<size_t>(st_.send_fragment_limit, kMaxPlaintextBytes)
          : kMaxPlaintextBytes;
  do {
    const ByteView chunk = data.first(std::min(data.size(), fragment));
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
