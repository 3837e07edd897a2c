#pragma once

// The client's (EC)DHE (RFC 8446 4.2.8, 7.4): our ephemeral key is made when the ClientHello
// is built and used when the ServerHello arrives, possibly on another core or box, so the
// private key is kept as raw bytes in the session state (no EVP_PKEY across the gap).
// Handshake-time only: these allocate (EVP_PKEY), once per handshake.
//
// TODO(merge): the peer-key decoding duplicates key_exchange.cc (server side).

#include <array>
#include <cstdint>

#include "crypto/tls/alert.h"
#include "crypto/tls/key_exchange.h"
#include "crypto/tls/messages.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

inline constexpr size_t kSharePrivateBytes = 32;  // X25519 scalar or P-256 big-endian d

struct ShareKeyPair {
  std::array<uint8_t, kSharePrivateBytes> private_key{};
  std::array<uint8_t, kMaxKeySharePublicBytes> public_key{};
  uint8_t public_len = 0;
};

// A new key for `group`. X25519 keys come from `random` (RFC 7748 5); P-256 keys from
// libcrypto's generator. internal_error on failure or an unknown group.
Step MakeShare(NamedGroup group, RandomFn random, void* random_ctx, ShareKeyPair& out) noexcept;

// The (EC)DHE shared secret from our private key and the server's key_exchange. A
// malformed, off-curve or low-order server key gives illegal_parameter (RFC 8446 4.2.8.2,
// 7.4.2).
Step SharedSecret(NamedGroup group, ByteView private_key, ByteView peer_public,
                  std::array<uint8_t, kMaxSharedSecretBytes>& shared, uint8_t& shared_len) noexcept;

}  // namespace baton::crypto::tls
