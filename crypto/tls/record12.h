#pragma once

// TLS 1.2 building blocks for the AEAD-only server (server12.h): the cipher suites we
// speak, record protection (RFC 5246 6.2.3.3 with AES-GCM per RFC 5288 and
// ChaCha20-Poly1305 per RFC 7905), and the PRF-based key derivation (RFC 5246 5, 6.3,
// 7.4.9; RFC 7627 4). Record calls are hot-path: noexcept, no heap, status values. The
// PRF calls run a few times per handshake.
//
// The record header rules and reassembly are shared with TLS 1.3 (record.h): same 5-byte
// header, same RecordAssembler.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/aead.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/record.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

// TLS 1.2 cipher suites; enumerators are wire numbers (RFC 5289, RFC 7905). ECDHE only,
// AEAD only: no CBC, no static RSA or DH key exchange.
enum class Tls12Suite : uint16_t {
  kEcdheEcdsaAes128GcmSha256 = 0xC02B,
  kEcdheEcdsaAes256GcmSha384 = 0xC02C,
  kEcdheRsaAes128GcmSha256 = 0xC02F,
  kEcdheRsaAes256GcmSha384 = 0xC030,
  kEcdheRsaChacha20Poly1305Sha256 = 0xCCA8,
  kEcdheEcdsaChacha20Poly1305Sha256 = 0xCCA9,
};

struct Suite12Params {
  AeadAlg aead;
  HashAlg prf_hash;  // RFC 5246 5 / RFC 5289 3.2: the PRF and Finished hash
  bool ecdsa;        // authentication: ECDSA certificate (true) or RSA (false)
};

// false for anything that is not one of the six suites above.
[[nodiscard]] bool LookupSuite12(uint16_t wire, Suite12Params& out) noexcept;

// RFC 5288 3: GCM records carry an 8-byte explicit nonce; RFC 7905 2: ChaCha20 records none.
constexpr size_t ExplicitNonceBytes(AeadAlg a) noexcept {
  return a == AeadAlg::kChacha20Poly1305 ? 0 : 8;
}
// RFC 5288 3: fixed_iv_length 4 (the salt); RFC 7905 2: 12.
constexpr size_t FixedIvBytes(AeadAlg a) noexcept {
  return a == AeadAlg::kChacha20Poly1305 ? 12 : 4;
}

inline constexpr size_t kMasterSecretBytes = 48;  // RFC 5246 8.1
inline constexpr size_t kVerifyDataBytes = 12;    // RFC 5246 7.4.9
using MasterSecret12 = std::array<uint8_t, kMasterSecretBytes>;

// Opens a TLS 1.2 AEAD record in place. `record` is header + body, the body being
// [explicit nonce] || ciphertext || tag. The additional data is seq || type || version ||
// plaintext length (RFC 5246 6.2.3.3), type and version taken from the header. On kOk
// `content` is the plaintext (a view into `record`). kBadMac for a body too short to
// hold nonce and tag or a tag mismatch; kTooLong for a plaintext above 2^14 (RFC 5246
// 6.2.3: record_overflow).
RecordStatus Unprotect12(CryptoContext& ctx, const AeadKey& key, uint64_t seq, MutByteView record,
                         MutByteView& content) noexcept;

// Seals `content` (at most 2^14 bytes) of `type` as one record into `out`. The explicit
// GCM nonce is the sequence number, so it never repeats under one key (RFC 5288 3).
RecordStatus Protect12(CryptoContext& ctx, const AeadKey& key, uint64_t seq, ContentType type,
                       ByteView content, MutByteView out, size_t& written) noexcept;

// RFC 5246 5: PRF(secret, label, seed_a || seed_b) with P_SHA256 or P_SHA384, through
// libcrypto's EVP_KDF "TLS1-PRF". `out` may be any length up to 256 bytes.
[[nodiscard]] CryptoStatus Prf12(HashAlg hash, ByteView secret, std::string_view label,
                                 ByteView seed_a, ByteView seed_b, MutByteView out) noexcept;

// RFC 7627 4: master_secret = PRF(pre_master_secret, "extended master secret",
// session_hash)[0..47], session_hash = Hash(ClientHello .. ClientKeyExchange).
[[nodiscard]] CryptoStatus ExtendedMasterSecret(HashAlg hash, ByteView pre_master,
                                                ByteView session_hash,
                                                MasterSecret12& out) noexcept;

// RFC 5246 6.3: key_block = PRF(master, "key expansion", server_random || client_random),
// cut into client/server write keys and IVs (no MAC keys for AEAD suites). The IVs are
// placed as aead.h expects: GCM salt in iv[0..3] with iv[4..11] = 0, ChaCha all 12 bytes.
[[nodiscard]] CryptoStatus KeyBlock12(const Suite12Params& suite, const MasterSecret12& master,
                                      ByteView client_random, ByteView server_random,
                                      TrafficKey& client_write, TrafficKey& server_write) noexcept;

// RFC 5246 7.4.9: verify_data = PRF(master, "client finished" | "server finished",
// Hash(handshake_messages))[0..11].
[[nodiscard]] CryptoStatus VerifyData12(HashAlg hash, const MasterSecret12& master, bool client,
                                        ByteView transcript_hash,
                                        std::array<uint8_t, kVerifyDataBytes>& out) noexcept;

}  // namespace baton::crypto::tls
