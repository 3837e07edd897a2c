#pragma once

// The libcrypto side of the handshakes: (EC)DHE key exchange (RFC 8446 4.2.8, 7.4;
// RFC 8422 5.10) for the TLS 1.3 server, the TLS 1.2 server and the TLS 1.3 client, and
// the CertificateVerify signature (RFC 8446 4.4.3). Handshake-time only: these allocate
// (EVP_PKEY, EVP_MD_CTX), which is fine once per handshake.

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <span>
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
inline constexpr size_t kMaxEphemeralPrivateBytes = 48;  // P-384 scalar

// Ephemeral (EC)DHE keys as raw bytes, for handshakes that make the key in one flight and
// use it in a later one, possibly on another core or box: no EVP_PKEY crosses the gap, so
// the handshake state stays trivially copyable.

// A new key for `group` (X25519, secp256r1, secp384r1). X25519 keys come from `random`
// (RFC 7748 5: 32 random bytes); P-256 and P-384 keys from libcrypto's generator. Writes
// the private key (X25519 scalar or big-endian d, padded to the group's scalar size) and
// the public key (X25519 u-coordinate or uncompressed point, RFC 8446 4.2.8.2, RFC 8422
// 5.4) and their lengths. internal_error on failure, an unknown group, or a buffer too
// small for the group.
Step MakeEphemeralKey(NamedGroup group, RandomFn random, void* random_ctx,
                      std::span<uint8_t> private_key, uint8_t& private_len,
                      std::span<uint8_t> public_key, uint8_t& public_len) noexcept;

// The (EC)DHE shared secret (X25519 output, or the x-coordinate: RFC 8446 7.4.2, RFC 8422
// 5.10) from our raw `private_key` (as MakeEphemeralKey wrote it) and the peer's public
// key. A peer key of the wrong length or form, off the curve, or of low order (all-zero
// X25519 result) gives illegal_parameter (RFC 8446 4.2.8.2, 7.4.2); a bad private key or
// a libcrypto failure gives internal_error.
Step DeriveSharedSecret(NamedGroup group, ByteView private_key, ByteView peer_public,
                        std::array<uint8_t, kMaxSharedSecretBytes>& shared,
                        uint8_t& shared_len) noexcept;

struct KeyExchangeResult {
  std::array<uint8_t, kMaxKeySharePublicBytes> server_public{};
  uint8_t server_public_len = 0;
  std::array<uint8_t, kMaxSharedSecretBytes> shared{};
  uint8_t shared_len = 0;
};

// The TLS 1.3 server's one-step exchange: checks the client's `peer_public`, then makes
// our ephemeral key for `group` (as MakeEphemeralKey) and derives the shared secret (as
// DeriveSharedSecret). Our private key never leaves libcrypto. Alerts as
// DeriveSharedSecret; an unknown group gives internal_error.
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

// How SignWithKey pads with an RSA key; kNone for ECDSA and Ed25519 keys.
enum class RsaPadding : uint8_t { kNone, kPss, kPkcs1 };

// Signs `data` with `key` and `digest` (nullptr for Ed25519: RFC 8032 PureEdDSA hashes
// internally). kPss is RSASSA-PSS with MGF1 over `digest` (libcrypto's default) and salt
// length = digest length (RFC 8446 4.2.3). internal_error on failure. Used for the TLS 1.3
// CertificateVerify and the TLS 1.2 ServerKeyExchange.
Step SignWithKey(EVP_PKEY* key, const EVP_MD* digest, RsaPadding padding, ByteView data,
                 std::vector<uint8_t>& signature) noexcept;

// RFC 8446 4.4.3: signs 64 spaces || "TLS 1.3, server CertificateVerify" || 0 || th
// with `scheme`, which must be one of SchemesForKey(key).
Step SignCertificateVerify(EVP_PKEY* key, uint16_t scheme, ByteView transcript_hash,
                           std::vector<uint8_t>& signature) noexcept;

}  // namespace baton::crypto::tls
