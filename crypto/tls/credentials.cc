#include "crypto/tls/credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/tls/key_exchange.h"
#include "crypto/tls/messages.h"

namespace baton::crypto::tls {
namespace {

struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

// libcrypto's reason for the last failure, for error messages; drains the queue.
std::string OsslReason() {
  const unsigned long e = ERR_peek_last_error();
  std::string out;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out = std::string(": ") + buf;
  }
  ERR_clear_error();
  return out;
}

bool ReadFile(const std::string& path, std::string& out, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    if (out.size() + n > kMaxPemFileBytes) {
      std::fclose(f);
      error = path + ": larger than " + std::to_string(kMaxPemFileBytes) + " bytes";
      return false;
    }
    out.append(buf, n);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    error = path + ": read error";
    return false;
  }
  return true;
}

Bio MemBio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// PEM password callback: we take no encrypted keys (a key passphrase would have to live
// in the config anyway); returning -1 makes the read fail.
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

bool IsPemNoStartLine(unsigned long e) {
  return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Key types we sign with (key_exchange.cc SchemesForKey), with a reason for the rest.
bool CheckKeyType(EVP_PKEY* key, std::string& why) {
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < 2048) {
      why = "RSA key of " + std::to_string(bits) + " bits; at least 2048 are required";
      return false;
    }
    return true;
  }
  std::array<uint16_t, kMaxSchemesPerKey> schemes{};
  if (SchemesForKey(key, schemes) > 0) return true;
  ERR_clear_error();
  if (EVP_PKEY_is_a(key, "EC") == 1) {
    why = "EC key on an unsupported curve (P-256 and P-384 are supported)";
  } else if (EVP_PKEY_is_a(key, "RSA-PSS") == 1) {
    why = "RSA-PSS-only key (rsa_pss_pss schemes are not supported; use an rsaEncryption key)";
  } else {
    why = std::string("unsupported key type ") + EVP_PKEY_get0_type_name(key) +
          " (ECDSA P-256/P-384, RSA >= 2048 bits and Ed25519 are supported)";
  }
  return false;
}

}  // namespace

bool SameHostName(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool NameMatches(std::string_view name, std::string_view sni) noexcept {
  auto eq = [](std::string_view lower, std::string_view any) {
    if (lower.size() != any.size()) return false;
    for (size_t i = 0; i < lower.size(); ++i) {
      char c = any[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != lower[i]) return false;
    }
    return true;
  };
  if (sni.empty() || name.empty()) return false;
  if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
    // RFC 6125 6.4.3: the wildcard stands for exactly one whole left-most label.
    const std::string_view rest = name.substr(1);  // ".example.com"
    const size_t dot = sni.find('.');
    return dot != std::string_view::npos && dot > 0 && eq(rest, sni.substr(dot));
  }
  return eq(name, sni);
}

std::vector<std::string> CertificateNames(ByteView leaf_der) {
  std::vector<std::string> names;
  const unsigned char* p = leaf_der.data();
  Cert leaf(d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())));
  if (!leaf) {
    ERR_clear_error();
    return names;
  }
  int crit = 0;
  GeneralNames san(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, &crit, nullptr)));
  if (san) {
    for (int i = 0; i < sk_GENERAL_NAME_num(san.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(san.get(), i);
      if (gn->type != GEN_DNS) continue;
      const ASN1_STRING* s = gn->d.dNSName;
      const std::string_view v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<size_t>(ASN1_STRING_length(s)));
      if (v.empty() || v.size() > kMaxDnsNameBytes || v.find('\0') != std::string_view::npos) {
        continue;
      }
      names.push_back(Lower(v));
    }
    ERR_clear_error();
    return names;  // RFC 6125 6.4.4: with a subjectAltName, the CN is not looked at
  }
  // crit == -1: no such extension; anything else means it did not decode.
  if (crit != -1) {
    ERR_clear_error();
    return names;
  }
  const X509_NAME* subject = X509_get_subject_name(leaf.get());
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, cn);
    if (len > 0) {
      const std::string_view v(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
      if (v.size() <= kMaxDnsNameBytes && v.find('\0') == std::string_view::npos) {
        names.push_back(Lower(v));
      }
    }
    OPENSSL_free(utf8);
  }
  ERR_clear_error();
  return names;
}

std::optional<Credential> ParseCredential(std::string_view chain_pem, std::string_view key_pem,
                                          std::string& error, std::string_view chain_name,
                                          std::string_view key_name) {
  ERR_clear_error();
  const std::string chain_label(chain_name), key_label(key_name);
  if (chain_pem.size() > kMaxPemFileBytes || key_pem.size() > kMaxPemFileBytes) {
    error = (chain_pem.size() > kMaxPemFileBytes ? chain_label : key_label) + ": too large";
    return std::nullopt;
  }

  // The chain: every CERTIFICATE block, in order (other PEM blocks are skipped).
  std::vector<Cert> certs;
  Bio chain_bio = MemBio(chain_pem);
  if (!chain_bio) {
    error = chain_label + ": out of memory";
    return std::nullopt;
  }
  while (true) {
    X509* x = PEM_read_bio_X509(chain_bio.get(), nullptr, nullptr, nullptr);
    if (x == nullptr) {
      const unsigned long e = ERR_peek_last_error();
      if (IsPemNoStartLine(e)) {  // no further block: the normal end
        ERR_clear_error();
        break;
      }
      error = chain_label + ": certificate " + std::to_string(certs.size() + 1) +
              " is malformed" + OsslReason();
      return std::nullopt;
    }
    certs.emplace_back(x);
  }
  if (certs.empty()) {
    error = chain_label + ": no PEM certificate (-----BEGIN CERTIFICATE-----) found";
    return std::nullopt;
  }
  for (size_t i = 0; i + 1 < certs.size(); ++i) {
    if (X509_check_issued(certs[i + 1].get(), certs[i].get()) != X509_V_OK) {
      error = chain_label + ": certificate " + std::to_string(i + 1) +
              " was not issued by certificate " + std::to_string(i + 2) +
              " (the chain must be leaf first, each followed by its issuer)";
      ERR_clear_error();
      return std::nullopt;
    }
  }

  // The key.
  Bio key_bio = MemBio(key_pem);
  if (!key_bio) {
    error = key_label + ": out of memory";
    return std::nullopt;
  }
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &NoPassword, nullptr);
  if (raw == nullptr) {
    // libcrypto 3's decoders report "unsupported" both for no key and for a broken one;
    // tell the two apart by the PEM label.
    const bool none = IsPemNoStartLine(ERR_peek_last_error()) ||
                      key_pem.find("PRIVATE KEY-----") == std::string_view::npos;
    const bool encrypted = key_pem.find("ENCRYPTED") != std::string_view::npos;
    error = key_label + (none        ? ": no PEM private key found"
                         : encrypted ? ": encrypted private keys are not supported"
                                     : ": private key is malformed") +
            OsslReason();
    return std::nullopt;
  }
  std::shared_ptr<EVP_PKEY> key(raw, [](EVP_PKEY* p) { EVP_PKEY_free(p); });
  std::string why;
  if (!CheckKeyType(key.get(), why)) {
    error = key_label + ": " + why;
    return std::nullopt;
  }
  EVP_PKEY* leaf_pub = X509_get0_pubkey(certs[0].get());
  if (leaf_pub == nullptr) {
    error = chain_label + ": the leaf certificate's public key does not decode" + OsslReason();
    return std::nullopt;
  }
  if (EVP_PKEY_eq(leaf_pub, key.get()) != 1) {
    ERR_clear_error();
    error = key_label + ": does not match the public key of the leaf certificate in " +
            chain_label;
    return std::nullopt;
  }

  Credential cred;
  for (const Cert& c : certs) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(c.get(), &der);
    if (len <= 0) {
      error = chain_label + ": cannot re-encode a certificate" + OsslReason();
      return std::nullopt;
    }
    cred.chain_der.emplace_back(der, der + len);
    OPENSSL_free(der);
  }
  // RFC 8446 4.4.2: a certificate_list is at most 2^24-1 bytes, each entry as well.
  size_t total = 0;
  for (const std::vector<uint8_t>& der : cred.chain_der) total += 3 + der.size() + 2;
  if (total >= (size_t{1} << 24)) {
    error = chain_label + ": chain too large for a Certificate message";
    return std::nullopt;
  }
  cred.names = CertificateNames(cred.chain_der[0]);
  cred.key = key.get();
  cred.owned_key = std::move(key);
  ERR_clear_error();
  return cred;
}

std::optional<Credential> LoadCredential(const std::string& chain_path,
                                         const std::string& key_path, std::string& error) {
  std::string chain_pem, key_pem;
  if (!ReadFile(chain_path, chain_pem, error) || !ReadFile(key_path, key_pem, error)) {
    return std::nullopt;
  }
  std::optional<Credential> cred = ParseCredential(chain_pem, key_pem, error, chain_path, key_path);
  // The key file's text is secret; do not leave it in freed heap.
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  return cred;
}

std::optional<CredentialChoice> ChooseCredential(std::span<const Credential> credentials,
                                                 std::string_view sni,
                                                 ByteView client_schemes) noexcept {
  if (credentials.empty()) return std::nullopt;
  enum class Tier { kExact, kWildcard, kDefault };
  auto in_tier = [&](const Credential& c, Tier tier) {
    switch (tier) {
      case Tier::kExact:
        for (const std::string& n : c.names) {
          if (n.empty() || n[0] == '*') continue;
          if (NameMatches(n, sni)) return true;
        }
        return false;
      case Tier::kWildcard:
        for (const std::string& n : c.names) {
          if (n.size() > 2 && n[0] == '*' && n[1] == '.' && NameMatches(n, sni)) return true;
        }
        return false;
      case Tier::kDefault:
        return &c == &credentials[0] || c.names == credentials[0].names;
    }
    return false;
  };
  for (const Tier tier : {Tier::kExact, Tier::kWildcard, Tier::kDefault}) {
    if (tier != Tier::kDefault && sni.empty()) continue;
    bool any = false;
    // Two passes: ECDSA/Ed25519 keys first, RSA keys second.
    for (const bool rsa_pass : {false, true}) {
      for (size_t i = 0; i < credentials.size(); ++i) {
        const Credential& c = credentials[i];
        if (!in_tier(c, tier)) continue;
        any = true;
        std::array<uint16_t, kMaxSchemesPerKey> schemes{};
        const size_t n = SchemesForKey(c.key, schemes);
        const bool is_rsa =
            n > 0 && schemes[0] == static_cast<uint16_t>(SignatureScheme::kRsaPssRsaeSha256);
        if (is_rsa != rsa_pass) continue;
        for (size_t k = 0; k < n; ++k) {
          // RFC 8446 4.4.2.2: the signature must use a scheme the client offered.
          if (ListHas(client_schemes, schemes[k])) {
            return CredentialChoice{static_cast<uint16_t>(i), schemes[k]};
          }
        }
      }
    }
    if (any) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace baton::crypto::tls
