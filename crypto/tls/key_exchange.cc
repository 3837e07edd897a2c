#include "crypto/tls/key_exchange.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

#include "crypto/ossl_call.h"
#include "crypto/secure_wipe.h"

namespace baton::crypto::tls {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr size_t kX25519Bytes = 32;
constexpr size_t kP256PointBytes = 65;
constexpr size_t kP384PointBytes = 97;

bool Ok(CryptoStatus s) noexcept { return s == CryptoStatus::kOk; }

// Our X25519 key from injected randomness (RFC 7748 5: the private key is 32 random bytes).
Pkey X25519Key(RandomFn random, void* random_ctx) noexcept {
  std::array<uint8_t, kX25519Bytes> priv{};
  Pkey key;
  if (random(random_ctx, priv.data(), priv.size())) {
    EVP_PKEY* p = nullptr;
    if (Ok(OsslCall([&] {
          return p = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(),
                                                  priv.size());
        }))) {
      key.reset(p);
    }
  }
  SecureWipe(priv.data(), priv.size());
  return key;
}

Pkey EcKey(const char* curve) noexcept {
  EVP_PKEY* p = nullptr;
  (void)OsslCall([&] { return p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve); });
  return Pkey(p);
}

// The client's public key as an EVP_PKEY. For P-256 libcrypto checks that the point is on
// the curve when it decodes it.
Pkey PeerKey(NamedGroup group, ByteView pub) noexcept {
  EVP_PKEY* p = nullptr;
  if (group == NamedGroup::kX25519) {
    // RFC 8446 4.2.8.2: X25519 key_exchange is the 32-byte public value.
    if (pub.size() != kX25519Bytes) return nullptr;
    (void)OsslCall([&] {
      return p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub.data(), pub.size());
    });
    return Pkey(p);
  }
  // RFC 8446 4.2.8.2: UncompressedPointRepresentation, legacy_form = 4, 65 bytes for
  // P-256, 97 for P-384.
  const bool p384 = group == NamedGroup::kSecp384r1;
  if (pub.size() != (p384 ? kP384PointBytes : kP256PointBytes) || pub[0] != 4) return nullptr;
  PkeyCtx ctx;
  if (!Ok(OsslCall([&] {
        ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
        return ctx.get();
      }))) {
    return nullptr;
  }
  char p256_name[] = "P-256";
  char p384_name[] = "P-384";
  std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, p384 ? p384_name : p256_name,
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(pub.data()),
                                        pub.size()),
      OSSL_PARAM_construct_end()};
  if (!Ok(OsslCall([&] { return EVP_PKEY_fromdata_init(ctx.get()); })) ||
      !Ok(OsslCall([&] {
        return EVP_PKEY_fromdata(ctx.get(), &p, EVP_PKEY_PUBLIC_KEY, params.data());
      }))) {
    return nullptr;
  }
  return Pkey(p);
}

}  // namespace

bool DefaultRandom(void* /*ctx*/, uint8_t* out, size_t len) noexcept {
  return Ok(OsslCall([&] { return RAND_bytes(out, static_cast<int>(len)); }));
}

Step KeyExchange(NamedGroup group, ByteView peer_public, RandomFn random, void* random_ctx,
                 KeyExchangeResult& out) noexcept {
  out = KeyExchangeResult{};
  if (group != NamedGroup::kX25519 && group != NamedGroup::kSecp256r1 &&
      group != NamedGroup::kSecp384r1) {
    return Alert::kInternalError;  // the caller offered a group we do not build
  }
  Pkey peer = PeerKey(group, peer_public);
  if (!peer) return Alert::kIllegalParameter;
  Pkey ours = group == NamedGroup::kX25519   ? X25519Key(random, random_ctx)
              : group == NamedGroup::kSecp384r1 ? EcKey("P-384")
                                                : EcKey("P-256");
  if (!ours) return Alert::kInternalError;

  size_t pub_len = out.server_public.size();
  if (group == NamedGroup::kX25519) {
    if (!Ok(OsslCall([&] {
          return EVP_PKEY_get_raw_public_key(ours.get(), out.server_public.data(), &pub_len);
        }))) {
      return Alert::kInternalError;
    }
  } else {
    // Default point conversion form is uncompressed, as RFC 8446 4.2.8.2 requires.
    if (!Ok(OsslCall([&] {
          return EVP_PKEY_get_octet_string_param(ours.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                 out.server_public.data(),
                                                 out.server_public.size(), &pub_len);
        }))) {
      return Alert::kInternalError;
    }
  }
  out.server_public_len = static_cast<uint8_t>(pub_len);

  PkeyCtx ctx;
  if (!Ok(OsslCall([&] {
        ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, ours.get(), nullptr));
        return ctx.get();
      })) ||
      !Ok(OsslCall([&] { return EVP_PKEY_derive_init(ctx.get()); }))) {
    return Alert::kInternalError;
  }
  // EVP_PKEY_derive_set_peer validates the peer key (EVP_PKEY_derive_set_peer_ex, 1).
  if (!Ok(OsslCall([&] { return EVP_PKEY_derive_set_peer(ctx.get(), peer.get()); }))) {
    return Alert::kIllegalParameter;
  }
  size_t shared_len = out.shared.size();
  // RFC 8446 7.4.2: X25519 implementations "MUST check whether the computed Diffie-Hellman
  // shared secret is the all-zero value and abort if so"; libcrypto's X25519 derive fails
  // on that value, which we report as the peer's fault.
  if (!Ok(OsslCall([&] { return EVP_PKEY_derive(ctx.get(), out.shared.data(), &shared_len); }))) {
    return Alert::kIllegalParameter;
  }
  out.shared_len = static_cast<uint8_t>(shared_len);
  return Step::Continue();
}

size_t SchemesForKey(EVP_PKEY* key, std::array<uint16_t, kMaxSchemesPerKey>& out) noexcept {
  out = {};
  if (key == nullptr) return 0;
  if (EVP_PKEY_is_a(key, "EC") == 1) {
    char group[32] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      ERR_clear_error();
      return 0;
    }
    // RFC 8446 4.2.3: in TLS 1.3 each ECDSA scheme fixes the curve as well as the hash.
    const std::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256") {
      out[0] = static_cast<uint16_t>(SignatureScheme::kEcdsaSecp256r1Sha256);
      return 1;
    }
    if (name == "secp384r1" || name == "P-384") {
      out[0] = static_cast<uint16_t>(SignatureScheme::kEcdsaSecp384r1Sha384);
      return 1;
    }
    return 0;
  }
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    out[0] = static_cast<uint16_t>(SignatureScheme::kRsaPssRsaeSha256);
    out[1] = static_cast<uint16_t>(SignatureScheme::kRsaPssRsaeSha384);
    return 2;
  }
  if (EVP_PKEY_is_a(key, "ED25519") == 1) {
    out[0] = static_cast<uint16_t>(SignatureScheme::kEd25519);
    return 1;
  }
  return 0;
}

uint16_t SchemeForKey(EVP_PKEY* key) noexcept {
  std::array<uint16_t, kMaxSchemesPerKey> schemes{};
  return SchemesForKey(key, schemes) > 0 ? schemes[0] : 0;
}

Step SignCertificateVerify(EVP_PKEY* key, uint16_t scheme, ByteView transcript_hash,
                           std::vector<uint8_t>& signature) noexcept {
  // RFC 8446 4.4.3: 64 x 0x20, the context string, a 0 byte, then the transcript hash.
  static constexpr std::string_view kContext = "TLS 1.3, server CertificateVerify";
  std::array<uint8_t, 64 + kContext.size() + 1 + kMaxHashBytes> content{};
  std::memset(content.data(), 0x20, 64);
  std::memcpy(content.data() + 64, kContext.data(), kContext.size());
  content[64 + kContext.size()] = 0;
  if (transcript_hash.size() > kMaxHashBytes) return Alert::kInternalError;
  std::memcpy(content.data() + 64 + kContext.size() + 1, transcript_hash.data(),
              transcript_hash.size());
  const size_t content_len = 64 + kContext.size() + 1 + transcript_hash.size();

  std::array<uint16_t, kMaxSchemesPerKey> allowed{};
  const size_t allowed_count = SchemesForKey(key, allowed);
  if (std::find(allowed.begin(), allowed.begin() + static_cast<long>(allowed_count), scheme) ==
      allowed.begin() + static_cast<long>(allowed_count)) {
    return Alert::kInternalError;  // the caller picked a scheme this key cannot make
  }
  const EVP_MD* digest = nullptr;  // Ed25519 (RFC 8032 PureEdDSA) hashes internally
  bool pss = false;
  switch (static_cast<SignatureScheme>(scheme)) {
    case SignatureScheme::kEcdsaSecp256r1Sha256: digest = EVP_sha256(); break;
    case SignatureScheme::kEcdsaSecp384r1Sha384: digest = EVP_sha384(); break;
    case SignatureScheme::kRsaPssRsaeSha256: digest = EVP_sha256(); pss = true; break;
    case SignatureScheme::kRsaPssRsaeSha384: digest = EVP_sha384(); pss = true; break;
    case SignatureScheme::kEd25519: break;
  }

  MdCtx md;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!Ok(OsslCall([&] {
        md.reset(EVP_MD_CTX_new());
        return md.get();
      })) ||
      !Ok(OsslCall([&] {
        return EVP_DigestSignInit(md.get(), &pctx, digest, nullptr, key);
      }))) {
    return Alert::kInternalError;
  }
  if (pss) {
    // RFC 8446 4.2.3: RSASSA-PSS, MGF1 with the scheme's hash (libcrypto's default MGF1
    // digest is the signature digest), salt length = digest length.
    if (!Ok(OsslCall([&] { return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING); })) ||
        !Ok(OsslCall([&] {
          return EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
        }))) {
      return Alert::kInternalError;
    }
  }
  size_t sig_len = 0;
  if (!Ok(OsslCall([&] {
        return EVP_DigestSign(md.get(), nullptr, &sig_len, content.data(), content_len);
      }))) {
    return Alert::kInternalError;
  }
  signature.resize(sig_len);
  if (!Ok(OsslCall([&] {
        return EVP_DigestSign(md.get(), signature.data(), &sig_len, content.data(), content_len);
      }))) {
    return Alert::kInternalError;
  }
  signature.resize(sig_len);
  return Step::Continue();
}

}  // namespace baton::crypto::tls
