#pragma once

// HKDF (RFC 5869) and the TLS 1.3 key schedule (RFC 8446 7.1-7.3, 4.4.4, 4.6.1) as pure
// functions over plain values: no state, no allocation visible to callers, no exceptions.
// Inputs that are transcript hashes are Digest/ByteView values from crypto::Transcript.
//
// Every function returns kBadLength when a secret's length does not match its hash, or an
// output does not fit; kOsslError when libcrypto fails (error queue drained).

#include <string_view>

#include "crypto/aead.h"
#include "crypto/types.h"

namespace baton::crypto {

// RFC 5869 2.2. An empty salt means HashLen zero bytes (RFC 5869 2.2, RFC 8446 7.1 "0").
[[nodiscard]] CryptoStatus HkdfExtract(HashAlg hash, ByteView salt, ByteView ikm,
                                       Secret& out) noexcept;
// RFC 5869 2.3; out.size() <= 255 * HashLen.
[[nodiscard]] CryptoStatus HkdfExpand(HashAlg hash, ByteView prk, ByteView info,
                                      MutByteView out) noexcept;
// RFC 8446 7.1 HKDF-Expand-Label: label without the "tls13 " prefix, at most 249 bytes;
// context at most 255 bytes.
[[nodiscard]] CryptoStatus HkdfExpandLabel(const Secret& secret, std::string_view label,
                                           ByteView context, MutByteView out) noexcept;
// RFC 8446 7.1 Derive-Secret(Secret, Label, Messages), given Transcript-Hash(Messages).
[[nodiscard]] CryptoStatus DeriveSecret(const Secret& secret, std::string_view label,
                                        ByteView transcript_hash, Secret& out) noexcept;

// --- RFC 8446 7.1 schedule -------------------------------------------------------------
// Early Secret = HKDF-Extract(0, PSK); an empty psk means no PSK (HashLen zeros).
[[nodiscard]] CryptoStatus EarlySecret(HashAlg hash, ByteView psk, Secret& out) noexcept;
// Handshake Secret = HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE).
[[nodiscard]] CryptoStatus HandshakeSecret(const Secret& early, ByteView ecdhe,
                                           Secret& out) noexcept;
// Master Secret = HKDF-Extract(Derive-Secret(handshake, "derived", ""), 0).
[[nodiscard]] CryptoStatus MasterSecret(const Secret& handshake, Secret& out) noexcept;

// From the Early Secret. `resumption` picks "res binder" over "ext binder".
[[nodiscard]] CryptoStatus BinderKey(const Secret& early, bool resumption, Secret& out) noexcept;
// th = Transcript-Hash(ClientHello).
[[nodiscard]] CryptoStatus ClientEarlyTrafficSecret(const Secret& early, ByteView th,
                                                    Secret& out) noexcept;
[[nodiscard]] CryptoStatus EarlyExporterMasterSecret(const Secret& early, ByteView th,
                                                     Secret& out) noexcept;
// th = Transcript-Hash(ClientHello...ServerHello).
[[nodiscard]] CryptoStatus ClientHandshakeTrafficSecret(const Secret& handshake, ByteView th,
                                                        Secret& out) noexcept;
[[nodiscard]] CryptoStatus ServerHandshakeTrafficSecret(const Secret& handshake, ByteView th,
                                                        Secret& out) noexcept;
// th = Transcript-Hash(ClientHello...server Finished).
[[nodiscard]] CryptoStatus ClientApplicationTrafficSecret(const Secret& master, ByteView th,
                                                          Secret& out) noexcept;
[[nodiscard]] CryptoStatus ServerApplicationTrafficSecret(const Secret& master, ByteView th,
                                                          Secret& out) noexcept;
[[nodiscard]] CryptoStatus ExporterMasterSecret(const Secret& master, ByteView th,
                                                Secret& out) noexcept;
// th = Transcript-Hash(ClientHello...client Finished).
[[nodiscard]] CryptoStatus ResumptionMasterSecret(const Secret& master, ByteView th,
                                                  Secret& out) noexcept;

// RFC 8446 4.4.4: finished_key = HKDF-Expand-Label(base_key, "finished", "", Hash.length);
// verify_data = HMAC(finished_key, Transcript-Hash(Handshake Context, Certificate*,
// CertificateVerify*)). base_key is the sender's handshake traffic secret.
[[nodiscard]] CryptoStatus FinishedKey(const Secret& base_key, Secret& out) noexcept;
[[nodiscard]] CryptoStatus FinishedVerifyData(const Secret& base_key, ByteView th,
                                              Digest& out) noexcept;

// RFC 8446 7.3: [sender]_write_key / _iv from a traffic secret.
[[nodiscard]] CryptoStatus DeriveTrafficKey(AeadAlg alg, const Secret& traffic_secret,
                                            TrafficKey& out) noexcept;
// RFC 8446 7.2: application_traffic_secret_N+1 for KeyUpdate.
[[nodiscard]] CryptoStatus NextApplicationTrafficSecret(const Secret& current,
                                                        Secret& out) noexcept;
// RFC 8446 4.6.1: PSK = HKDF-Expand-Label(resumption_master_secret, "resumption",
// ticket_nonce, Hash.length).
[[nodiscard]] CryptoStatus ResumptionPsk(const Secret& resumption_master, ByteView ticket_nonce,
                                         Secret& out) noexcept;

}  // namespace baton::crypto
