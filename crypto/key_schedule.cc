#include "crypto/key_schedule.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <cstring>

#include "crypto/ossl_call.h"
#include "crypto/secure_wipe.h"
#include "crypto/transcript.h"

namespace baton::crypto {

void Secret::Wipe() noexcept { SecureWipe(this, sizeof(*this)); }

namespace {

// RFC 8446 7.1: HkdfLabel.label is opaque label<7..255> = "tls13 " + Label.
constexpr std::string_view kLabelPrefix = "tls13 ";
constexpr size_t kMaxLabelBytes = 255 - kLabelPrefix.size();
constexpr size_t kMaxContextBytes = 255;

bool IsKnown(HashAlg h) noexcept { return h == HashAlg::kSha256 || h == HashAlg::kSha384; }

bool IsValid(const Secret& s) noexcept { return IsKnown(s.hash) && s.len == DigestBytes(s.hash); }

const char* MdName(HashAlg h) noexcept { return h == HashAlg::kSha384 ? "SHA384" : "SHA256"; }

const EVP_MD* Md(HashAlg h) noexcept { return h == HashAlg::kSha384 ? EVP_sha384() : EVP_sha256(); }

// Fetched once per process: fetching takes provider locks, while the fetched method is
// immutable and may be shared by all threads. Never freed (lives as long as the process).
EVP_KDF* HkdfMethod() noexcept {
  static EVP_KDF* const kdf = [] {
    EVP_KDF* k = nullptr;
    (void)OsslCall([&] { return k = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr); });
    return k;
  }();
  return kdf;
}

// OSSL_PARAM wants non-const buffers even for inputs it only reads; OpenSSL copies them.
// An empty span may carry data() == nullptr, which the param getters reject.
void* ParamBuf(ByteView v) noexcept {
  static uint8_t empty = 0;
  return v.empty() ? &empty : const_cast<uint8_t*>(v.data());
}

// HEAP: EVP_KDF_CTX is allocated per call. This runs a few times per handshake, not per
// record, and OpenSSL offers no stack-allocated KDF context.
CryptoStatus RunHkdf(HashAlg hash, int mode, ByteView key, ByteView salt, ByteView info,
                     MutByteView out) noexcept {
  EVP_KDF* const kdf = HkdfMethod();
  if (kdf == nullptr) return CryptoStatus::kOsslError;
  EVP_KDF_CTX* ctx = nullptr;
  if (const CryptoStatus s = OsslCall([&] { return ctx = EVP_KDF_CTX_new(kdf); });
      s != CryptoStatus::kOk) {
    return s;
  }
  std::array<OSSL_PARAM, 6> params;
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 const_cast<char*>(MdName(hash)), 0);
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ParamBuf(key), key.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ParamBuf(salt), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ParamBuf(info), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  const CryptoStatus s =
      OsslCall([&] { return EVP_KDF_derive(ctx, out.data(), out.size(), params.data()); });
  EVP_KDF_CTX_free(ctx);  // clears its copies of key and salt
  return s;
}

CryptoStatus EmptyHash(HashAlg hash, Digest& out) noexcept {
  Transcript(hash).Current(out);  // Transcript-Hash("") of RFC 8446 7.1 "derived"
  return CryptoStatus::kOk;
}

// Extract(Derive-Secret(prev, "derived", ""), ikm); RFC 8446 7.1 between two stages.
CryptoStatus NextStage(const Secret& prev, ByteView ikm, Secret& out) noexcept {
  if (!IsValid(prev)) return CryptoStatus::kBadLength;
  Digest empty;
  (void)EmptyHash(prev.hash, empty);
  Secret derived;
  WipeOnExit wipe(&derived, sizeof(derived));
  if (const CryptoStatus s = DeriveSecret(prev, "derived", empty.view(), derived);
      s != CryptoStatus::kOk) {
    return s;
  }
  return HkdfExtract(prev.hash, derived.view(), ikm, out);
}

// HKDF-Expand-Label(secret, label, context, Hash.length) into a Secret. Goes through a
// temporary so that `out` may alias `secret` (KeyUpdate overwrites in place).
CryptoStatus ExpandToSecret(const Secret& secret, std::string_view label, ByteView context,
                            Secret& out) noexcept {
  if (!IsValid(secret)) return CryptoStatus::kBadLength;
  Secret result;
  result.hash = secret.hash;
  result.len = 0;
  const CryptoStatus s =
      HkdfExpandLabel(secret, label, context, MutByteView(result.bytes.data(), secret.len));
  if (s == CryptoStatus::kOk) {
    result.len = secret.len;
    out = result;
  }
  result.Wipe();
  return s;
}

}  // namespace

CryptoStatus HkdfExtract(HashAlg hash, ByteView salt, ByteView ikm, Secret& out) noexcept {
  if (!IsKnown(hash)) return CryptoStatus::kBadLength;
  const size_t len = DigestBytes(hash);
  const std::array<uint8_t, kMaxHashBytes> zeros{};
  if (salt.empty()) salt = ByteView(zeros.data(), len);  // RFC 5869 2.2
  out.hash = hash;
  out.len = 0;
  const CryptoStatus s = RunHkdf(hash, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, salt, {},
                                 MutByteView(out.bytes.data(), len));
  if (s == CryptoStatus::kOk) out.len = static_cast<uint8_t>(len);
  return s;
}

CryptoStatus HkdfExpand(HashAlg hash, ByteView prk, ByteView info, MutByteView out) noexcept {
  if (!IsKnown(hash)) return CryptoStatus::kBadLength;
  // RFC 5869 2.3: L <= 255*HashLen; PRK "of at least HashLen octets".
  if (out.empty() || out.size() > 255 * DigestBytes(hash) || prk.size() < DigestBytes(hash)) {
    return CryptoStatus::kBadLength;
  }
  return RunHkdf(hash, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, {}, info, out);
}

CryptoStatus HkdfExpandLabel(const Secret& secret, std::string_view label, ByteView context,
                             MutByteView out) noexcept {
  if (!IsValid(secret) || label.size() > kMaxLabelBytes || context.size() > kMaxContextBytes ||
      out.size() > 0xffff) {
    return CryptoStatus::kBadLength;
  }
  // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
  std::array<uint8_t, 2 + 1 + 255 + 1 + 255> info;
  size_t n = 0;
  info[n++] = static_cast<uint8_t>(out.size() >> 8);
  info[n++] = static_cast<uint8_t>(out.size());
  info[n++] = static_cast<uint8_t>(kLabelPrefix.size() + label.size());
  std::memcpy(&info[n], kLabelPrefix.data(), kLabelPrefix.size());
  n += kLabelPrefix.size();
  if (!label.empty()) std::memcpy(&info[n], label.data(), label.size());
  n += label.size();
  info[n++] = static_cast<uint8_t>(context.size());
  if (!context.empty()) std::memcpy(&info[n], context.data(), context.size());
  n += context.size();
  return HkdfExpand(secret.hash, secret.view(), ByteView(info.data(), n), out);
}

CryptoStatus DeriveSecret(const Secret& secret, std::string_view label, ByteView transcript_hash,
                          Secret& out) noexcept {
  if (!IsValid(secret) || transcript_hash.size() != secret.len) return CryptoStatus::kBadLength;
  return ExpandToSecret(secret, label, transcript_hash, out);
}

CryptoStatus EarlySecret(HashAlg hash, ByteView psk, Secret& out) noexcept {
  if (!IsKnown(hash)) return CryptoStatus::kBadLength;
  const std::array<uint8_t, kMaxHashBytes> zeros{};
  if (psk.empty()) psk = ByteView(zeros.data(), DigestBytes(hash));  // RFC 8446 7.1 "0"
  return HkdfExtract(hash, {}, psk, out);
}

CryptoStatus HandshakeSecret(const Secret& early, ByteView ecdhe, Secret& out) noexcept {
  if (ecdhe.empty()) return CryptoStatus::kBadLength;
  return NextStage(early, ecdhe, out);
}

CryptoStatus MasterSecret(const Secret& handshake, Secret& out) noexcept {
  const std::array<uint8_t, kMaxHashBytes> zeros{};
  return NextStage(handshake, ByteView(zeros.data(), DigestBytes(handshake.hash)), out);
}

CryptoStatus BinderKey(const Secret& early, bool resumption, Secret& out) noexcept {
  if (!IsValid(early)) return CryptoStatus::kBadLength;
  Digest empty;
  (void)EmptyHash(early.hash, empty);
  return DeriveSecret(early, resumption ? "res binder" : "ext binder", empty.view(), out);
}

CryptoStatus ClientEarlyTrafficSecret(const Secret& early, ByteView th, Secret& out) noexcept {
  return DeriveSecret(early, "c e traffic", th, out);
}

CryptoStatus EarlyExporterMasterSecret(const Secret& early, ByteView th, Secret& out) noexcept {
  return DeriveSecret(early, "e exp master", th, out);
}

CryptoStatus ClientHandshakeTrafficSecret(const Secret& handshake, ByteView th,
                                          Secret& out) noexcept {
  return DeriveSecret(handshake, "c hs traffic", th, out);
}

CryptoStatus ServerHandshakeTrafficSecret(const Secret& handshake, ByteView th,
                                          Secret& out) noexcept {
  return DeriveSecret(handshake, "s hs traffic", th, out);
}

CryptoStatus ClientApplicationTrafficSecret(const Secret& master, ByteView th,
                                            Secret& out) noexcept {
  return DeriveSecret(master, "c ap traffic", th, out);
}

CryptoStatus ServerApplicationTrafficSecret(const Secret& master, ByteView th,
                                            Secret& out) noexcept {
  return DeriveSecret(master, "s ap traffic", th, out);
}

CryptoStatus ExporterMasterSecret(const Secret& master, ByteView th, Secret& out) noexcept {
  return DeriveSecret(master, "exp master", th, out);
}

CryptoStatus ResumptionMasterSecret(const Secret& master, ByteView th, Secret& out) noexcept {
  return DeriveSecret(master, "res master", th, out);
}

CryptoStatus FinishedKey(const Secret& base_key, Secret& out) noexcept {
  return ExpandToSecret(base_key, "finished", {}, out);
}

CryptoStatus FinishedVerifyData(const Secret& base_key, ByteView th, Digest& out) noexcept {
  if (!IsValid(base_key) || th.size() != base_key.len) return CryptoStatus::kBadLength;
  Secret finished_key;
  WipeOnExit wipe(&finished_key, sizeof(finished_key));
  if (const CryptoStatus s = FinishedKey(base_key, finished_key); s != CryptoStatus::kOk) return s;
  unsigned int len = 0;
  const CryptoStatus s = OsslCall([&] {
    return HMAC(Md(base_key.hash), finished_key.bytes.data(), static_cast<int>(finished_key.len),
                th.data(), th.size(), out.bytes.data(), &len);
  });
  if (s != CryptoStatus::kOk) return s;
  out.len = static_cast<uint8_t>(len);
  return CryptoStatus::kOk;
}

CryptoStatus DeriveTrafficKey(AeadAlg alg, const Secret& traffic_secret,
                              TrafficKey& out) noexcept {
  switch (alg) {
    case AeadAlg::kAes128Gcm:
    case AeadAlg::kAes256Gcm:
    case AeadAlg::kChacha20Poly1305:
      break;
    default:
      return CryptoStatus::kBadKey;
  }
  TrafficKey result;
  result.alg = alg;
  CryptoStatus s = HkdfExpandLabel(traffic_secret, "key", {},
                                   MutByteView(result.key.data(), AeadKeyBytes(alg)));
  if (s == CryptoStatus::kOk) s = HkdfExpandLabel(traffic_secret, "iv", {}, result.iv);
  if (s == CryptoStatus::kOk) out = result;
  result.Wipe();
  return s;
}

CryptoStatus NextApplicationTrafficSecret(const Secret& current, Secret& out) noexcept {
  // RFC 8446 7.2: HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length)
  return ExpandToSecret(current, "traffic upd", {}, out);
}

CryptoStatus ResumptionPsk(const Secret& resumption_master, ByteView ticket_nonce,
                           Secret& out) noexcept {
  return ExpandToSecret(resumption_master, "resumption", ticket_nonce, out);
}

}  // namespace baton::crypto
