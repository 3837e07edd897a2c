// libFuzzer target: the TLS 1.3 server's handshake (crypto/tls/server.h, messages.h).
//
// Modes (byte 0, bits 0-1):
//   0  the rest is the client's byte stream, fed to a fresh TlsServer in pieces;
//   1  the rest is a ClientHello body: ParseClientHello must keep its contract, then the
//      harness adds the handshake header, cuts the message into records and feeds a fresh
//      server, which must send the alert the parser gave (or go on when it parsed);
//   2  a server that has sent its flight (waits for the client Finished; handshake keys),
//      copied from a snapshot the harness made once with libssl as the client; the rest is
//      a list of messages that the harness seals with the server's current read key;
//   3  the same from a connected snapshot (application keys): data, KeyUpdate, alerts.
// Byte 0, bits 2-4: piece size for feeding (modes 0, 2, 3) or record size (mode 1).
// Byte 0, bits 5-6: modes 0/1: bit 5 = server accepts P-256 only (X25519 shares get a
//   HelloRetryRequest), bit 6 = server has ALPN {h2, http/1.1}; modes 2/3: the suite of
//   the snapshot (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, AES-128-GCM).
// Byte 0, bit 7: mode 2: first feed the client's real Finished flight (CCS + Finished),
//   so the later messages meet a connected server under the application keys.
// Messages (modes 2/3): [ctl][len: u16 big-endian][bytes], len cut to what is left.
//   ctl bit 7 set: the bytes go to Input as they are;
//   ctl 0x1f: the bytes go to WriteApp (server to client); ctl 0x1e: Close();
//   otherwise sealed with inner type ctl & 0x1f and padding {0, 1, 16, 255}[ctl >> 5 & 3].
//
// Fails on: an OutputSink::Append that is not exactly one well-formed record; kFailed
// without a recorded alert or not closed; an alert sent that is not the last record out
// (decrypted and compared when protected); output or app data after kFailed; app data
// that is not the content of the sealed application_data record just fed; mode 1: parser
// and server disagreeing.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/record.h"
#include "crypto/tls/server.h"

namespace {

using namespace baton::crypto;
using namespace baton::crypto::tls;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "tls_handshake_fuzz: invariant violated: %s\n", what);
  std::abort();
}

constexpr std::array<size_t, 8> kPieces = {SIZE_MAX, 1, 2, 3, 7, 64, 1000, 5000};

// Every Append must be one whole record (server.h: "receives whole records").
struct RecordSink final : OutputSink {
  std::vector<Bytes> records;
  bool Append(ByteView b) noexcept override {
    if (b.size() < kRecordHeaderBytes) Fail("Append shorter than a record header");
    const auto type = static_cast<ContentType>(b[0]);
    if (type != ContentType::kChangeCipherSpec && type != ContentType::kAlert &&
        type != ContentType::kHandshake && type != ContentType::kApplicationData) {
      Fail("record of an unknown type sent");
    }
    if (b[1] != 3 || b[2] != 3) Fail("record version not 0x0303");
    const size_t len = size_t{b[3]} << 8 | b[4];
    if (len + kRecordHeaderBytes != b.size()) Fail("Append is not exactly one record");
    if (len > (type == ContentType::kApplicationData ? kMaxCiphertextBytes : kMaxPlaintextBytes)) {
      Fail("record sent above the size limit");
    }
    if (len == 0) Fail("empty record sent");
    records.emplace_back(b.begin(), b.end());
    return true;
  }
};

struct AppSink final : OutputSink {
  Bytes data;
  bool Append(ByteView b) noexcept override {
    if (b.empty()) Fail("empty app Append");
    data.insert(data.end(), b.begin(), b.end());
    return true;
  }
};

bool CounterRandom(void* ctx, uint8_t* out, size_t len) noexcept {
  auto* c = static_cast<uint8_t*>(ctx);
  for (size_t i = 0; i < len; ++i) out[i] = (*c)++;
  return true;
}
uint8_t g_random_counter = 0;

Bytes SelfSigned(EVP_PKEY* key) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 10 * 365 * 86400L);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("baton fuzz"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  if (X509_sign(x, key, EVP_sha256()) <= 0) Fail("X509_sign");
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  X509_free(x);
  return out;
}

struct Snapshot {
  TlsServerState flight_sent;  // kExpectClientFinished
  TlsServerState connected;
  Bytes client_finished;       // the client's second flight, as it sent it
};

struct World {
  std::optional<CryptoContext> ctx;
  EVP_PKEY* key = nullptr;
  Bytes cert;
  std::vector<Credential> creds;
  std::array<TlsServerConfig, 4> configs;      // modes 0/1 by bits 5-6
  TlsServerConfig snapshot_config;             // modes 2/3
  std::array<std::unique_ptr<Snapshot>, 3> snapshots;
};

// A real handshake with libssl as the client, for the snapshots of modes 2/3.
std::unique_ptr<Snapshot> MakeSnapshot(World& w, const char* suite) {
  auto snap = std::make_unique<Snapshot>();
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
  if (SSL_CTX_set_ciphersuites(cctx, suite) != 1) Fail("SSL_CTX_set_ciphersuites");
  const unsigned char* p = w.cert.data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(w.cert.size()));
  X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), x);
  X509_free(x);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(cctx);
  BIO* to_client = BIO_new(BIO_s_mem());
  BIO* from_client = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(to_client, -1);
  SSL_set_bio(ssl, to_client, from_client);
  SSL_set_connect_state(ssl);
  auto server = std::make_unique<TlsServer>(w.snapshot_config, *w.ctx);
  RecordSink out;
  AppSink app;
  auto drain = [&] {
    Bytes b(1 << 16);
    Bytes all;
    int n;
    while ((n = BIO_read(from_client, b.data(), static_cast<int>(b.size()))) > 0) {
      all.insert(all.end(), b.begin(), b.begin() + n);
    }
    return all;
  };
  if (SSL_do_handshake(ssl) != -1) Fail("client finished without a server");
  const Bytes hello = drain();
  if (server->Input(hello, out, app) != TlsStatus::kOk ||
      server->state() != HsState::kExpectClientFinished) {
    Fail("snapshot handshake: server did not send its flight");
  }
  snap->flight_sent = server->session_state();
  for (const Bytes& r : out.records) BIO_write(to_client, r.data(), static_cast<int>(r.size()));
  if (SSL_do_handshake(ssl) != 1) Fail("snapshot handshake: client did not finish");
  snap->client_finished = drain();
  if (server->Input(snap->client_finished, out, app) != TlsStatus::kOk || !server->connected()) {
    Fail("snapshot handshake: server not connected");
  }
  snap->connected = server->session_state();
  SSL_free(ssl);
  SSL_CTX_free(cctx);
  ERR_clear_error();
  return snap;
}

World& TheWorld() {
  static World* w = [] {
    auto* out = new World;
    out->ctx = CryptoContext::Create();
    if (!out->ctx) Fail("CryptoContext::Create");
    out->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (out->key == nullptr) Fail("P-256 keygen");
    out->cert = SelfSigned(out->key);
    out->creds.push_back(Credential{{out->cert}, out->key});
    const std::string_view alpn[] = {"h2", "http/1.1"};
    for (size_t i = 0; i < out->configs.size(); ++i) {
      TlsServerConfig& c = out->configs[i];
      c.credentials = out->creds;
      if (i & 1) c.groups = {NamedGroup::kSecp256r1};
      if (i & 2) c.alpn_wire = EncodeAlpn(alpn);
      c.random = &CounterRandom;
      c.random_ctx = &g_random_counter;
    }
    out->snapshot_config.credentials = out->creds;
    const char* suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                            "TLS_CHACHA20_POLY1305_SHA256"};
    for (size_t i = 0; i < 3; ++i) out->snapshots[i] = MakeSnapshot(*out, suites[i]);
    return out;
  }();
  return *w;
}

// One server under test with the checks that hold for every input.
class Driver {
 public:
  Driver(World& w, const TlsServerConfig& config, const TlsServerState* from) : w_(w) {
    server_ = from != nullptr ? std::make_unique<TlsServer>(config, *w.ctx, *from)
                              : std::make_unique<TlsServer>(config, *w.ctx);
  }

  // Feeds `in` in pieces; `sealed_app` is the content of the one sealed application_data
  // record `in` holds, if any (the only thing the app sink may receive).
  TlsStatus Feed(ByteView in, size_t piece, std::optional<ByteView> sealed_app = std::nullopt) {
    const size_t records_before = out_.records.size();
    const size_t app_before = app_.data.size();
    // After our close_notify no alert goes out (server.cc Fail), so none is checked.
    const bool had_alert = server_->alert_sent().has_value() || server_->session_state().close_sent;
    // A record only reaches the app sink whole and on a record boundary: raw bytes fed
    // before may have left a partial record that swallows this one.
    const bool could_read = server_->connected() && !server_->session_state().peer_closed &&
                            server_->session_state().record.fill == 0;
    TlsStatus st = TlsStatus::kOk;
    while (!in.empty()) {
      const ByteView p = in.first(std::min(in.size(), piece));
      in = in.subspan(p.size());
      st = server_->Input(p, out_, app_);
      if (failed_) {
        if (st != TlsStatus::kFailed) Fail("a failed session came back");
        if (out_.records.size() != records_at_fail_ || app_.data.size() != app_at_fail_) {
          Fail("output after kFailed");
        }
      }
      if (st == TlsStatus::kFailed && !failed_) {
        failed_ = true;
        records_at_fail_ = out_.records.size();
        app_at_fail_ = app_.data.size();
        if (server_->state() != HsState::kClosed) Fail("kFailed but not closed");
        const bool alert_in = server_->alert_received().has_value() &&
                              *server_->alert_received() != Alert::kCloseNotify;
        if (!server_->alert_sent() && !alert_in) Fail("kFailed with no alert either way");
      }
    }
    if (!had_alert && server_->alert_sent()) CheckAlertRecord(*server_->alert_sent(), records_before);
    const ByteView got(app_.data.data() + app_before, app_.data.size() - app_before);
    if (!got.empty()) {
      if (!sealed_app || !could_read) Fail("app data from a record that was not sealed data");
      if (!std::equal(got.begin(), got.end(), sealed_app->begin(), sealed_app->end())) {
        Fail("app data differs from what was sealed");
      }
    } else if (sealed_app && !sealed_app->empty() && could_read && !failed_ &&
               server_->connected()) {
      Fail("sealed application data vanished");
    }
    return st;
  }

  // Server-side calls: they may only emit whole records, and nothing once failed.
  void WriteApp(ByteView plain) {
    const size_t before = out_.records.size();
    const bool could = server_->connected() && !server_->session_state().close_sent;
    const TlsStatus st = server_->WriteApp(plain, out_);
    if (could && st != TlsStatus::kOk) Fail("WriteApp failed on an open session");
    if (!could && (st != TlsStatus::kFailed || out_.records.size() != before)) {
      Fail("WriteApp wrote on a session that cannot send");
    }
    if (could) {
      const size_t want = plain.empty() ? 0 : (plain.size() + kMaxPlaintextBytes - 1) / kMaxPlaintextBytes;
      if (out_.records.size() - before < want) Fail("WriteApp sent too few records");
    }
  }
  void Close() {
    const size_t before = out_.records.size();
    const bool was_sent = server_->session_state().close_sent;
    const TlsStatus st = server_->Close(out_);
    if (st == TlsStatus::kOk) Fail("Close returned kOk");
    if (was_sent && out_.records.size() != before) Fail("second close_notify sent");
    if (!server_->session_state().close_sent && server_->state() != HsState::kClosed) {
      Fail("Close did not close");
    }
  }

  TlsServer& server() { return *server_; }

 private:
  // The alert must be the last record out: plaintext before our keys, sealed after.
  void CheckAlertRecord(Alert alert, size_t records_before) {
    if (out_.records.size() == records_before) Fail("alert sent but no record out");
    Bytes rec = out_.records.back();
    const TlsServerState& st = server_->session_state();
    if (!st.write_protected) {
      const Bytes want = {21, 3, 3, 0, 2, 2, static_cast<uint8_t>(alert)};
      if (rec != want) Fail("plaintext alert record is wrong");
      return;
    }
    if (rec.size() != kRecordHeaderBytes + 2 + kProtectOverheadBytes || rec[0] != 23) {
      Fail("protected alert record has the wrong size or type");
    }
    AeadKey key;
    if (w_.ctx->Expand(st.write_key, key) != CryptoStatus::kOk) Fail("Expand write key");
    ContentType type = ContentType::kInvalid;
    MutByteView content;
    if (st.write_seq == 0 ||
        Unprotect(*w_.ctx, key, st.write_seq - 1, {rec.data(), rec.size()}, type, content) !=
            RecordStatus::kOk) {
      Fail("protected alert does not open with the write key");
    }
    if (type != ContentType::kAlert || content.size() != 2 || content[0] != 2 ||
        content[1] != static_cast<uint8_t>(alert)) {
      Fail("protected alert content is wrong");
    }
  }

  World& w_;
  std::unique_ptr<TlsServer> server_;
  RecordSink out_;
  AppSink app_;
  bool failed_ = false;
  size_t records_at_fail_ = 0;
  size_t app_at_fail_ = 0;
};

bool Inside(ByteView part, ByteView whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool EvenList(ByteView v) { return v.size() >= 2 && v.size() % 2 == 0; }

// ParseClientHello's contract (messages.h) on success and failure.
Step CheckParse(ByteView body) {
  ClientHello ch;
  const Step s = ParseClientHello(body, ch);
  if (!s.ok) {
    if (s.alert != Alert::kDecodeError && s.alert != Alert::kIllegalParameter) {
      Fail("ParseClientHello: unexpected alert");
    }
    return s;
  }
  if (ch.random.size() != 32 || !Inside(ch.random, body)) Fail("random");
  if (ch.session_id.size() > 32 || !Inside(ch.session_id, body)) Fail("session id");
  if (!EvenList(ch.cipher_suites) || !Inside(ch.cipher_suites, body)) Fail("cipher suites");
  if (ch.offers_tls13 && !ch.has_supported_versions) Fail("tls13 without supported_versions");
  if (ch.share_count > kMaxKeyShares) Fail("share count");
  for (size_t i = 0; i < ch.share_count; ++i) {
    if (ch.shares[i].key.empty() || !Inside(ch.shares[i].key, body)) Fail("key share");
    for (size_t j = 0; j < i; ++j) {
      if (ch.shares[i].group == ch.shares[j].group) Fail("duplicate key share accepted");
    }
  }
  if (ch.share_count > 0 && !ch.has_key_share) Fail("shares without key_share");
  if (ch.has_supported_groups && (!EvenList(ch.supported_groups) || !Inside(ch.supported_groups, body))) {
    Fail("supported_groups");
  }
  if (ch.has_signature_algorithms &&
      (!EvenList(ch.signature_algorithms) || !Inside(ch.signature_algorithms, body))) {
    Fail("signature_algorithms");
  }
  if (ch.has_sni && (ch.sni.empty() || !Inside(ch.sni, body))) Fail("sni");
  if (ch.has_alpn && (ch.alpn_list.size() < 2 || !Inside(ch.alpn_list, body))) Fail("alpn");
  return s;
}

void RunStream(World& w, uint8_t ctl, ByteView rest) {
  Driver d(w, w.configs[ctl >> 5 & 3], nullptr);
  (void)d.Feed(rest, kPieces[ctl >> 2 & 7]);
}

void RunClientHelloBody(World& w, uint8_t ctl, ByteView body) {
  const Step parsed = CheckParse(body);
  if (body.size() > kMaxHandshakeMessageBytes) return;
  Bytes msg = {static_cast<uint8_t>(HsType::kClientHello), 0, static_cast<uint8_t>(body.size() >> 8),
               static_cast<uint8_t>(body.size())};
  msg.insert(msg.end(), body.begin(), body.end());
  const size_t record = std::min(kPieces[ctl >> 2 & 7], kMaxPlaintextBytes);
  Bytes stream;
  for (size_t off = 0; off < msg.size(); off += record) {
    const size_t n = std::min(record, msg.size() - off);
    stream.insert(stream.end(), {22, 3, 1, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    stream.insert(stream.end(), msg.begin() + static_cast<long>(off),
                  msg.begin() + static_cast<long>(off + n));
  }
  Driver d(w, w.configs[ctl >> 5 & 3], nullptr);
  (void)d.Feed(stream, SIZE_MAX);
  if (!parsed.ok) {
    if (d.server().alert_sent() != parsed.alert) Fail("server and parser disagree on the alert");
  } else if (d.server().alert_sent() == Alert::kDecodeError) {
    Fail("parser accepted what the server calls decode_error");
  }
}

void RunMessages(World& w, uint8_t ctl, ByteView rest, bool connected) {
  const size_t suite = (ctl >> 5 & 3) % 3;
  const Snapshot& snap = *w.snapshots[suite];
  Driver d(w, w.snapshot_config, connected ? &snap.connected : &snap.flight_sent);
  const size_t piece = kPieces[ctl >> 2 & 7];
  if (!connected && (ctl & 0x80) != 0) {
    if (d.Feed(snap.client_finished, piece) != TlsStatus::kOk || !d.server().connected()) {
      Fail("the client's real Finished was refused");
    }
  }
  static constexpr std::array<size_t, 4> kPadding = {0, 1, 16, 255};
  Bytes rec(kMaxRecordBytes + 512);
  while (rest.size() >= 3) {
    const uint8_t mctl = rest[0];
    const size_t len = std::min<size_t>(size_t{rest[1]} << 8 | rest[2], rest.size() - 3);
    const ByteView bytes = rest.subspan(3, len);
    rest = rest.subspan(3 + len);
    if (mctl & 0x80) {
      (void)d.Feed(bytes, piece);
      continue;
    }
    if (mctl == 0x1f) {
      d.WriteApp(bytes);
      continue;
    }
    if (mctl == 0x1e) {
      d.Close();
      continue;
    }
    const TlsServerState& st = d.server().session_state();
    if (!st.read_protected || st.hs == HsState::kClosed) {
      (void)d.Feed(bytes, piece);  // nothing to seal with; the bytes as they are
      continue;
    }
    AeadKey key;
    if (w.ctx->Expand(st.read_key, key) != CryptoStatus::kOk) Fail("Expand read key");
    const auto type = static_cast<ContentType>(mctl & 0x1f);
    const ByteView content = bytes.first(std::min(bytes.size(), kMaxPlaintextBytes));
    const size_t padding = std::min(kPadding[mctl >> 5 & 3], kMaxPlaintextBytes - content.size());
    size_t written = 0;
    if (Protect(*w.ctx, key, st.read_seq, type, content, padding, {rec.data(), rec.size()},
                written) != RecordStatus::kOk) {
      Fail("harness Protect failed");
    }
    // What the server sees after stripping (RFC 8446 5.4): with inner type 0 the real type
    // is the content's last non-zero byte.
    ContentType seen = type;
    ByteView seen_content = content;
    if (type == ContentType::kInvalid) {
      size_t n = content.size();
      while (n > 0 && content[n - 1] == 0) --n;
      seen = n == 0 ? ContentType::kInvalid : static_cast<ContentType>(content[n - 1]);
      seen_content = content.first(n == 0 ? 0 : n - 1);
    }
    const bool app = seen == ContentType::kApplicationData;
    (void)d.Feed({rec.data(), written}, piece,
                 app ? std::optional<ByteView>(seen_content) : std::nullopt);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  World& w = TheWorld();
  g_random_counter = 0;
  const uint8_t ctl = data[0];
  const ByteView rest(data + 1, size - 1);
  switch (ctl & 3) {
    case 0: RunStream(w, ctl, rest); break;
    case 1: RunClientHelloBody(w, ctl, rest); break;
    case 2: RunMessages(w, ctl, rest, /*connected=*/false); break;
    case 3: RunMessages(w, ctl, rest, /*connected=*/true); break;
  }
  ERR_clear_error();
  return 0;
}
