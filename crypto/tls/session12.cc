#include "crypto/tls/session12.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "crypto/secure_wipe.h"

namespace baton::crypto::tls {
namespace {

// Serialized session, format 1: format(1) suite(2) created_s(8) master(48) sni_len(1) sni.
constexpr uint8_t kSessionFormat = 1;
constexpr size_t kSessionFixedBytes = 1 + 2 + 8 + kMasterSecretBytes + 1;
constexpr size_t kMaxSessionBytes = kSessionFixedBytes + 255;

size_t Serialize(const Tls12Session& s, std::array<uint8_t, kMaxSessionBytes>& out) noexcept {
  uint8_t* p = out.data();
  *p++ = kSessionFormat;
  *p++ = static_cast<uint8_t>(s.suite >> 8);
  *p++ = static_cast<uint8_t>(s.suite);
  for (size_t i = 0; i < 8; ++i) *p++ = static_cast<uint8_t>(s.created_s >> (56 - 8 * i));
  std::memcpy(p, s.master_secret.data(), kMasterSecretBytes);
  p += kMasterSecretBytes;
  *p++ = s.sni_len;
  std::memcpy(p, s.sni.data(), s.sni_len);
  return kSessionFixedBytes + s.sni_len;
}

bool Deserialize(ByteView in, Tls12Session& s) noexcept {
  if (in.size() < kSessionFixedBytes || in[0] != kSessionFormat) return false;
  const uint8_t* p = in.data() + 1;
  s.suite = static_cast<uint16_t>(p[0] << 8 | p[1]);
  p += 2;
  s.created_s = 0;
  for (size_t i = 0; i < 8; ++i) s.created_s = s.created_s << 8 | *p++;
  std::memcpy(s.master_secret.data(), p, kMasterSecretBytes);
  p += kMasterSecretBytes;
  s.sni_len = *p++;
  if (in.size() != kSessionFixedBytes + s.sni_len) return false;
  std::memcpy(s.sni.data(), p, s.sni_len);
  return true;
}

CryptoStatus ExpandTicketKey(CryptoContext& ctx, const Tls12TicketKey& k, AeadKey& out) noexcept {
  TrafficKey raw{};
  raw.alg = AeadAlg::kAes256Gcm;
  std::memcpy(raw.key.data(), k.key.data(), k.key.size());
  const CryptoStatus s = ctx.Expand(raw, out);
  raw.Wipe();
  return s;
}

}  // namespace

void Tls12Session::Wipe() noexcept { SecureWipe(master_secret.data(), master_secret.size()); }

Tls12MemorySessionCache::~Tls12MemorySessionCache() {
  for (auto& [id, s] : entries_) s.Wipe();
}

void Tls12MemorySessionCache::Put(ByteView id, const Tls12Session& session) noexcept {
  if (capacity_ == 0 || id.empty()) return;
  try {
    Key key(id.begin(), id.end());
    while (entries_.size() >= capacity_ && !order_.empty()) {
      const auto it = entries_.find(order_.front());
      if (it != entries_.end()) {
        it->second.Wipe();
        entries_.erase(it);
      }
      order_.pop_front();
    }
    const auto [it, inserted] = entries_.insert_or_assign(key, session);
    if (inserted) order_.push_back(std::move(key));
  } catch (...) {
    // Out of memory: the session just is not resumable.
  }
}

bool Tls12MemorySessionCache::Get(ByteView id, Tls12Session& out) noexcept {
  try {
    const auto it = entries_.find(Key(id.begin(), id.end()));
    if (it == entries_.end()) return false;
    out = it->second;
    return true;
  } catch (...) {
    return false;
  }
}

void Tls12MemorySessionCache::Remove(ByteView id) noexcept {
  try {
    const auto it = entries_.find(Key(id.begin(), id.end()));
    if (it == entries_.end()) return;
    it->second.Wipe();
    entries_.erase(it);
  } catch (...) {
  }
}

bool SealTls12Ticket(CryptoContext& ctx, const Tls12TicketKey& key, const Tls12Session& session,
                RandomFn random, void* random_ctx, std::vector<uint8_t>& ticket) noexcept {
  std::array<uint8_t, kMaxSessionBytes> plain{};
  WipeOnExit wipe(plain.data(), plain.size());
  const size_t len = Serialize(session, plain);
  Nonce nonce{};
  if (!random(random_ctx, nonce.data(), nonce.size())) return false;
  AeadKey aead;
  if (ExpandTicketKey(ctx, key, aead) != CryptoStatus::kOk) return false;
  try {
    ticket.resize(kTls12TicketKeyNameBytes + kTls12TicketNonceBytes + len + kAeadTagBytes);
  } catch (...) {
    return false;
  }
  uint8_t* p = ticket.data();
  std::memcpy(p, key.name.data(), kTls12TicketKeyNameBytes);
  std::memcpy(p + kTls12TicketKeyNameBytes, nonce.data(), kTls12TicketNonceBytes);
  uint8_t* const data = p + kTls12TicketKeyNameBytes + kTls12TicketNonceBytes;
  std::memcpy(data, plain.data(), len);
  return ctx.SealWithNonce(aead, nonce, ByteView(p, kTls12TicketKeyNameBytes), {data, len},
                           TagSpan(data + len, kAeadTagBytes)) == CryptoStatus::kOk;
}

bool OpenTls12Ticket(CryptoContext& ctx, std::span<const Tls12TicketKey> keys, ByteView ticket,
                Tls12Session& out) noexcept {
  constexpr size_t kOverhead = kTls12TicketKeyNameBytes + kTls12TicketNonceBytes + kAeadTagBytes;
  if (ticket.size() < kOverhead + kSessionFixedBytes || ticket.size() > kOverhead + kMaxSessionBytes) {
    return false;
  }
  const Tls12TicketKey* key = nullptr;
  for (const Tls12TicketKey& k : keys) {
    if (CRYPTO_memcmp(k.name.data(), ticket.data(), kTls12TicketKeyNameBytes) == 0) {
      key = &k;
      break;
    }
  }
  if (key == nullptr) return false;
  AeadKey aead;
  if (ExpandTicketKey(ctx, *key, aead) != CryptoStatus::kOk) return false;
  Nonce nonce{};
  std::memcpy(nonce.data(), ticket.data() + kTls12TicketKeyNameBytes, kTls12TicketNonceBytes);
  const size_t len = ticket.size() - kOverhead;
  std::array<uint8_t, kMaxSessionBytes> plain{};
  WipeOnExit wipe(plain.data(), plain.size());
  std::memcpy(plain.data(), ticket.data() + kTls12TicketKeyNameBytes + kTls12TicketNonceBytes, len);
  const ConstTagSpan tag(ticket.data() + ticket.size() - kAeadTagBytes, kAeadTagBytes);
  if (ctx.OpenWithNonce(aead, nonce, ticket.first(kTls12TicketKeyNameBytes), {plain.data(), len},
                        tag) != CryptoStatus::kOk) {
    return false;
  }
  return Deserialize({plain.data(), len}, out);
}

}  // namespace baton::crypto::tls
