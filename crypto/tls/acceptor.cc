#include "crypto/tls/acceptor.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "crypto/secure_wipe.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/reader.h"
#include "crypto/tls/record.h"

namespace baton::crypto::tls {
namespace {

constexpr uint8_t kClientHelloType = 1;
constexpr uint16_t kExtSupportedVersions = 43;

// Reads just enough of a ClientHello body to route it: does supported_versions list TLS
// 1.3? Anything malformed is "no"; the server that gets it parses it properly.
bool OffersTls13(ByteView body) noexcept {
  Reader r(body);
  (void)r.U16();  // legacy_version
  (void)r.Bytes(32);
  (void)r.Vec8();   // session id
  (void)r.Vec16();  // cipher suites
  (void)r.Vec8();   // compression methods
  if (!r.ok() || r.empty()) return false;
  Reader exts = r.Sub16();
  while (exts.ok() && !exts.empty()) {
    const uint16_t type = exts.U16();
    Reader data = exts.Sub16();
    if (type != kExtSupportedVersions) continue;
    Reader versions = data.Sub8();
    while (versions.ok() && !versions.empty()) {
      if (versions.U16() == kTls13) return versions.ok();
    }
    return false;
  }
  return false;
}

}  // namespace

void TlsAcceptor::Rebind(const TlsServerConfig* tls13, const Tls12Config* tls12, CryptoContext& ctx) noexcept {
  config13_ = tls13;
  config12_ = tls12;
  ctx_ = &ctx;
  if (tls13_ && tls13 != nullptr) tls13_->Rebind(*tls13, ctx);
  if (tls12_ && tls12 != nullptr) tls12_->Rebind(*tls12, ctx);
}

TlsAcceptor::TlsAcceptor(const TlsServerConfig* tls13, const Tls12Config* tls12,
                         CryptoContext& ctx) noexcept
    : config13_(tls13), config12_(tls12), ctx_(&ctx) {}

TlsAcceptor::TlsAcceptor(const TlsServerConfig* tls13, const Tls12Config* tls12,
                         CryptoContext& ctx, const TlsAcceptorState& state) noexcept
    : config13_(tls13), config12_(tls12), ctx_(&ctx) {
  failed_ = state.failed;
  alert_ = state.alert_sent;
  if (state.version == kTls13 && config13_ != nullptr) {
    tls13_.emplace(*config13_, ctx, state.inner.tls13);
  } else if (state.version == kTls12 && config12_ != nullptr) {
    tls12_.emplace(*config12_, ctx, state.inner.tls12);
  } else if (state.version == 0 && state.pending_fill <= pending_.size()) {
    pending_fill_ = state.pending_fill;
    std::memcpy(pending_.data(), state.inner.pending.data(), pending_fill_);
  } else {
    // A session of a version this box has disabled: nothing we can continue.
    failed_ = true;
    alert_ = Alert::kInternalError;
  }
}

TlsAcceptor::~TlsAcceptor() { SecureWipe(pending_.data(), pending_fill_); }

void TlsAcceptor::CopySessionState(TlsAcceptorState& out) const noexcept {
  out.version = version();
  out.failed = failed_;
  out.alert_sent = alert_;
  out.pending_fill = 0;
  if (tls13_) {
    std::construct_at(&out.inner.tls13, tls13_->session_state());
  } else if (tls12_) {
    std::construct_at(&out.inner.tls12, tls12_->session_state());
  } else {
    std::construct_at(&out.inner.pending);
    out.pending_fill = pending_fill_;
    std::memcpy(out.inner.pending.data(), pending_.data(), pending_fill_);
  }
}

uint16_t TlsAcceptor::version() const noexcept {
  return tls13_ ? kTls13 : tls12_ ? kTls12 : 0;
}

// ---------------------------------------------------------------------------------------

TlsStatus TlsAcceptor::Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept {
  if (tls13_) return tls13_->Input(in, to_peer, app);
  if (tls12_) return tls12_->Input(in, to_peer, app);
  if (failed_) return alert_ == Alert::kCloseNotify ? TlsStatus::kClosed : TlsStatus::kFailed;
  if (config13_ == nullptr && config12_ == nullptr) return Refuse(Alert::kInternalError, to_peer);
  const size_t take = std::min(in.size(), pending_.size() - pending_fill_);
  if (take != 0) std::memcpy(pending_.data() + pending_fill_, in.data(), take);
  pending_fill_ = static_cast<uint16_t>(pending_fill_ + take);
  in = in.subspan(take);

  uint16_t version = 0;
  switch (ScanPending(version)) {
    case Scan::kNeedMore:
      // Full, and still no whole ClientHello: too big, or cut into too many records.
      if (pending_fill_ == pending_.size()) return Refuse(Alert::kDecodeError, to_peer);
      return TlsStatus::kOk;
    case Scan::kTooBig:
      return Refuse(Alert::kDecodeError, to_peer);
    case Scan::kNotHello:
      version = config13_ != nullptr ? kTls13 : kTls12;
      break;
    case Scan::kHello:
      break;
  }
  const TlsStatus s = Start(version, to_peer, app);
  if (s != TlsStatus::kOk || in.empty()) return s;
  return Input(in, to_peer, app);  // forwards: a server exists now
}

TlsAcceptor::Scan TlsAcceptor::ScanPending(uint16_t& version) noexcept {
  // Walk the records completed since the last call.
  while (pending_fill_ - scanned_ >= kRecordHeaderBytes) {
    RecordHeader hdr;
    if (ParseRecordHeader({pending_.data() + scanned_, kRecordHeaderBytes}, hdr) !=
            RecordStatus::kOk ||
        hdr.type != ContentType::kHandshake) {
      return Scan::kNotHello;  // the server will name the problem
    }
    if (pending_fill_ - scanned_ < kRecordHeaderBytes + hdr.length) break;
    scanned_ += kRecordHeaderBytes + hdr.length;
    hello_bytes_ += hdr.length;
  }
  // The handshake header may already sit in a record that is not complete yet: an
  // oversized ClientHello is refused as soon as its length is known.
  size_t partial = 0;
  if (pending_fill_ - scanned_ >= kRecordHeaderBytes) {
    partial = pending_fill_ - scanned_ - kRecordHeaderBytes;
  }
  if (hello_bytes_ + partial < kHandshakeHeaderBytes) return Scan::kNeedMore;
  std::array<uint8_t, kHandshakeHeaderBytes> head{};
  Gather(0, head);
  if (head[0] != kClientHelloType) return Scan::kNotHello;
  const size_t len = size_t{head[1]} << 16 | size_t{head[2]} << 8 | head[3];
  // The servers' own limit (server.h); both would answer decode_error too.
  if (len > kMaxHandshakeMessageBytes) return Scan::kTooBig;
  if (hello_bytes_ < kHandshakeHeaderBytes + len) return Scan::kNeedMore;
  // (Gather below may also read the partial record; the message ends before it anyway.)
  // HOT-PATH EXCEPTION (stack): 16 KiB scratch, once per connection, to read the
  // ClientHello in one piece when it spans records.
  std::array<uint8_t, kMaxHandshakeMessageBytes> body;
  Gather(kHandshakeHeaderBytes, {body.data(), len});
  const bool tls13 = OffersTls13({body.data(), len});
  if (tls13 && config13_ != nullptr) {
    version = kTls13;
  } else if (config12_ != nullptr) {
    version = kTls12;
  } else {
    version = kTls13;  // TLS 1.2 disabled: the TLS 1.3 server answers protocol_version
  }
  return Scan::kHello;
}

void TlsAcceptor::Gather(size_t at, MutByteView out) const noexcept {
  // Walks every buffered record, the last one possibly partial (its header was checked by
  // ScanPending), clamped to the bytes held.
  size_t rec = 0;
  size_t copied = 0;
  size_t hs_pos = 0;  // handshake offset of the current record's first byte
  while (copied < out.size() && rec + kRecordHeaderBytes <= pending_fill_) {
    const size_t len = std::min<size_t>(size_t{pending_[rec + 3]} << 8 | pending_[rec + 4],
                                        pending_fill_ - rec - kRecordHeaderBytes);
    const uint8_t* body = pending_.data() + rec + kRecordHeaderBytes;
    const size_t want = at + copied;
    if (want < hs_pos + len) {
      const size_t n = std::min(hs_pos + len - want, out.size() - copied);
      std::memcpy(out.data() + copied, body + (want - hs_pos), n);
      copied += n;
    }
    hs_pos += len;
    rec += kRecordHeaderBytes + len;
  }
}

TlsStatus TlsAcceptor::Start(uint16_t version, OutputSink& to_peer, OutputSink& app) noexcept {
  const ByteView buffered(pending_.data(), pending_fill_);
  TlsStatus s;
  if (version == kTls13) {
    tls13_.emplace(*config13_, *ctx_);
    tls13_->set_now_ms(now_ms_);
    s = tls13_->Input(buffered, to_peer, app);
  } else {
    tls12_.emplace(*config12_, *ctx_);
    tls12_->set_now_ms(now_ms_);
    s = tls12_->Input(buffered, to_peer, app);
  }
  SecureWipe(pending_.data(), pending_fill_);
  pending_fill_ = 0;
  return s;
}

TlsStatus TlsAcceptor::Refuse(Alert alert, OutputSink& to_peer) noexcept {
  failed_ = true;
  alert_ = alert;
  // Before any ServerHello: a plaintext fatal alert record.
  const std::array<uint8_t, 2> body = {2, static_cast<uint8_t>(alert)};
  std::array<uint8_t, kRecordHeaderBytes + 2> record{};
  size_t written = 0;
  if (WritePlaintextRecord(ContentType::kAlert, body, record, written) == RecordStatus::kOk) {
    (void)to_peer.Append({record.data(), written});
  }
  return TlsStatus::kFailed;
}

void TlsAcceptor::set_now_ms(uint64_t unix_ms) noexcept {
  now_ms_ = unix_ms;
  if (tls13_) tls13_->set_now_ms(unix_ms);
  if (tls12_) tls12_->set_now_ms(unix_ms);
}

TlsStatus TlsAcceptor::WriteApp(ByteView plain, OutputSink& to_peer) noexcept {
  if (tls13_) return tls13_->WriteApp(plain, to_peer);
  if (tls12_) return tls12_->WriteApp(plain, to_peer);
  return TlsStatus::kFailed;  // no handshake yet
}

TlsStatus TlsAcceptor::Close(OutputSink& to_peer) noexcept {
  if (tls13_) return tls13_->Close(to_peer);
  if (tls12_) return tls12_->Close(to_peer);
  if (failed_) return TlsStatus::kFailed;
  // No version yet, so no keys: a plaintext close_notify, and nothing more is read.
  const std::array<uint8_t, 2> body = {1, static_cast<uint8_t>(Alert::kCloseNotify)};
  std::array<uint8_t, kRecordHeaderBytes + 2> record{};
  size_t written = 0;
  if (WritePlaintextRecord(ContentType::kAlert, body, record, written) == RecordStatus::kOk) {
    (void)to_peer.Append({record.data(), written});
  }
  failed_ = true;
  alert_ = Alert::kCloseNotify;
  return TlsStatus::kClosed;
}

// ---------------------------------------------------------------------------------------

bool TlsAcceptor::connected() const noexcept {
  return tls13_ ? tls13_->connected() : tls12_ ? tls12_->connected() : false;
}
bool TlsAcceptor::resumed() const noexcept {
  return tls13_ ? tls13_->resumed() : tls12_ ? tls12_->resumed() : false;
}
std::string_view TlsAcceptor::sni() const noexcept {
  return tls13_ ? tls13_->sni() : tls12_ ? tls12_->sni() : std::string_view();
}
std::string_view TlsAcceptor::alpn() const noexcept {
  return tls13_ ? tls13_->alpn() : tls12_ ? tls12_->alpn() : std::string_view();
}
uint16_t TlsAcceptor::suite() const noexcept {
  return tls13_ ? tls13_->suite() : tls12_ ? tls12_->suite() : 0;
}
uint16_t TlsAcceptor::group() const noexcept {
  return tls13_ ? tls13_->group() : tls12_ ? tls12_->group() : 0;
}
std::optional<Alert> TlsAcceptor::alert_sent() const noexcept {
  if (tls13_) return tls13_->alert_sent();
  if (tls12_) return tls12_->alert_sent();
  return failed_ && alert_ != Alert::kCloseNotify ? std::optional<Alert>(alert_) : std::nullopt;
}
std::optional<Alert> TlsAcceptor::alert_received() const noexcept {
  if (tls13_) return tls13_->alert_received();
  if (tls12_) return tls12_->alert_received();
  return std::nullopt;
}

}  // namespace baton::crypto::tls
