#include "crypto/tls/client_key_share.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include <memory>

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
using Bn = std::unique_ptr<BIGNUM, BnClearFree>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using Params = std::unique_ptr<OSSL_PARAM, ParamFree>;

constexpr size_t kX25519Bytes = 32;
constexpr size_t kP256PointBytes = 65;
constexpr char kP256Name[] = "P-256";

bool Ok(CryptoStatus s) noexcept { return s == CryptoStatus::kOk; }

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

// The server's public key. libcrypto checks that a P-256 point is on the curve when it
// decodes it.
Pkey PeerKey(NamedGroup group, ByteView pub) noexcept {
  if (group == NamedGroup::kX25519) {
    // RFC 8446 4.2.8.2: X25519 key_exchange is the 32-byte public value.
    if (pub.size() != kX25519Bytes) return nullptr;
    EVP_PKEY* p = nullptr;
    (void)OsslCall([&] {
      return p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub.data(), pub.size());
    });
    return Pkey(p);
  }
  // RFC 8446 4.2.8.2: UncompressedPointRepresentation, legacy_form = 4.
  if (pub.size() != kP256PointBytes || pub[0] != 4) return nullptr;
  char group_name[] = "P-256";
  const std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(pub.data()),
                                        pub.size()),
      OSSL_PARAM_construct_end()};
  return EcFromData(params.data(), EVP_PKEY_PUBLIC_KEY);
}

// Our key from its stored private part. ECDH needs only the scalar.
Pkey OwnKey(NamedGroup group, ByteView priv) noexcept {
  if (priv.size() != kSharePrivateBytes) return nullptr;
  if (group == NamedGroup::kX25519) {
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
        return OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kP256Name, 0);
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

}  // namespace

Step MakeShare(NamedGroup group, RandomFn random, void* random_ctx, ShareKeyPair& out) noexcept {
  out = ShareKeyPair{};
  Pkey key;
  if (group == NamedGroup::kX25519) {
    if (!random(random_ctx, out.private_key.data(), out.private_key.size())) {
      return Alert::kInternalError;
    }
    key = OwnKey(group, out.private_key);
    size_t len = out.public_key.size();
    if (!key || !Ok(OsslCall([&] {
          return EVP_PKEY_get_raw_public_key(key.get(), out.public_key.data(), &len);
        }))) {
      return Alert::kInternalError;
    }
    out.public_len = static_cast<uint8_t>(len);
    return Step::Continue();
  }
  if (group != NamedGroup::kSecp256r1) return Alert::kInternalError;
  EVP_PKEY* p = nullptr;
  if (!Ok(OsslCall([&] { return p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kP256Name); }))) {
    return Alert::kInternalError;
  }
  key.reset(p);
  BIGNUM* raw_d = nullptr;
  if (!Ok(OsslCall([&] {
        return EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw_d);
      }))) {
    return Alert::kInternalError;
  }
  const Bn d(raw_d);
  size_t len = 0;
  // Default point conversion form is uncompressed, as RFC 8446 4.2.8.2 requires.
  if (!Ok(OsslCall([&] {
        return BN_bn2binpad(d.get(), out.private_key.data(),
                            static_cast<int>(out.private_key.size())) ==
               static_cast<int>(out.private_key.size());
      })) ||
      !Ok(OsslCall([&] {
        return EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                               out.public_key.data(), out.public_key.size(), &len);
      })) ||
      len != kP256PointBytes) {
    return Alert::kInternalError;
  }
  out.public_len = static_cast<uint8_t>(len);
  return Step::Continue();
}

Step SharedSecret(NamedGroup group, ByteView private_key, ByteView peer_public,
                  std::array<uint8_t, kMaxSharedSecretBytes>& shared, uint8_t& shared_len) noexcept {
  shared_len = 0;
  const Pkey peer = PeerKey(group, peer_public);
  if (!peer) return Alert::kIllegalParameter;
  const Pkey ours = OwnKey(group, private_key);
  if (!ours) return Alert::kInternalError;
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
  size_t len = shared.size();
  // RFC 8446 7.4.2: an all-zero X25519 result must abort; libcrypto's derive fails on it,
  // which is the server's fault.
  if (!Ok(OsslCall([&] { return EVP_PKEY_derive(ctx.get(), shared.data(), &len); }))) {
    return Alert::kIllegalParameter;
  }
  shared_len = static_cast<uint8_t>(len);
  return Step::Continue();
}

}  // namespace baton::crypto::tls
