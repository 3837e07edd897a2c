#include "crypto/tls/ticket.h"

#include <openssl/crypto.h>

#include <cstring>
#include <string_view>

#include "crypto/key_schedule.h"
#include "crypto/secure_wipe.h"
#include "crypto/tls/reader.h"

namespace baton::crypto::tls {
namespace {

// The AES-256-GCM key is HKDF-Expand(secret, "baton tls13 ticket"), not the secret
// itself: an operator who gives the TLS 1.2 server (session12.h) the same secret still
// gets tickets that one version can never open for the other.
bool KeyFor(CryptoContext& ctx, const TicketKey& key, AeadKey& out) noexcept {
  static constexpr std::string_view kLabel = "baton tls13 ticket";
  TrafficKey raw;
  raw.alg = AeadAlg::kAes256Gcm;
  const bool ok =
      HkdfExpand(HashAlg::kSha256, key.secret,
                 {reinterpret_cast<const uint8_t*>(kLabel.data()), kLabel.size()},
                 {raw.key.data(), AeadKeyBytes(AeadAlg::kAes256Gcm)}) == CryptoStatus::kOk &&
      ctx.Expand(raw, out) == CryptoStatus::kOk;
  raw.Wipe();
  return ok;
}

// A fixed-capacity big-endian writer: the ticket is built without the heap.
struct Put {
  uint8_t* p;
  void U8(uint8_t v) noexcept { *p++ = v; }
  void U16(uint16_t v) noexcept {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) noexcept {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void U64(uint64_t v) noexcept {
    U32(static_cast<uint32_t>(v >> 32));
    U32(static_cast<uint32_t>(v));
  }
  void Bytes(const void* b, size_t n) noexcept {
    std::memcpy(p, b, n);
    p += n;
  }
};

uint32_t Get32(Reader& r) noexcept {
  const uint32_t hi = r.U16();
  return hi << 16 | r.U16();
}

}  // namespace

void TicketContents::Wipe() noexcept { SecureWipe(this, sizeof(*this)); }

size_t SealTls13Ticket(CryptoContext& ctx, const TicketKey& key,
                  std::span<const uint8_t, kTls13TicketNonceBytes> nonce, const TicketContents& in,
                  std::span<uint8_t, kMaxTls13TicketBytes> out) noexcept {
  if (in.psk.len > kMaxHashBytes) return 0;
  uint8_t* const name_at = out.data();
  uint8_t* const nonce_at = name_at + kTls13TicketKeyNameBytes;
  uint8_t* const plain_at = nonce_at + kTls13TicketNonceBytes;
  std::memcpy(name_at, key.name.data(), kTls13TicketKeyNameBytes);
  std::memcpy(nonce_at, nonce.data(), kTls13TicketNonceBytes);
  Put w{plain_at};
  w.U8(kTls13TicketFormatVersion);
  w.U16(in.suite);
  w.U8(in.psk.len);
  w.Bytes(in.psk.bytes.data(), in.psk.len);
  w.U64(in.issue_ms);
  w.U32(in.age_add);
  w.U32(in.lifetime_s);
  w.U8(in.sni_len);
  w.Bytes(in.sni.data(), in.sni_len);
  w.U8(in.alpn_len);
  w.Bytes(in.alpn.data(), in.alpn_len);
  const size_t plain_len = static_cast<size_t>(w.p - plain_at);

  AeadKey aead;
  Nonce n;
  std::memcpy(n.data(), nonce.data(), n.size());
  if (!KeyFor(ctx, key, aead) ||
      ctx.SealWithNonce(aead, n, {name_at, kTls13TicketKeyNameBytes}, {plain_at, plain_len},
                        TagSpan(plain_at + plain_len, kAeadTagBytes)) != CryptoStatus::kOk) {
    SecureWipe(plain_at, plain_len);
    return 0;
  }
  return kTls13TicketKeyNameBytes + kTls13TicketNonceBytes + plain_len + kAeadTagBytes;
}

bool OpenTls13Ticket(CryptoContext& ctx, TicketKeys keys, ByteView ticket,
                TicketContents& out) noexcept {
  out = TicketContents{};
  if (ticket.size() < kTls13TicketKeyNameBytes + kTls13TicketNonceBytes + kAeadTagBytes ||
      ticket.size() > kMaxTls13TicketBytes) {
    return false;
  }
  const TicketKey* key = nullptr;
  for (const TicketKey& k : keys) {
    // Key names are not secret: a plain compare.
    if (std::memcmp(k.name.data(), ticket.data(), kTls13TicketKeyNameBytes) == 0) {
      key = &k;
      break;
    }
  }
  if (key == nullptr) return false;
  const size_t plain_len =
      ticket.size() - kTls13TicketKeyNameBytes - kTls13TicketNonceBytes - kAeadTagBytes;
  std::array<uint8_t, kMaxTls13TicketPlainBytes> plain{};
  WipeOnExit wipe(plain.data(), plain.size());
  std::memcpy(plain.data(), ticket.data() + kTls13TicketKeyNameBytes + kTls13TicketNonceBytes, plain_len);
  Nonce n;
  std::memcpy(n.data(), ticket.data() + kTls13TicketKeyNameBytes, n.size());
  AeadKey aead;
  if (!KeyFor(ctx, *key, aead) ||
      ctx.OpenWithNonce(aead, n, ticket.first(kTls13TicketKeyNameBytes), {plain.data(), plain_len},
                        ConstTagSpan(ticket.data() + ticket.size() - kAeadTagBytes,
                                     kAeadTagBytes)) != CryptoStatus::kOk) {
    return false;
  }
  Reader r({plain.data(), plain_len});
  if (r.U8() != kTls13TicketFormatVersion) return false;
  out.suite = r.U16();
  const ByteView psk = r.Vec8();
  const uint64_t issue_hi = Get32(r);
  out.issue_ms = issue_hi << 32 | Get32(r);
  out.age_add = Get32(r);
  out.lifetime_s = Get32(r);
  const ByteView sni = r.Vec8();
  const ByteView alpn = r.Vec8();
  SuiteParams params{};
  if (!r.ok() || !r.empty() || !LookupSuite(out.suite, params) ||
      psk.size() != DigestBytes(params.hash)) {
    out.Wipe();
    return false;
  }
  out.psk.hash = params.hash;
  out.psk.len = static_cast<uint8_t>(psk.size());
  std::memcpy(out.psk.bytes.data(), psk.data(), psk.size());
  // (An empty view from the reader may have a null data(): no memcpy for those.)
  out.sni_len = static_cast<uint8_t>(sni.size());
  if (!sni.empty()) std::memcpy(out.sni.data(), sni.data(), sni.size());
  out.alpn_len = static_cast<uint8_t>(alpn.size());
  if (!alpn.empty()) std::memcpy(out.alpn.data(), alpn.data(), alpn.size());
  return true;
}

}  // namespace baton::crypto::tls
