#include "crypto/tls/key_exchange.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
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

// The one set of owners for the libcrypto objects the handshakes make.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct BnClearFree {
  void operator()(BIGNUM* p) const noexcept { BN_clear_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnClearFree>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using Params = std::unique_ptr<OSSL_PARAM, ParamFree>;

bool Ok(CryptoStatus s) noexcept { return s == CryptoStatus::kOk; }

// What each group we build needs. public_bytes == 0: a group we do not build.
struct GroupParams {
  const char* ec_name;   // libcrypto's EC group name; nullptr for X25519
  size_t scalar_bytes;   // raw private key
  size_t public_bytes;   // RFC 8446 4.2.8.2 key_exchange / RFC 8422 5.4 ECPoint
};

GroupParams ParamsFor(NamedGroup group) noexcept {
  switch (group) {
    case NamedGroup::kX25519: return {nullptr, 32, 32};
    case NamedGroup::kSecp256r1: return {"P-256", 32, 65};   // 0x04 || x || y
    case NamedGroup::kSecp384r1: return {"P-384", 48, 97};
  }
  return {nullptr, 0, 0};  // a wire value we do not know; no default: -Wswitch
}

// An EC key from `params` (group name plus public and/or private parts).
Pkey EcFromData(const OSSL_PARAM* params, int selection) noexcept {
  PkeyCtx ctx;
  EVP_PKEY* p = nullptr;
  if (!Ok(OsslCall([&] {
        ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
        return ctx.get();
      })) ||
      !Ok(OsslCall([&] { return EVP_PKEY_fromdata_init(ctx.get()); })) ||
      !Ok(OsslCall([&] {
        return EVP_PKEY_fromdata(ctx.get(), &p, selection, const_cast<OSSL_PARAM*>(params));
      }))) {
    return nullptr;
  }
  return Pkey(p);
}

// The peer's public key, or nullptr if it is malformed. For the EC groups libcrypto checks
// that the point is on the curve when it decodes it.
Pkey PeerKey(NamedGroup group, ByteView pub) noexcept {
  const GroupParams g = ParamsFor(group);
  if (g.public_bytes == 0 || pub.size() != g.public_bytes) return nullptr;
  EVP_PKEY* p = nullptr;
  if (g.ec_name == nullptr) {
    // RFC 8446 4.2.8.2: X25519 key_exchange is the 32-byte public value.
    (void)OsslCall([&] {
      return p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub.data(), pub.size());
    });
    return Pkey(p);
  }
  // RFC 8446 4.2.8.2 UncompressedPointRepresentation (legacy_form = 4); RFC 8422 5.1.2:
  // uncompressed is also the only TLS 1.2 point format we announce.
  if (pub[0] != 4) return nullptr;
  const std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(g.ec_name),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(pub.data()),
                                        pub.size()),
      OSSL_PARAM_construct_end()};
  return EcFromData(params.data(), EVP_PKEY_PUBLIC_KEY);
}

// Our key from its raw private part. ECDH needs only the scalar.
Pkey OwnKey(NamedGroup group, ByteView priv) noexcept {
  const GroupParams g = ParamsFor(group);
  if (g.public_bytes == 0 || priv.size() != g.scalar_bytes) return nullptr;
  if (g.ec_name == nullptr) {
    EVP_PKEY* p = nullptr;
    (void)OsslCall([&] {
      return p = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size());
    });
    return Pkey(p);
  }
  Bn d;
  ParamBld bld;
  Params params;
  if (!Ok(OsslCall([&] {
        d.reset(BN_bin2bn(priv.data(), static_cast<int>(priv.size()), nullptr));
        return d.get();
      })) ||
      !Ok(OsslCall([&] {
        bld.reset(OSSL_PARAM_BLD_new());
        return bld.get();
      })) ||
      !Ok(OsslCall([&] {
        return OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, g.ec_name,
                                               0);
      })) ||
      !Ok(OsslCall([&] {
        return OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get());
      })) ||
      !Ok(OsslCall([&] {
        params.reset(OSSL_PARAM_BLD_to_param(bld.get()));
        return params.get();
      }))) {
    return nullptr;
  }
  Pkey key = EcFromData(params.get(), EVP_PKEY_KEYPAIR);
  // The builder copied the scalar into params; clear it before the free.
  OSSL_PARAM* priv_param = OSSL_PARAM_locate(params.get(), OSSL_PKEY_PARAM_PRIV_KEY);
  if (priv_param != nullptr && priv_param->data != nullptr) {
    SecureWipe(priv_param->data, priv_param->data_size);
  }
  return key;
}

// A new key for a group we build (ParamsFor(group).public_bytes != 0), its public part
// written to `pub` (which must hold it) and, if `priv` is not empty, its private part to
// `priv` (which must then hold the scalar). nullptr on failure.
Pkey NewKey(NamedGroup group, RandomFn random, void* random_ctx, std::span<uint8_t> priv,
            std::span<uint8_t> pub, size_t& pub_len) noexcept {
  const GroupParams g = ParamsFor(group);
  pub_len = 0;
  Pkey key;
  if (g.ec_name == nullptr) {
    // RFC 7748 5: the private key is 32 random bytes, from the injectable RNG.
    std::array<uint8_t, 32> scalar{};
    const std::span<uint8_t> d = priv.empty() ? std::span<uint8_t>(scalar) : priv.first(32);
    if (random(random_ctx, d.data(), d.size())) key = OwnKey(group, d);
    SecureWipe(scalar.data(), scalar.size());
    size_t len = pub.size();
    if (!key || !Ok(OsslCall([&] {
          return EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len);
        }))) {
      return nullptr;
    }
    pub_len = len;
    return key;
  }
  EVP_PKEY* p = nullptr;
  if (!Ok(OsslCall([&] { return p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", g.ec_name); }))) {
    return nullptr;
  }
  key.reset(p);
  if (!priv.empty()) {
    BIGNUM* raw_d = nullptr;
    if (!Ok(OsslCall([&] {
          return EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw_d);
        }))) {
      return nullptr;
    }
    const Bn d(raw_d);
    const int scalar_len = static_cast<int>(g.scalar_bytes);
    if (!Ok(OsslCall([&] {
          return BN_bn2binpad(d.get(), priv.data(), scalar_len) == scalar_len;
        }))) {
      return nullptr;
    }
  }
  size_t len = 0;
  // Default point conversion form is uncompressed, as RFC 8446 4.2.8.2 and RFC 8422 5.1.2
  // require.
  if (!Ok(OsslCall([&] {
        return EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                               pub.data(), pub.size(), &len);
      })) ||
      len != g.public_bytes) {
    return nullptr;
  }
  pub_len = len;
  return key;
}

// ECDH between our key and the peer's, which derive_set_peer validates.
Step Derive(EVP_PKEY* ours, EVP_PKEY* peer, std::array<uint8_t, kMaxSharedSecretBytes>& shared,
            uint8_t& shared_len) noexcept {
  shared_len = 0;
  PkeyCtx ctx;
  if (!Ok(OsslCall([&] {
        ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, ours, nullptr));
        return ctx.get();
      })) ||
      !Ok(OsslCall([&] { return EVP_PKEY_derive_init(ctx.get()); }))) {
    return Alert::kInternalError;
  }
  // EVP_PKEY_derive_set_peer validates the peer key (EVP_PKEY_derive_set_peer_ex, 1).
  if (!Ok(OsslCall([&] { return EVP_PKEY_derive_set_peer(ctx.get(), peer); }))) {
    return Alert::kIllegalParameter;
  }
  size_t len = shared.size();
  // RFC 8446 7.4.2: X25519 implementations "MUST check whether the computed Diffie-Hellman
  // shared secret is the all-zero value and abort if so"; libcrypto's X25519 derive fails
  // on that value, which we report as the peer's fault.
  if (!Ok(OsslCall([&] { return EVP_PKEY_derive(ctx.get(), shared.data(), &len); }))) {
    return Alert::kIllegalParameter;
  }
  shared_len = static_cast<uint8_t>(len);
  return Step::Continue();
}

}  // namespace

bool DefaultRandom(void* /*ctx*/, uint8_t* out, size_t len) noexcept {
  return Ok(OsslCall([&] { return RAND_bytes(out, static_cast<int>(len)); }));
}

Step MakeEphemeralKey(NamedGroup group, RandomFn random, void* random_ctx,
                      std::span<uint8_t> private_key, uint8_t& private_len,
                      std::span<uint8_t> public_key, uint8_t& public_len) noexcept {
  private_len = 0;
  public_len = 0;
  const GroupParams g = ParamsFor(group);
  if (g.public_bytes == 0 || private_key.size() < g.scalar_bytes ||
      public_key.size() < g.public_bytes) {
    return Alert::kInternalError;  // a group we do not build, or no room for its key
  }
  size_t pub_len = 0;
  const Pkey key = NewKey(group, random, random_ctx, private_key.first(g.scalar_bytes),
                          public_key, pub_len);
  if (!key) {
    SecureWipe(private_key.data(), private_key.size());
    return Alert::kInternalError;
  }
  private_len = static_cast<uint8_t>(g.scalar_bytes);
  public_len = static_cast<uint8_t>(pub_len);
  return Step::Continue();
}

Step DeriveSharedSecret(NamedGroup group, ByteView private_key, ByteView peer_public,
                        std::array<uint8_t, kMaxSharedSecretBytes>& shared,
                        uint8_t& shared_len) noexcept {
  shared_len = 0;
  const Pkey peer = PeerKey(group, peer_public);
  if (!peer) return Alert::kIllegalParameter;
  const Pkey ours = OwnKey(group, private_key);
  if (!ours) return Alert::kInternalError;
  return Derive(ours.get(), peer.get(), shared, shared_len);
}

Step KeyExchange(NamedGroup group, ByteView peer_public, RandomFn random, void* random_ctx,
                 KeyExchangeResult& out) noexcept {
  out = KeyExchangeResult{};
  if (ParamsFor(group).public_bytes == 0) {
    return Alert::kInternalError;  // the caller offered a group we do not build
  }
  // The client's key first: a bad one costs no key generation.
  const Pkey peer = PeerKey(group, peer_public);
  if (!peer) return Alert::kIllegalParameter;
  size_t pub_len = 0;
  const Pkey ours = NewKey(group, random, random_ctx, {}, out.server_public, pub_len);
  if (!ours) return Alert::kInternalError;
  out.server_public_len = static_cast<uint8_t>(pub_len);
  return Derive(ours.get(), peer.get(), out.shared, out.shared_len);
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
  RsaPadding padding = RsaPadding::kNone;
  switch (static_cast<SignatureScheme>(scheme)) {
    case SignatureScheme::kEcdsaSecp256r1Sha256: digest = EVP_sha256(); break;
    case SignatureScheme::kEcdsaSecp384r1Sha384: digest = EVP_sha384(); break;
    case SignatureScheme::kRsaPssRsaeSha256:
      digest = EVP_sha256();
      padding = RsaPadding::kPss;
      break;
    case SignatureScheme::kRsaPssRsaeSha384:
      digest = EVP_sha384();
      padding = RsaPadding::kPss;
      break;
    case SignatureScheme::kEd25519: break;
  }
  return SignWithKey(key, digest, padding, {content.data(), content_len}, signature);
}

Step SignWithKey(EVP_PKEY* key, const EVP_MD* digest, RsaPadding padding, ByteView data,
                 std::vector<uint8_t>& signature) noexcept {
  MdCtx md;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!Ok(OsslCall([&] {
        md.reset(EVP_MD_CTX_new());
        return md.get();
      })) ||
      !Ok(OsslCall([&] { return EVP_DigestSignInit(md.get(), &pctx, digest, nullptr, key); }))) {
    return Alert::kInternalError;
  }
  switch (padding) {
    case RsaPadding::kNone: break;
    case RsaPadding::kPss:
      // RFC 8446 4.2.3: RSASSA-PSS, MGF1 with the scheme's hash (libcrypto's default MGF1
      // digest is the signature digest), salt length = digest length.
      if (!Ok(OsslCall([&] {
            return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
          })) ||
          !Ok(OsslCall([&] {
            return EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
          }))) {
        return Alert::kInternalError;
      }
      break;
    case RsaPadding::kPkcs1:
      if (!Ok(OsslCall([&] { return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING); }))) {
        return Alert::kInternalError;
      }
      break;
  }
  size_t sig_len = 0;
  if (!Ok(OsslCall([&] {
        return EVP_DigestSign(md.get(), nullptr, &sig_len, data.data(), data.size());
      }))) {
    return Alert::kInternalError;
  }
  signature.resize(sig_len);
  if (!Ok(OsslCall([&] {
        return EVP_DigestSign(md.get(), signature.data(), &sig_len, data.data(), data.size());
      }))) {
    return Alert::kInternalError;
  }
  signature.resize(sig_len);
  return Step::Continue();
}

}  // namespace baton::crypto::tls
