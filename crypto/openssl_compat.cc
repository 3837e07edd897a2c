// DEPRECATION EXCEPTION: the TLS transcript hash must be a trivially copyable value, because
// a half-done handshake is copied to another core or box (ARCHITECTURE.md 4). OpenSSL 3's
// EVP_MD_CTX is opaque and heap-allocated, so it cannot be copied as bytes. The low-level
// SHA256_CTX/SHA512_CTX are plain structs (FIPS 180-4 chaining values, bit count, pending
// block) and keep OpenSSL's accelerated code paths (SHA-NI, AVX2). They are deprecated in
// 3.0 but still shipped; this file is the only user, so a future replacement (our own
// SHA-2, or a provider that exports state) changes one file.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

#include "crypto/openssl_compat.h"

namespace baton::crypto::compat {

// The byte images below are only meaningful to the same OpenSSL struct layout. These sizes
// have not changed since OpenSSL 0.9.8; if they do, the build stops here.
static_assert(sizeof(SHA256_CTX) == 112 && alignof(SHA256_CTX) <= alignof(ShaState));
static_assert(sizeof(SHA512_CTX) == kShaStateBytes && alignof(SHA512_CTX) <= alignof(ShaState));
static_assert(std::is_trivially_copyable_v<SHA256_CTX> && std::is_trivially_copyable_v<SHA512_CTX>);

namespace {

// Copies in and out with memcpy rather than casting the byte block, so there is no
// aliasing question; 216 bytes per call is noise next to the hashing itself.
template <class Ctx>
Ctx Load(const ShaState& st) noexcept {
  Ctx c;
  std::memcpy(&c, st.bytes.data(), sizeof(c));
  return c;
}

template <class Ctx>
void Store(const Ctx& c, ShaState& st) noexcept {
  std::memcpy(st.bytes.data(), &c, sizeof(c));
}

}  // namespace

// The SHA*_Init/Update/Final functions only fail on a null context, which cannot happen
// here, so their int results are deliberately ignored.
void ShaInit(HashAlg alg, ShaState& st) noexcept {
  st.bytes.fill(0);
  if (alg == HashAlg::kSha384) {
    SHA512_CTX c;
    (void)SHA384_Init(&c);
    Store(c, st);
  } else {
    SHA256_CTX c;
    (void)SHA256_Init(&c);
    Store(c, st);
  }
}

void ShaUpdate(HashAlg alg, ShaState& st, ByteView data) noexcept {
  if (data.empty()) return;
  if (alg == HashAlg::kSha384) {
    auto c = Load<SHA512_CTX>(st);
    (void)SHA384_Update(&c, data.data(), data.size());
    Store(c, st);
  } else {
    auto c = Load<SHA256_CTX>(st);
    (void)SHA256_Update(&c, data.data(), data.size());
    Store(c, st);
  }
}

void ShaPeek(HashAlg alg, const ShaState& st, MutByteView out) noexcept {
  if (out.size() != DigestBytes(alg)) return;
  if (alg == HashAlg::kSha384) {
    auto c = Load<SHA512_CTX>(st);  // finalise a copy, so the running state continues
    (void)SHA384_Final(out.data(), &c);
  } else {
    auto c = Load<SHA256_CTX>(st);
    (void)SHA256_Final(out.data(), &c);
  }
}

}  // namespace baton::crypto::compat
