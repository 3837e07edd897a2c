#pragma once

// Server authentication for the TLS 1.3 client (RFC 8446 4.4.2, 4.4.3): the certificate
// chain against an X509_STORE (optional), and the CertificateVerify signature against the
// leaf's public key. libcrypto only (X509, EVP_DigestVerify). Handshake-time only: these
// allocate (X509, EVP_PKEY), once per handshake.

#include <openssl/types.h>

#include <cstdint>
#include <ctime>
#include <span>
#include <string_view>

#include "crypto/tls/alert.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

// The leaf's SubjectPublicKeyInfo (DER) into `out`; `len` is its size. bad_certificate
// when the certificate does not parse, unsupported_certificate when its key is not one
// we can verify with (EC P-256/P-384, RSA, Ed25519) or does not fit `out`.
Step LeafPublicKey(ByteView leaf_der, MutByteView out, size_t& len) noexcept;

struct ChainCheck {
  X509_STORE* store = nullptr;  // trust anchors; must not be nullptr here
  std::string_view host{};      // checked against the leaf when check_host (DNS name or IP)
  bool check_host = false;
  time_t time_s = 0;            // verification time; 0 = libcrypto reads the clock
};

// X509_verify_cert over `chain` (DER, leaf first) for the TLS server purpose. The alert
// follows the failure: unknown_ca (no path to a trust anchor), certificate_expired,
// certificate_revoked, bad_certificate (host name, signatures, anything else).
Step VerifyServerChain(const ChainCheck& check, std::span<const ByteView> chain) noexcept;

// RFC 8446 4.4.3: checks `signature` over 64 spaces || "TLS 1.3, server CertificateVerify"
// || 0 || transcript_hash with the key in `spki_der`. illegal_parameter when `scheme` is
// not one we offer for CertificateVerify or does not fit the key (RFC 8446 4.2.3: ECDSA
// schemes name the curve, RSA-PSS-RSAE wants an rsaEncryption key); decrypt_error when the
// signature is wrong.
Step VerifyServerSignature(ByteView spki_der, uint16_t scheme, ByteView transcript_hash,
                           ByteView signature) noexcept;

// Schemes we can check in a CertificateVerify (a subset of what signature_algorithms
// offers: rsa_pkcs1_* are there for certificates only).
bool IsCertificateVerifyScheme(uint16_t scheme) noexcept;

}  // namespace baton::crypto::tls
