#include "crypto/aead.h"

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>

#include <cstring>
#include <utility>

#include "crypto/secure_wipe.h"

namespace baton::crypto {

// 1008 bytes in 1.3. The header only asks for 64-byte alignment when LINUX is defined;
// AeadKey aligns the storage to 64 either way, as the VAES/AVX-512 code paths want.
static_assert(sizeof(gcm_key_data) <= kGcmScheduleBytes && alignof(gcm_key_data) <= 64,
              "ipsec-mb grew struct gcm_key_data; raise kGcmScheduleBytes");
static_assert(IMB_VERSION_NUM >= IMB_VERSION(1, 3, 0), "the direct GCM/ChaCha API of 1.3");

namespace {

// NIST SP 800-38D 5.2.1.1: len(P) <= 2^39 - 256 bits.
constexpr uint64_t kMaxGcmPlaintextBytes = (uint64_t{1} << 36) - 32;
// RFC 8439 2.8: "the maximum size of the plaintext is limited to 274,877,906,880 bytes".
constexpr uint64_t kMaxChachaPlaintextBytes = (uint64_t{1} << 38) - 64;

// ipsec-mb's parameter checks reject null pointers even for zero lengths; an empty span
// may well have data() == nullptr.
uint8_t empty_buf[1];

const uint8_t* Ptr(ByteView v) noexcept { return v.empty() ? empty_buf : v.data(); }
uint8_t* Ptr(MutByteView v) noexcept { return v.empty() ? empty_buf : v.data(); }

const gcm_key_data* Schedule(const std::array<uint8_t, kGcmScheduleBytes>& s) noexcept {
  // The array is 64-byte aligned storage that Expand() filled through the same type.
  return reinterpret_cast<const gcm_key_data*>(s.data());
}

}  // namespace

void TrafficKey::Wipe() noexcept { SecureWipe(this, sizeof(*this)); }

AeadKey::~AeadKey() { SecureWipe(this, sizeof(*this)); }

Nonce Tls13Nonce(std::span<const uint8_t, kAeadIvBytes> iv, uint64_t seq) noexcept {
  Nonce n;
  std::memcpy(n.data(), iv.data(), n.size());
  // RFC 8446 5.3: "The 64-bit record sequence number is encoded in network byte order and
  // padded to the left with zeros to iv_length. The padded sequence number is XORed with
  // either the static client_write_iv or server_write_iv".
  for (size_t i = 0; i < 8; ++i) n[kAeadIvBytes - 1 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
  return n;
}

Nonce Tls12GcmNonce(std::span<const uint8_t, 4> salt, uint64_t explicit_nonce) noexcept {
  Nonce n;
  std::memcpy(n.data(), salt.data(), 4);  // RFC 5288 3: salt is the implicit part
  for (size_t i = 0; i < 8; ++i) n[kAeadIvBytes - 1 - i] = static_cast<uint8_t>(explicit_nonce >> (8 * i));
  return n;
}

std::optional<CryptoContext> CryptoContext::Create() noexcept {
  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) return std::nullopt;
  // Picks the best code path this CPU offers (SSE .. AVX-512/VAES).
  init_mb_mgr_auto(mgr, nullptr);
  if (imb_get_errno(mgr) != 0) {
    free_mb_mgr(mgr);
    return std::nullopt;
  }
  return CryptoContext(mgr);
}

std::optional<CryptoContext> CryptoContext::CreateForArchForTest(uint32_t arch) noexcept {
  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) return std::nullopt;
  switch (arch) {
    case IMB_ARCH_SSE: init_mb_mgr_sse(mgr); break;
    case IMB_ARCH_AVX: init_mb_mgr_avx(mgr); break;
    case IMB_ARCH_AVX2: init_mb_mgr_avx2(mgr); break;
    case IMB_ARCH_AVX512: init_mb_mgr_avx512(mgr); break;
    default: free_mb_mgr(mgr); return std::nullopt;
  }
  if (imb_get_errno(mgr) != 0 || mgr->used_arch != arch) {  // CPU lacks the features
    free_mb_mgr(mgr);
    return std::nullopt;
  }
  return CryptoContext(mgr);
}

CryptoContext::CryptoContext(CryptoContext&& other) noexcept
    : mgr_(std::exchange(other.mgr_, nullptr)) {}

CryptoContext& CryptoContext::operator=(CryptoContext&& other) noexcept {
  if (this != &other) {
    if (mgr_ != nullptr) free_mb_mgr(mgr_);
    mgr_ = std::exchange(other.mgr_, nullptr);
  }
  return *this;
}

CryptoContext::~CryptoContext() {
  if (mgr_ != nullptr) free_mb_mgr(mgr_);
}

uint32_t CryptoContext::arch() const noexcept { return mgr_ != nullptr ? mgr_->used_arch : 0; }

CryptoStatus CryptoContext::Expand(const TrafficKey& key, AeadKey& out) noexcept {
  out.raw_ = key;
  out.arch_ = 0;
  switch (key.alg) {
    case AeadAlg::kAes128Gcm:
      IMB_AES128_GCM_PRE(mgr_, key.key.data(), reinterpret_cast<gcm_key_data*>(out.schedule_.data()));
      break;
    case AeadAlg::kAes256Gcm:
      IMB_AES256_GCM_PRE(mgr_, key.key.data(), reinterpret_cast<gcm_key_data*>(out.schedule_.data()));
      break;
    case AeadAlg::kChacha20Poly1305:
      break;  // no schedule: ChaCha20 uses the raw 256-bit key
    default:
      return CryptoStatus::kBadKey;
  }
  if (imb_get_errno(mgr_) != 0) return CryptoStatus::kIpsecMbError;
  out.arch_ = mgr_->used_arch;
  return CryptoStatus::kOk;
}

CryptoStatus CryptoContext::Check(const AeadKey& key, ByteView aad,
                                  MutByteView inout) const noexcept {
  if (!key.expanded()) return CryptoStatus::kBadKey;
  switch (key.alg()) {
    case AeadAlg::kAes128Gcm:
    case AeadAlg::kAes256Gcm:
      // The GHASH table layout differs between SSE/AVX2/AVX-512 code paths.
      if (key.arch_ != mgr_->used_arch) return CryptoStatus::kWrongContext;
      if (inout.size() > kMaxGcmPlaintextBytes) return CryptoStatus::kBadLength;
      break;
    case AeadAlg::kChacha20Poly1305:
      if (inout.size() > kMaxChachaPlaintextBytes) return CryptoStatus::kBadLength;
      break;
    default:
      return CryptoStatus::kBadKey;
  }
  (void)aad;  // AAD limits (2^61 bytes GCM, 2^64 ChaCha) cannot be reached by a span
  return CryptoStatus::kOk;
}

CryptoStatus CryptoContext::Seal(const AeadKey& key, uint64_t seq, ByteView aad,
                                 MutByteView inout, TagSpan tag) noexcept {
  return SealWithNonce(key, Tls13Nonce(key.raw_.iv, seq), aad, inout, tag);
}

CryptoStatus CryptoContext::Open(const AeadKey& key, uint64_t seq, ByteView aad,
                                 MutByteView inout, ConstTagSpan tag) noexcept {
  return OpenWithNonce(key, Tls13Nonce(key.raw_.iv, seq), aad, inout, tag);
}

CryptoStatus CryptoContext::SealWithNonce(const AeadKey& key, const Nonce& nonce, ByteView aad,
                                          MutByteView inout, TagSpan tag) noexcept {
  if (const CryptoStatus s = Check(key, aad, inout); s != CryptoStatus::kOk) return s;
  uint8_t* const data = Ptr(inout);
  switch (key.alg()) {
    case AeadAlg::kAes128Gcm: {
      gcm_context_data ctx;
      IMB_AES128_GCM_ENC(mgr_, Schedule(key.schedule_), &ctx, data, data, inout.size(),
                         nonce.data(), Ptr(aad), aad.size(), tag.data(), tag.size());
      break;
    }
    case AeadAlg::kAes256Gcm: {
      gcm_context_data ctx;
      IMB_AES256_GCM_ENC(mgr_, Schedule(key.schedule_), &ctx, data, data, inout.size(),
                         nonce.data(), Ptr(aad), aad.size(), tag.data(), tag.size());
      break;
    }
    case AeadAlg::kChacha20Poly1305: {
      chacha20_poly1305_context_data ctx;
      IMB_CHACHA20_POLY1305_INIT(mgr_, key.raw_.key.data(), &ctx, nonce.data(), Ptr(aad), aad.size());
      if (!inout.empty()) {
        IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr_, key.raw_.key.data(), &ctx, data, data, inout.size());
      }
      IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr_, &ctx, tag.data(), tag.size());
      break;
    }
  }
  if (imb_get_errno(mgr_) != 0) [[unlikely]] return CryptoStatus::kIpsecMbError;
  return CryptoStatus::kOk;
}

CryptoStatus CryptoContext::OpenWithNonce(const AeadKey& key, const Nonce& nonce, ByteView aad,
                                          MutByteView inout, ConstTagSpan tag) noexcept {
  if (const CryptoStatus s = Check(key, aad, inout); s != CryptoStatus::kOk) return s;
  uint8_t* const data = Ptr(inout);
  std::array<uint8_t, kAeadTagBytes> computed;
  switch (key.alg()) {
    case AeadAlg::kAes128Gcm: {
      gcm_context_data ctx;
      IMB_AES128_GCM_DEC(mgr_, Schedule(key.schedule_), &ctx, data, data, inout.size(),
                         nonce.data(), Ptr(aad), aad.size(), computed.data(), computed.size());
      break;
    }
    case AeadAlg::kAes256Gcm: {
      gcm_context_data ctx;
      IMB_AES256_GCM_DEC(mgr_, Schedule(key.schedule_), &ctx, data, data, inout.size(),
                         nonce.data(), Ptr(aad), aad.size(), computed.data(), computed.size());
      break;
    }
    case AeadAlg::kChacha20Poly1305: {
      chacha20_poly1305_context_data ctx;
      IMB_CHACHA20_POLY1305_INIT(mgr_, key.raw_.key.data(), &ctx, nonce.data(), Ptr(aad), aad.size());
      if (!inout.empty()) {
        IMB_CHACHA20_POLY1305_DEC_UPDATE(mgr_, key.raw_.key.data(), &ctx, data, data, inout.size());
      }
      IMB_CHACHA20_POLY1305_DEC_FINALIZE(mgr_, &ctx, computed.data(), computed.size());
      break;
    }
  }
  if (imb_get_errno(mgr_) != 0) [[unlikely]] {
    if (!inout.empty()) SecureWipe(inout.data(), inout.size());
    return CryptoStatus::kIpsecMbError;
  }
  // Constant time: the position of the first differing byte must not leak (a timing
  // oracle on the tag would allow forging it byte by byte).
  if (CRYPTO_memcmp(computed.data(), tag.data(), kAeadTagBytes) != 0) {
    if (!inout.empty()) SecureWipe(inout.data(), inout.size());
    return CryptoStatus::kBadTag;
  }
  return CryptoStatus::kOk;
}

}  // namespace baton::crypto
