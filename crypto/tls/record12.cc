#include "crypto/tls/record12.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstring>

#include "crypto/ossl_call.h"
#include "crypto/secure_wipe.h"

namespace baton::crypto::tls {
namespace {

constexpr size_t kAadBytes = 13;  // seq(8) type(1) version(2) length(2)

void StoreBe64(uint64_t v, uint8_t* p) noexcept {
  for (size_t i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

uint64_t LoadBe64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

std::array<uint8_t, kAadBytes> Aad(uint64_t seq, uint8_t type, uint8_t ver_hi, uint8_t ver_lo,
                                   size_t plain_len) noexcept {
  std::array<uint8_t, kAadBytes> aad{};
  StoreBe64(seq, aad.data());
  aad[8] = type;
  aad[9] = ver_hi;
  aad[10] = ver_lo;
  aad[11] = static_cast<uint8_t>(plain_len >> 8);
  aad[12] = static_cast<uint8_t>(plain_len);
  return aad;
}

// RFC 5288 3 (GCM: salt || explicit) or RFC 7905 2 (ChaCha: iv XOR padded seq).
Nonce RecordNonce(const AeadKey& key, uint64_t explicit_or_seq) noexcept {
  const TrafficKey& raw = key.traffic_key();
  if (raw.alg == AeadAlg::kChacha20Poly1305) return Tls13Nonce(raw.iv, explicit_or_seq);
  return Tls12GcmNonce(std::span<const uint8_t, 4>(raw.iv.data(), 4), explicit_or_seq);
}

// Fetched once per process, as in key_schedule.cc: the method is immutable and shared.
EVP_KDF* PrfMethod() noexcept {
  static EVP_KDF* const kdf = [] {
    EVP_KDF* k = nullptr;
    (void)OsslCall([&] { return k = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_TLS1_PRF, nullptr); });
    return k;
  }();
  return kdf;
}

}  // namespace

bool LookupSuite12(uint16_t wire, Suite12Params& out) noexcept {
  switch (static_cast<Tls12Suite>(wire)) {
    case Tls12Suite::kEcdheEcdsaAes128GcmSha256:
      out = {AeadAlg::kAes128Gcm, HashAlg::kSha256, true};
      return true;
    case Tls12Suite::kEcdheEcdsaAes256GcmSha384:
      out = {AeadAlg::kAes256Gcm, HashAlg::kSha384, true};
      return true;
    case Tls12Suite::kEcdheRsaAes128GcmSha256:
      out = {AeadAlg::kAes128Gcm, HashAlg::kSha256, false};
      return true;
    case Tls12Suite::kEcdheRsaAes256GcmSha384:
      out = {AeadAlg::kAes256Gcm, HashAlg::kSha384, false};
      return true;
    case Tls12Suite::kEcdheRsaChacha20Poly1305Sha256:
      out = {AeadAlg::kChacha20Poly1305, HashAlg::kSha256, false};
      return true;
    case Tls12Suite::kEcdheEcdsaChacha20Poly1305Sha256:
      out = {AeadAlg::kChacha20Poly1305, HashAlg::kSha256, true};
      return true;
  }
  return false;
}

RecordStatus Unprotect12(CryptoContext& ctx, const AeadKey& key, uint64_t seq, MutByteView record,
                         MutByteView& content) noexcept {
  if (record.size() < kRecordHeaderBytes) return RecordStatus::kCryptoFailed;
  const size_t explicit_bytes = ExplicitNonceBytes(key.alg());
  const size_t body_len = record.size() - kRecordHeaderBytes;
  if (body_len < explicit_bytes + kAeadTagBytes) return RecordStatus::kBadMac;
  const size_t plain_len = body_len - explicit_bytes - kAeadTagBytes;
  // RFC 5246 6.2.3: TLSCompressed (here: the plaintext) is at most 2^14 bytes, else
  // record_overflow.
  if (plain_len > kMaxPlaintextBytes) return RecordStatus::kTooLong;
  uint8_t* const body = record.data() + kRecordHeaderBytes;
  // GCM: the nonce's explicit part is whatever the sender put in the record (RFC 5288 3);
  // ChaCha20: derived from our sequence number (RFC 7905 2).
  const Nonce nonce = RecordNonce(key, explicit_bytes != 0 ? LoadBe64(body) : seq);
  const auto aad = Aad(seq, record[0], record[1], record[2], plain_len);
  const MutByteView data(body + explicit_bytes, plain_len);
  const ConstTagSpan tag(body + explicit_bytes + plain_len, kAeadTagBytes);
  const CryptoStatus cs = ctx.OpenWithNonce(key, nonce, aad, data, tag);
  if (cs == CryptoStatus::kBadTag) return RecordStatus::kBadMac;
  if (cs != CryptoStatus::kOk) return RecordStatus::kCryptoFailed;
  content = data;
  return RecordStatus::kOk;
}

RecordStatus Protect12(CryptoContext& ctx, const AeadKey& key, uint64_t seq, ContentType type,
                       ByteView content, MutByteView out, size_t& written) noexcept {
  written = 0;
  const size_t explicit_bytes = ExplicitNonceBytes(key.alg());
  const size_t body_len = explicit_bytes + content.size() + kAeadTagBytes;
  if (content.size() > kMaxPlaintextBytes || out.size() < kRecordHeaderBytes + body_len) {
    return RecordStatus::kCryptoFailed;
  }
  uint8_t* const p = out.data();
  p[0] = static_cast<uint8_t>(type);
  p[1] = 0x03;  // RFC 5246 6.2.1: ProtocolVersion {3, 3}
  p[2] = 0x03;
  p[3] = static_cast<uint8_t>(body_len >> 8);
  p[4] = static_cast<uint8_t>(body_len);
  uint8_t* const body = p + kRecordHeaderBytes;
  if (explicit_bytes != 0) StoreBe64(seq, body);  // RFC 5288 3: the sequence number is a good nonce
  uint8_t* const data = body + explicit_bytes;
  if (!content.empty() && content.data() != data) std::memmove(data, content.data(), content.size());
  const auto aad = Aad(seq, p[0], p[1], p[2], content.size());
  const TagSpan tag(data + content.size(), kAeadTagBytes);
  if (ctx.SealWithNonce(key, RecordNonce(key, seq), aad, {data, content.size()}, tag) !=
      CryptoStatus::kOk) {
    return RecordStatus::kCryptoFailed;
  }
  written = kRecordHeaderBytes + body_len;
  return RecordStatus::kOk;
}

// HEAP: EVP_KDF_CTX per call (a handful per handshake), as in key_schedule.cc.
CryptoStatus Prf12(HashAlg hash, ByteView secret, std::string_view label, ByteView seed_a,
                   ByteView seed_b, MutByteView out) noexcept {
  // RFC 5246 5: PRF(secret, label, seed) = P_<hash>(secret, label + seed).
  std::array<uint8_t, 160> seed{};
  const size_t seed_len = label.size() + seed_a.size() + seed_b.size();
  if (seed_len > seed.size() || out.empty() || out.size() > 256 || secret.empty()) {
    return CryptoStatus::kBadLength;
  }
  std::memcpy(seed.data(), label.data(), label.size());
  if (!seed_a.empty()) std::memcpy(seed.data() + label.size(), seed_a.data(), seed_a.size());
  if (!seed_b.empty()) {
    std::memcpy(seed.data() + label.size() + seed_a.size(), seed_b.data(), seed_b.size());
  }
  EVP_KDF* const kdf = PrfMethod();
  if (kdf == nullptr) return CryptoStatus::kOsslError;
  EVP_KDF_CTX* kctx = nullptr;
  if (const CryptoStatus s = OsslCall([&] { return kctx = EVP_KDF_CTX_new(kdf); });
      s != CryptoStatus::kOk) {
    return s;
  }
  char* md = const_cast<char*>(hash == HashAlg::kSha384 ? "SHA384" : "SHA256");
  const std::array<OSSL_PARAM, 4> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed.data(), seed_len),
      OSSL_PARAM_construct_end()};
  const CryptoStatus s =
      OsslCall([&] { return EVP_KDF_derive(kctx, out.data(), out.size(), params.data()); });
  EVP_KDF_CTX_free(kctx);
  SecureWipe(seed.data(), seed.size());  // may hold a transcript hash only, but cheap
  return s;
}

CryptoStatus ExtendedMasterSecret(HashAlg hash, ByteView pre_master, ByteView session_hash,
                                  MasterSecret12& out) noexcept {
  return Prf12(hash, pre_master, "extended master secret", session_hash, {}, out);
}

CryptoStatus KeyBlock12(const Suite12Params& suite, const MasterSecret12& master,
                        ByteView client_random, ByteView server_random, TrafficKey& client_write,
                        TrafficKey& server_write) noexcept {
  const size_t key_len = AeadKeyBytes(suite.aead);
  const size_t iv_len = FixedIvBytes(suite.aead);
  std::array<uint8_t, 2 * (kMaxAeadKeyBytes + kAeadIvBytes)> block{};
  WipeOnExit wipe(block.data(), block.size());
  const size_t need = 2 * (key_len + iv_len);
  if (const CryptoStatus s = Prf12(suite.prf_hash, master, "key expansion", server_random,
                                   client_random, {block.data(), need});
      s != CryptoStatus::kOk) {
    return s;
  }
  client_write = TrafficKey{};
  server_write = TrafficKey{};
  client_write.alg = suite.aead;
  server_write.alg = suite.aead;
  // RFC 5246 6.3: client_write_MAC_key[0] (none here), server_write_MAC_key[0],
  // client_write_key, server_write_key, client_write_IV, server_write_IV.
  const uint8_t* p = block.data();
  std::memcpy(client_write.key.data(), p, key_len);
  std::memcpy(server_write.key.data(), p + key_len, key_len);
  std::memcpy(client_write.iv.data(), p + 2 * key_len, iv_len);
  std::memcpy(server_write.iv.data(), p + 2 * key_len + iv_len, iv_len);
  return CryptoStatus::kOk;
}

CryptoStatus VerifyData12(HashAlg hash, const MasterSecret12& master, bool client,
                          ByteView transcript_hash,
                          std::array<uint8_t, kVerifyDataBytes>& out) noexcept {
  return Prf12(hash, master, client ? "client finished" : "server finished", transcript_hash, {},
               out);
}

}  // namespace baton::crypto::tls
