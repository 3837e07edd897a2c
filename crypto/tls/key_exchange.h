#pragma once

// The libcrypto side of the handshake: (EC)DHE key exchange (RFC 8446 4.2.8, 7.4) and the
// CertificateVerify signature (RFC 8446 4.4.3). Handshake-time only: these allocate
// (EVP_PKEY, EVP_MD_CTX), which is fine once per handshake.

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <vector>

#include "crypto/tls/alert.h"
#include "crypto/tls/messages.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

// Fills `out` with random bytes; false on failure. Injectable so that tests can make a
// handshake deterministic; nullptr in a config means RAND_bytes.
using RandomFn = bool (*)(void* ctx, uint8_t* out, size_t len) noexcept;

bool DefaultRandom(void* ctx, uint8_t* out, size_t len) noexcept;

inline constexpr size_t kMaxKeySharePublicBytes = 97;  // uncompressed P-384 point
inline constexpr size_t kMaxSharedSecretBytes = 48;    // P-384 x coordinate

struct KeyExchangeResult {
  std::array<uint8_t, kMaxKeySharePublicBytes> server_public{};
  uint8_t server_public_len = 0;
  std::array<uint8_t, kMaxSharedSecretBytes> shared{};
  uint8_t shared_len = 0;
};

// Makes our ephemeral key for `group` and derives the shared secret with the client's
// `peer_public`. The X25519 private key comes from `random`; P-256 keys come from
// libcrypto's generator (P-256, P-384). A malformed or invalid peer key gives
// illegal_parameter.
Step KeyExchange(NamedGroup group, ByteView peer_public, RandomFn random, void* random_ctx,
                 KeyExchangeResult& out) noexcept;

// The signature scheme we would use with `key` if the client offered it, or 0 for a key
// type we cannot sign with. (The first of SchemesForKey.)
uint16_t SchemeForKey(EVP_PKEY* key) noexcept;

// Every scheme we can sign with using `key`, our preference first: ECDSA P-256 ->
// ecdsa_secp256r1_sha256; P-384 -> ecdsa_secp384r1_sha384; RSA -> rsa_pss_rsae_sha256,
// rsa_pss_rsae_sha384; Ed25519 -> ed25519. Returns the count (0: unusable key).
inline constexpr size_t kMaxSchemesPerKey = 2;
size_t SchemesForKey(EVP_PKEY* key, std::array<uint16_t, kMaxSchemesPerKey>& out) noexcept;

// RFC 8446 4.4.3: signs 64 spaces || "TLS 1.3, server CertificateVerify" || 0 || th
// with `scheme`, which must be one of SchemesForKey(key).
Step SignCertificateVerify(EVP_PKEY* key, uint16_t scheme, ByteView transcript_hash,
                           std::vector<uint8_t>& signature) noexcept;

}  // namespace baton::crypto::tls
