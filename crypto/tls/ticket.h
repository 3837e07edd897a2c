#pragma once

// Stateless session tickets (RFC 8446 4.6.1): the server keeps nothing per ticket; the
// ticket itself carries the resumption PSK and what the session needs back, sealed with
// AES-256-GCM (through CryptoContext) under a ticket key the operator provides.
//
// Ticket keys. The caller owns a set (TicketKeys, a span): the first key seals new
// tickets, every key in the set opens them. Rotation: build a new set with a fresh key
// first and the previous ones after it (they keep opening tickets until their lifetime is
// over, then drop them), and publish it in a new TlsServerConfig. Any box that holds the
// same keys resumes the tickets of any other: to resume across a cluster, distribute the
// same set to every box. A key is 16 bytes of name (any unique id; carried in the clear in
// each ticket to find the key) and 32 bytes of secret from a CSPRNG. The 12-byte GCM
// nonce of each ticket is random, so one key should seal well under 2^32 tickets: rotate
// daily (or sooner).
//
// Wire form: key name (16) || nonce (12) || AES-256-GCM(plaintext, aad = key name) || tag
// (16), the GCM key being HKDF-Expand(secret, "baton tls13 ticket") (SHA-256). Plaintext, big-endian, version 1:
//   u8 version = 1 | u16 suite | u8 psk_len | psk | u64 issue_ms | u32 ticket_age_add |
//   u32 lifetime_s | u8 sni_len | sni | u8 alpn_len | alpn
// A later version appends fields after a new version byte; OpenTls13Ticket refuses versions
// it does not know (the client then gets a full handshake).

#include <array>
#include <cstdint>
#include <span>
#include <type_traits>

#include "crypto/aead.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

inline constexpr size_t kTls13TicketKeyNameBytes = 16;
inline constexpr size_t kTls13TicketSecretBytes = 32;
inline constexpr uint8_t kTls13TicketFormatVersion = 1;

struct TicketKey {
  std::array<uint8_t, kTls13TicketKeyNameBytes> name{};
  std::array<uint8_t, kTls13TicketSecretBytes> secret{};
};

// [0] seals; all open. Owned by the caller, like the credentials.
using TicketKeys = std::span<const TicketKey>;

inline constexpr size_t kMaxTls13TicketNameBytes = 255;  // SNI, ALPN

// What a ticket carries.
struct TicketContents {
  uint16_t suite = 0;            // CipherSuite wire number of the issuing session
  Secret psk{};                  // RFC 8446 4.6.1 resumption PSK for this ticket's nonce
  uint64_t issue_ms = 0;         // Unix ms when the ticket was issued
  uint32_t age_add = 0;          // RFC 8446 4.6.1 ticket_age_add
  uint32_t lifetime_s = 0;       // RFC 8446 4.6.1 ticket_lifetime
  uint8_t sni_len = 0;
  uint8_t alpn_len = 0;
  std::array<char, kMaxTls13TicketNameBytes> sni{};
  std::array<char, kMaxTls13TicketNameBytes> alpn{};
  void Wipe() noexcept;
};
static_assert(std::is_trivially_copyable_v<TicketContents>);

inline constexpr size_t kTls13TicketNonceBytes = 12;
inline constexpr size_t kMaxTls13TicketPlainBytes =
    1 + 2 + 1 + kMaxHashBytes + 8 + 4 + 4 + 1 + kMaxTls13TicketNameBytes + 1 + kMaxTls13TicketNameBytes;
inline constexpr size_t kMaxTls13TicketBytes =
    kTls13TicketKeyNameBytes + kTls13TicketNonceBytes + kMaxTls13TicketPlainBytes + kAeadTagBytes;

// Seals `in` under `key` with the 12 random bytes `nonce`. Returns the ticket's size in
// `out`, or 0 on failure.
size_t SealTls13Ticket(CryptoContext& ctx, const TicketKey& key,
                  std::span<const uint8_t, kTls13TicketNonceBytes> nonce, const TicketContents& in,
                  std::span<uint8_t, kMaxTls13TicketBytes> out) noexcept;

// Opens a ticket sealed by any key of `keys`. false when no key has its name, the tag does
// not verify (tampered, or a key with a reused name), or the plaintext is not a version
// we read. Age and suite checks are the caller's.
bool OpenTls13Ticket(CryptoContext& ctx, TicketKeys keys, ByteView ticket,
                TicketContents& out) noexcept;

}  // namespace baton::crypto::tls
