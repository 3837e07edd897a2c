#pragma once

// Server certificates: a chain and its private key (a Credential), loaded from PEM files,
// and the choice of one for a ClientHello by SNI and signature_algorithms.
//
// Loading is control-plane work (it reads files and allocates); choosing runs once per
// handshake. Neither reads a clock: certificate validity dates are not checked here.

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/types.h"

namespace baton::crypto::tls {

// A certificate chain (leaf first, DER) and its private key. The config points at a table
// of these and the session state stores an index.
struct Credential {
  std::vector<std::vector<uint8_t>> chain_der;
  // ECDSA P-256 or P-384, RSA (signs with RSA-PSS), or Ed25519. Not owned unless
  // `owned_key` holds it (LoadCredential sets both).
  EVP_PKEY* key = nullptr;
  // DNS names the credential serves, lower case: exact names and single-label wildcards
  // ("*.example.com"). LoadCredential fills them from the leaf (CertificateNames). Empty:
  // the credential is only ever chosen as the default (the first in the table).
  std::vector<std::string> names;
  std::shared_ptr<EVP_PKEY> owned_key;
};

// RFC 1035 2.3.4 / RFC 6066 3: a host name is at most 255 bytes.
inline constexpr size_t kMaxDnsNameBytes = 255;

// Largest PEM file LoadCredential reads; a chain of a few certificates is ~10 KiB.
inline constexpr size_t kMaxPemFileBytes = size_t{1} << 20;

// Reads a PEM certificate chain (leaf first; intermediates in order) and a PEM private key
// (PKCS#8 or traditional, unencrypted). Checks that the key is ECDSA P-256/P-384, RSA of at
// least 2048 bits or Ed25519, that it matches the leaf's public key, and that each
// certificate was issued by the next (names and key identifiers; signatures are the
// client's business). On failure returns nullopt and sets `error` to one line naming the
// file and what is wrong.
std::optional<Credential> LoadCredential(const std::string& chain_path,
                                         const std::string& key_path, std::string& error);

// The same from PEM text in memory; `chain_name` and `key_name` label the errors.
std::optional<Credential> ParseCredential(std::string_view chain_pem, std::string_view key_pem,
                                          std::string& error,
                                          std::string_view chain_name = "certificate chain",
                                          std::string_view key_name = "private key");

// The DNS names of a DER certificate for SNI matching, lower case: its subjectAltName
// dNSName entries, or the subject CN when the certificate has no subjectAltName
// extension. Empty on a certificate that does not parse.
std::vector<std::string> CertificateNames(ByteView leaf_der);

// True when `sni` (any case) matches `name` (lower case): equal, or `name` is
// "*.<rest>" and `sni` is one non-empty label followed by ".<rest>" (RFC 6125 6.4.3).
bool NameMatches(std::string_view name, std::string_view sni) noexcept;

// True when two host names are equal ignoring ASCII case (RFC 4343).
bool SameHostName(std::string_view a, std::string_view b) noexcept;

struct CredentialChoice {
  uint16_t index = 0;   // into the credentials table
  uint16_t scheme = 0;  // SignatureScheme wire number
};

// Picks the credential for a ClientHello:
//  1. the credentials with a name equal to `sni`; if none,
//  2. those with a wildcard name matching `sni`; if none (or no SNI),
//  3. the default: credential 0 and every credential with exactly its names (so that a
//     default host can have an ECDSA and an RSA chain).
// Among those, the first in table order whose key can sign with a scheme in
// `client_schemes` (the client's signature_algorithms, a raw u16 list), trying ECDSA and
// Ed25519 keys before RSA ones (cheaper to sign, smaller). nullopt when none can: the
// caller answers handshake_failure. The lower tiers are not tried once a higher one has
// matched: a host name never falls back to another host's certificate.
std::optional<CredentialChoice> ChooseCredential(std::span<const Credential> credentials,
                                                 std::string_view sni,
                                                 ByteView client_schemes) noexcept;

}  // namespace baton::crypto::tls
