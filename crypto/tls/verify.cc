#include "crypto/tls/verify.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "crypto/ossl_call.h"
#include "crypto/tls/client_messages.h"

namespace baton::crypto::tls {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_pop_free(p, X509_free); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const noexcept { X509_STORE_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackFree>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, StoreCtxFree>;

bool Ok(CryptoStatus s) noexcept { return s == CryptoStatus::kOk; }

X509Ptr ParseCert(ByteView der) noexcept {
  const unsigned char* p = der.data();
  X509* x = nullptr;
  if (!Ok(OsslCall([&] { return x = d2i_X509(nullptr, &p, static_cast<long>(der.size())); }))) {
    return nullptr;
  }
  X509Ptr cert(x);
  // Trailing bytes after the certificate: not a DER certificate.
  if (p != der.data() + der.size()) return nullptr;
  return cert;
}

enum class KeyKind : uint8_t { kUnsupported, kP256, kP384, kRsa, kEd25519 };

KeyKind KindOf(EVP_PKEY* key) noexcept {
  if (EVP_PKEY_is_a(key, "EC") == 1) {
    std::array<char, 32> group{};
    size_t len = 0;
    if (!Ok(OsslCall([&] {
          return EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                                group.size(), &len);
        }))) {
      return KeyKind::kUnsupported;
    }
    const std::string_view name(group.data(), len);
    if (name == "prime256v1" || name == "P-256") return KeyKind::kP256;
    if (name == "secp384r1" || name == "P-384") return KeyKind::kP384;
    return KeyKind::kUnsupported;
  }
  // rsaEncryption keys only: RSASSA-PSS-keyed certificates (rsa_pss_pss_*) are not offered.
  if (EVP_PKEY_is_a(key, "RSA") == 1) return KeyKind::kRsa;
  if (EVP_PKEY_is_a(key, "ED25519") == 1) return KeyKind::kEd25519;
  return KeyKind::kUnsupported;
}

// The digest a scheme signs with (nullptr: Ed25519 signs the message itself), or false if
// the scheme does not fit the key (RFC 8446 4.2.3).
bool SchemeFits(uint16_t scheme, KeyKind kind, const EVP_MD*& md) noexcept {
  switch (static_cast<ClientScheme>(scheme)) {
    case ClientScheme::kEcdsaSecp256r1Sha256: md = EVP_sha256(); return kind == KeyKind::kP256;
    case ClientScheme::kEcdsaSecp384r1Sha384: md = EVP_sha384(); return kind == KeyKind::kP384;
    case ClientScheme::kRsaPssRsaeSha256: md = EVP_sha256(); return kind == KeyKind::kRsa;
    case ClientScheme::kRsaPssRsaeSha384: md = EVP_sha384(); return kind == KeyKind::kRsa;
    case ClientScheme::kEd25519: md = nullptr; return kind == KeyKind::kEd25519;
    case ClientScheme::kRsaPkcs1Sha256:
    case ClientScheme::kRsaPkcs1Sha384:
      // RFC 8446 4.4.3: "RSA signatures MUST use an RSASSA-PSS algorithm".
      return false;
  }
  return false;
}

// libssl's choices (ssl_x509err2alert), so that our alerts read like a common client's.
Alert AlertForVerifyError(int err) noexcept {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_INVALID_CA:
      return kAlertUnknownCa;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return kAlertCertificateExpired;
    case X509_V_ERR_CERT_REVOKED:
      return kAlertCertificateRevoked;
    case X509_V_ERR_INVALID_PURPOSE:
      return kAlertUnsupportedCertificate;
    default:
      return Alert::kBadCertificate;
  }
}

}  // namespace

bool IsCertificateVerifyScheme(uint16_t scheme) noexcept {
  const EVP_MD* md = nullptr;
  for (const KeyKind k : {KeyKind::kP256, KeyKind::kP384, KeyKind::kRsa, KeyKind::kEd25519}) {
    if (SchemeFits(scheme, k, md)) return true;
  }
  return false;
}

Step LeafPublicKey(ByteView leaf_der, MutByteView out, size_t& len) noexcept {
  len = 0;
  const X509Ptr leaf = ParseCert(leaf_der);
  if (!leaf) return Alert::kBadCertificate;
  EVP_PKEY* key = nullptr;  // owned by the certificate
  if (!Ok(OsslCall([&] { return key = X509_get0_pubkey(leaf.get()); }))) {
    return kAlertUnsupportedCertificate;
  }
  if (KindOf(key) == KeyKind::kUnsupported) return kAlertUnsupportedCertificate;
  int n = 0;
  if (!Ok(OsslCall([&] { return (n = i2d_PUBKEY(key, nullptr)) > 0; })) ||
      static_cast<size_t>(n) > out.size()) {
    return kAlertUnsupportedCertificate;
  }
  unsigned char* p = out.data();
  if (!Ok(OsslCall([&] { return i2d_PUBKEY(key, &p) == n; }))) return Alert::kInternalError;
  len = static_cast<size_t>(n);
  return Step::Continue();
}

Step VerifyServerChain(const ChainCheck& check, std::span<const ByteView> chain) noexcept {
  if (check.store == nullptr || chain.empty()) return Alert::kInternalError;
  const X509Ptr leaf = ParseCert(chain[0]);
  if (!leaf) return Alert::kBadCertificate;
  X509Stack untrusted;
  if (!Ok(OsslCall([&] {
        untrusted.reset(sk_X509_new_null());
        return untrusted.get();
      }))) {
    return Alert::kInternalError;
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    X509Ptr c = ParseCert(chain[i]);
    if (!c) return Alert::kBadCertificate;
    if (!Ok(OsslCall([&] { return sk_X509_push(untrusted.get(), c.get()) > 0; }))) {
      return Alert::kInternalError;
    }
    (void)c.release();  // the stack owns it now
  }
  StoreCtx ctx;
  if (!Ok(OsslCall([&] {
        ctx.reset(X509_STORE_CTX_new());
        return ctx.get();
      })) ||
      !Ok(OsslCall([&] {
        return X509_STORE_CTX_init(ctx.get(), check.store, leaf.get(), untrusted.get());
      })) ||
      !Ok(OsslCall([&] { return X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER); }))) {
    return Alert::kInternalError;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (check.time_s != 0) X509_VERIFY_PARAM_set_time(param, check.time_s);
  if (check.check_host) {
    if (check.host.empty()) return Alert::kInternalError;
    // HEAP: a NUL-terminated copy for the IP parser, once per handshake.
    const std::string host(check.host);
    // An IP literal is checked against iPAddress names, anything else as a DNS name.
    // set1_ip_asc fails on a non-IP string; OsslCall drains that expected failure.
    if (!Ok(OsslCall([&] { return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()); })) &&
        !Ok(OsslCall([&] {
          return X509_VERIFY_PARAM_set1_host(param, host.data(), host.size());
        }))) {
      return Alert::kInternalError;
    }
  }
  if (Ok(OsslCall([&] { return X509_verify_cert(ctx.get()); }))) return Step::Continue();
  return AlertForVerifyError(X509_STORE_CTX_get_error(ctx.get()));
}

Step VerifyServerSignature(ByteView spki_der, uint16_t scheme, ByteView transcript_hash,
                           ByteView signature) noexcept {
  const unsigned char* p = spki_der.data();
  EVP_PKEY* raw = nullptr;
  if (!Ok(OsslCall([&] {
        return raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size()));
      }))) {
    return Alert::kInternalError;  // we stored it ourselves
  }
  const Pkey key(raw);
  const EVP_MD* md = nullptr;
  // RFC 8446 4.4.3: the algorithm "MUST be one offered in the client's
  // "signature_algorithms" extension"; a scheme that does not fit the key is as bad.
  if (!SchemeFits(scheme, KindOf(key.get()), md)) return Alert::kIllegalParameter;

  // RFC 8446 4.4.3: 64 x 0x20, the context string, a 0 byte, then the transcript hash.
  static constexpr std::string_view kContext = "TLS 1.3, server CertificateVerify";
  std::array<uint8_t, 64 + kContext.size() + 1 + kMaxHashBytes> content{};
  if (transcript_hash.size() > kMaxHashBytes) return Alert::kInternalError;
  std::memset(content.data(), 0x20, 64);
  std::memcpy(content.data() + 64, kContext.data(), kContext.size());
  content[64 + kContext.size()] = 0;
  std::memcpy(content.data() + 64 + kContext.size() + 1, transcript_hash.data(),
              transcript_hash.size());
  const size_t content_len = 64 + kContext.size() + 1 + transcript_hash.size();

  MdCtx md_ctx;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md_ctx
  if (!Ok(OsslCall([&] {
        md_ctx.reset(EVP_MD_CTX_new());
        return md_ctx.get();
      })) ||
      !Ok(OsslCall([&] {
        return EVP_DigestVerifyInit(md_ctx.get(), &pctx, md, nullptr, key.get());
      }))) {
    return Alert::kInternalError;
  }
  if (scheme == static_cast<uint16_t>(ClientScheme::kRsaPssRsaeSha256) ||
      scheme == static_cast<uint16_t>(ClientScheme::kRsaPssRsaeSha384)) {
    // RFC 8446 4.2.3: RSASSA-PSS with MGF1 on the same digest, salt length = digest length.
    if (!Ok(OsslCall([&] { return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING); })) ||
        !Ok(OsslCall([&] { return EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md); })) ||
        !Ok(OsslCall([&] {
          return EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
        }))) {
      return Alert::kInternalError;
    }
  }
  // RFC 8446 4.4.3: "If the verification fails, the receiver MUST terminate the handshake
  // with a "decrypt_error" alert." EVP_DigestVerify gives 1 only for a good signature.
  if (!Ok(OsslCall([&] {
        return EVP_DigestVerify(md_ctx.get(), signature.data(), signature.size(), content.data(),
                                content_len);
      }))) {
    return Alert::kDecryptError;
  }
  return Step::Continue();
}

}  // namespace baton::crypto::tls
