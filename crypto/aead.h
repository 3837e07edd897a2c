#pragma once

// AEAD record protection through Intel ipsec-mb: AES-128-GCM, AES-256-GCM and
// ChaCha20-Poly1305, for TLS 1.3 (RFC 8446 5.2/5.3) and TLS 1.2 (RFC 5288, RFC 7905).
//
// Three kinds of state, kept apart on purpose:
//  - TrafficKey: raw key + IV. Trivially copyable; this is what a session record stores
//    and replicates.
//  - AeadKey: a TrafficKey plus the expanded AES/GHASH schedule, built by one
//    CryptoContext. Copyable within a box; after moving to another box, re-Expand from
//    the TrafficKey (the schedule layout depends on the CPU's ipsec-mb arch).
//  - CryptoContext: one ipsec-mb manager per worker lcore, never shared between threads.
//
// Hot-path calls (Seal/Open) are noexcept, allocate nothing, and return CryptoStatus.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "crypto/types.h"

struct IMB_MGR;  // <intel-ipsec-mb.h> defines many short macros; keep it out of our headers

namespace baton::crypto {

using Nonce = std::array<uint8_t, kAeadIvBytes>;
using TagSpan = std::span<uint8_t, kAeadTagBytes>;
using ConstTagSpan = std::span<const uint8_t, kAeadTagBytes>;

// Raw traffic key (RFC 8446 7.3: [sender]_write_key and [sender]_write_iv).
// TLS 1.2 AES-GCM keeps its 4-byte implicit salt in iv[0..3] (RFC 5288 3) and iv[4..11] = 0;
// TLS 1.2 ChaCha20-Poly1305 uses all 12 bytes like TLS 1.3 (RFC 7905 2).
struct TrafficKey {
  AeadAlg alg = AeadAlg::kAes128Gcm;
  std::array<uint8_t, kMaxAeadKeyBytes> key{};  // first AeadKeyBytes(alg) bytes are used
  std::array<uint8_t, kAeadIvBytes> iv{};
  // Trivially copyable, so no wiping destructor: the owner of the record calls this.
  void Wipe() noexcept;
};
static_assert(std::is_trivially_copyable_v<TrafficKey> && std::is_standard_layout_v<TrafficKey>);

// RFC 8446 5.3: the 64-bit record sequence number, big-endian, left-padded to iv length
// and XORed with the static iv. RFC 7905 2 uses the same construction for TLS 1.2 ChaCha.
[[nodiscard]] Nonce Tls13Nonce(std::span<const uint8_t, kAeadIvBytes> iv, uint64_t seq) noexcept;

// RFC 5288 3: GCMNonce = salt (4 bytes, implicit, from the key block) || nonce_explicit
// (8 bytes, carried in the record). Callers conventionally use the sequence number as the
// explicit part, which guarantees uniqueness.
[[nodiscard]] Nonce Tls12GcmNonce(std::span<const uint8_t, 4> salt,
                                  uint64_t explicit_nonce) noexcept;

// Room for ipsec-mb's struct gcm_key_data (AES round keys + GHASH key powers, 1008 bytes
// in 1.3); aead.cc static_asserts that it fits.
inline constexpr size_t kGcmScheduleBytes = 1024;

// Expanded key, wiped on destruction. Only CryptoContext::Expand fills it.
class AeadKey {
 public:
  AeadKey() noexcept = default;
  AeadKey(const AeadKey&) noexcept = default;
  AeadKey& operator=(const AeadKey&) noexcept = default;
  ~AeadKey();

  AeadAlg alg() const noexcept { return raw_.alg; }
  const TrafficKey& traffic_key() const noexcept { return raw_; }
  bool expanded() const noexcept { return arch_ != 0; }

 private:
  friend class CryptoContext;
  TrafficKey raw_{};
  uint32_t arch_ = 0;  // ipsec-mb IMB_ARCH that built schedule_; 0 = not expanded
  alignas(64) std::array<uint8_t, kGcmScheduleBytes> schedule_{};  // GCM only
};

class CryptoContext {
 public:
  // nullopt when ipsec-mb cannot allocate its manager. Not for the hot path: create one
  // per worker at start-up.
  [[nodiscard]] static std::optional<CryptoContext> Create() noexcept;
  // Forces one ipsec-mb code path (IMB_ARCH_SSE=2, AVX=3, AVX2=4, AVX512=5), so tests can
  // cover paths other than the one this CPU picks. nullopt if the CPU lacks it.
  [[nodiscard]] static std::optional<CryptoContext> CreateForArchForTest(uint32_t arch) noexcept;

  CryptoContext(CryptoContext&& other) noexcept;
  CryptoContext& operator=(CryptoContext&& other) noexcept;
  CryptoContext(const CryptoContext&) = delete;
  CryptoContext& operator=(const CryptoContext&) = delete;
  ~CryptoContext();

  // Builds the AES key schedule and GHASH tables (GCM); copies the key (ChaCha20).
  [[nodiscard]] CryptoStatus Expand(const TrafficKey& key, AeadKey& out) noexcept;

  // TLS 1.3 record protection, nonce = Tls13Nonce(key iv, seq). Encrypts `inout` in place
  // and writes the tag.
  [[nodiscard]] CryptoStatus Seal(const AeadKey& key, uint64_t seq, ByteView aad,
                                  MutByteView inout, TagSpan tag) noexcept;
  // Decrypts in place and checks the tag in constant time. On kBadTag `inout` is zeroed,
  // so unauthenticated plaintext is never visible to the caller.
  [[nodiscard]] CryptoStatus Open(const AeadKey& key, uint64_t seq, ByteView aad,
                                  MutByteView inout, ConstTagSpan tag) noexcept;

  // Same with a caller-built nonce (TLS 1.2: Tls12GcmNonce or Tls13Nonce per RFC 7905).
  [[nodiscard]] CryptoStatus SealWithNonce(const AeadKey& key, const Nonce& nonce, ByteView aad,
                                           MutByteView inout, TagSpan tag) noexcept;
  [[nodiscard]] CryptoStatus OpenWithNonce(const AeadKey& key, const Nonce& nonce, ByteView aad,
                                           MutByteView inout, ConstTagSpan tag) noexcept;

  // The ipsec-mb arch in use (IMB_ARCH value), for logs and for tests.
  uint32_t arch() const noexcept;

 private:
  explicit CryptoContext(IMB_MGR* mgr) noexcept : mgr_(mgr) {}
  [[nodiscard]] CryptoStatus Check(const AeadKey& key, ByteView aad,
                                   MutByteView inout) const noexcept;
  IMB_MGR* mgr_ = nullptr;
};

}  // namespace baton::crypto
