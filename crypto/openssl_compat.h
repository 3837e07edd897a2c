#pragma once

// crypto/openssl_compat.h: the only place that knows OpenSSL's low-level SHA state
// (STYLE.md 20). Callers see an opaque, trivially copyable byte block.

#include <array>
#include <cstddef>
#include <cstdint>

#include "crypto/types.h"

namespace baton::crypto::compat {

// Big enough for SHA512_CTX (which also carries SHA-384); openssl_compat.cc static_asserts
// the real sizes, so an OpenSSL layout change breaks the build instead of memory.
inline constexpr size_t kShaStateBytes = 216;

struct alignas(8) ShaState {
  std::array<uint8_t, kShaStateBytes> bytes;
};
static_assert(std::is_trivially_copyable_v<ShaState>);

void ShaInit(HashAlg alg, ShaState& st) noexcept;
void ShaUpdate(HashAlg alg, ShaState& st, ByteView data) noexcept;
// Digest of everything so far; `st` is left untouched so hashing can continue.
// out.size() must be DigestBytes(alg).
void ShaPeek(HashAlg alg, const ShaState& st, MutByteView out) noexcept;

}  // namespace baton::crypto::compat
