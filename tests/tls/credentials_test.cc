// Certificates: PEM loading (good, mismatched, garbage), names for SNI, the choice of a
// credential by SNI and signature_algorithms, and every suite x group x signature scheme
// against libssl, which verifies the chain and the host name.

#include "crypto/tls/credentials.h"

#include <gtest/gtest.h>

#include "tests/tls/tls_peer.h"

namespace baton::crypto::tls {
namespace {

using namespace peer;  // NOLINT: test harness

// ---------------------------------------------------------------------------------------
// Loading

struct Files {
  TempDir dir;
  std::string chain, key;
};

TEST(Credentials, LoadsEachKeyType) {
  struct Case {
    KeyKind kind;
    uint16_t scheme;
  };
  for (const Case c : {Case{KeyKind::kP256, 0x0403}, Case{KeyKind::kP384, 0x0503},
                       Case{KeyKind::kRsa2048, 0x0804}, Case{KeyKind::kEd25519, 0x0807}}) {
    EVP_PKEY* k = CachedKey(c.kind);
    X509Ptr leaf = MakeCert(k, "ignored.example", {"www.Example.com", "*.example.net"},
                            Ca().cert.get(), Ca().key, false);
    TempDir dir;
    const std::string chain = dir.Write("chain.pem", CertPem(leaf.get()));
    const std::string key = dir.Write("key.pem", KeyPem(k));
    std::string error;
    const std::optional<Credential> cred = LoadCredential(chain, key, error);
    ASSERT_TRUE(cred.has_value()) << error;
    EXPECT_EQ(cred->chain_der.size(), 1u);
    EXPECT_EQ(cred->chain_der[0], Der(leaf.get()));
    EXPECT_NE(cred->key, nullptr);
    EXPECT_EQ(SchemeForKey(cred->key), c.scheme);
    // SAN names, lower-cased; the CN is ignored when there is a SAN.
    EXPECT_EQ(cred->names, (std::vector<std::string>{"www.example.com", "*.example.net"}));
  }
}

TEST(Credentials, ChainWithIntermediateAndCnFallback) {
  EVP_PKEY* mid_key = CachedKey(KeyKind::kP384);
  X509Ptr mid = MakeCert(mid_key, "baton intermediate", {}, Ca().cert.get(), Ca().key, true, 7);
  EVP_PKEY* k = CachedKey(KeyKind::kP256);
  X509Ptr leaf = MakeCert(k, "Legacy.Example.org", {}, mid.get(), mid_key, false, 8);
  std::string error;
  std::optional<Credential> cred =
      ParseCredential(CertPem(leaf.get()) + "some comment\n" + CertPem(mid.get()), KeyPem(k), error);
  ASSERT_TRUE(cred.has_value()) << error;
  EXPECT_EQ(cred->chain_der.size(), 2u);
  EXPECT_EQ(cred->names, std::vector<std::string>{"legacy.example.org"});  // no SAN: the CN

  // Wrong order: the intermediate first.
  cred = ParseCredential(CertPem(mid.get()) + CertPem(leaf.get()), KeyPem(k), error, "chain.pem",
                         "key.pem");
  EXPECT_FALSE(cred.has_value());
  EXPECT_NE(error.find("chain.pem"), std::string::npos) << error;
}

TEST(Credentials, BadFilesGiveErrorsNamingTheFile) {
  EVP_PKEY* k = CachedKey(KeyKind::kP256);
  X509Ptr leaf = MakeCert(k, "x", {"x.example"}, Ca().cert.get(), Ca().key, false);
  const std::string cert_pem = CertPem(leaf.get());
  const std::string key_pem = KeyPem(k);
  TempDir dir;
  const std::string good_chain = dir.Write("good_chain.pem", cert_pem);
  const std::string good_key = dir.Write("good_key.pem", key_pem);

  std::string random_bytes;
  for (int i = 0; i < 3000; ++i) random_bytes.push_back(static_cast<char>((i * 131 + 7) % 256));
  std::string truncated = cert_pem.substr(0, cert_pem.size() / 2);
  std::string corrupted = cert_pem;
  corrupted[28] = 'A';  // base64 still, but the outer DER tag is broken
  std::string bad_base64 = cert_pem;
  bad_base64[80] = '!';
  std::string enc_key;
  {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_128_cbc(), nullptr, 0, nullptr,
                                  const_cast<char*>("secret"));
    char* p = nullptr;
    const long n = BIO_get_mem_data(b, &p);
    enc_key.assign(p, static_cast<size_t>(n));
    BIO_free(b);
  }
  const std::string other_key = KeyPem(CachedKey(KeyKind::kP384));
  const std::string rsa1024 = KeyPem(CachedKey(KeyKind::kRsa1024));
  const std::string p521 = KeyPem(CachedKey(KeyKind::kP521));
  const std::string ed448 = KeyPem(CachedKey(KeyKind::kEd448));

  struct Case {
    const char* what;
    std::string chain_content;  // empty name = use good_chain
    std::string key_content;
    bool bad_chain;             // which file the error must name
    const char* expect;         // substring of the message
  };
  const Case cases[] = {
      {"empty chain", "", key_pem, true, "no PEM certificate"},
      {"random chain", random_bytes, key_pem, true, "no PEM certificate"},
      {"key as chain", key_pem, key_pem, true, "no PEM certificate"},
      {"truncated chain", truncated, key_pem, true, "malformed"},
      {"corrupted chain", corrupted, key_pem, true, "malformed"},
      {"bad base64 chain", bad_base64, key_pem, true, "malformed"},
      {"empty key", cert_pem, "", false, "no PEM private key"},
      {"random key", cert_pem, random_bytes, false, "no PEM private key"},
      {"cert as key", cert_pem, cert_pem, false, "no PEM private key"},
      {"truncated key", cert_pem, key_pem.substr(0, key_pem.size() - 40), false, "private key"},
      {"encrypted key", cert_pem, enc_key, false, "encrypted"},
      {"mismatched key", cert_pem, other_key, false, "does not match"},
      {"rsa-1024", cert_pem, rsa1024, false, "2048"},
      {"p-521", cert_pem, p521, false, "curve"},
      {"ed448", cert_pem, ed448, false, "unsupported key type"},
  };
  for (const Case& c : cases) {
    const std::string chain = dir.Write(std::string("chain_") + std::to_string(&c - cases), c.chain_content);
    const std::string key = dir.Write(std::string("key_") + std::to_string(&c - cases), c.key_content);
    std::string error;
    EXPECT_FALSE(LoadCredential(chain, key, error).has_value()) << c.what;
    EXPECT_NE(error.find(c.bad_chain ? chain : key), std::string::npos) << c.what << ": " << error;
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.what << ": " << error;
    EXPECT_EQ(ERR_peek_error(), 0u) << c.what;  // the error queue is left clean
  }
  std::string error;
  EXPECT_FALSE(LoadCredential(dir.path() + "/missing.pem", good_key, error).has_value());
  EXPECT_NE(error.find("missing.pem"), std::string::npos) << error;
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
  EXPECT_FALSE(LoadCredential(good_chain, dir.path(), error).has_value());  // a directory
  EXPECT_NE(error.find(dir.path()), std::string::npos) << error;
  EXPECT_TRUE(LoadCredential(good_chain, good_key, error).has_value()) << error;
}

TEST(Credentials, NameMatching) {
  EXPECT_TRUE(NameMatches("www.example.com", "www.example.com"));
  EXPECT_TRUE(NameMatches("www.example.com", "WWW.Example.COM"));
  EXPECT_FALSE(NameMatches("www.example.com", "example.com"));
  EXPECT_TRUE(NameMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(NameMatches("*.example.com", "A-b.EXAMPLE.com"));
  EXPECT_FALSE(NameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(NameMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(NameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(NameMatches("*.example.com", "a.example.org"));
  EXPECT_FALSE(NameMatches("", ""));
  EXPECT_FALSE(NameMatches("www.example.com", ""));
}

Bytes U16List(std::initializer_list<uint16_t> v) {
  Bytes b;
  for (const uint16_t x : v) {
    b.push_back(static_cast<uint8_t>(x >> 8));
    b.push_back(static_cast<uint8_t>(x));
  }
  return b;
}

TEST(Credentials, ChooseBySniThenScheme) {
  std::vector<Credential> creds;
  creds.push_back(IssuedCredential(KeyKind::kP256, {"default.test"}, 10));        // 0
  creds.push_back(IssuedCredential(KeyKind::kRsa2048, {"default.test"}, 11));     // 1
  creds.push_back(IssuedCredential(KeyKind::kRsa2048, {"api.example.com"}, 12));  // 2
  creds.push_back(IssuedCredential(KeyKind::kP384, {"api.example.com"}, 13));     // 3
  creds.push_back(IssuedCredential(KeyKind::kEd25519, {"*.example.com"}, 14));    // 4
  const Bytes all = U16List({0x0804, 0x0403, 0x0503, 0x0807, 0x0805});
  const Bytes rsa = U16List({0x0805, 0x0804});
  const Bytes p256 = U16List({0x0403});
  struct Case {
    const char* sni;
    const Bytes& schemes;
    int index;  // -1: none
    uint16_t scheme;
  };
  const Case cases[] = {
      {"api.example.com", all, 3, 0x0503},  // ECDSA before RSA whatever the table order
      {"API.example.com", rsa, 2, 0x0804},  // our RSA preference: SHA-256 first
      {"api.example.com", p256, -1, 0},     // the name matched; no fallback to others
      {"x.example.com", all, 4, 0x0807},
      {"x.example.com", p256, -1, 0},
      {"a.b.example.com", all, 0, 0x0403},  // not a wildcard match: the default
      {"other.test", rsa, 1, 0x0804},       // the default host's RSA chain
      {"", all, 0, 0x0403},
  };
  for (const Case& c : cases) {
    const std::optional<CredentialChoice> got = ChooseCredential(creds, c.sni, c.schemes);
    if (c.index < 0) {
      EXPECT_FALSE(got.has_value()) << c.sni;
      continue;
    }
    ASSERT_TRUE(got.has_value()) << c.sni;
    EXPECT_EQ(got->index, c.index) << c.sni;
    EXPECT_EQ(got->scheme, c.scheme) << c.sni;
  }
}

// ---------------------------------------------------------------------------------------
// Handshakes against libssl

struct MatrixCase {
  const char* suite;
  uint16_t suite_wire;
  const char* group;
  uint16_t group_wire;
  KeyKind key;
  const char* sigalg;
  uint16_t scheme;
};

class SchemeMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(SchemeMatrix, HandshakeVerifiedByLibssl) {
  const MatrixCase& p = GetParam();
  const std::vector<Credential> creds = {IssuedCredential(p.key, {"www.example.com"})};
  TlsServerConfig config;
  config.credentials = creds;
  ClientOptions opt;
  opt.suites = p.suite;
  opt.groups = p.group;
  opt.sigalgs = p.sigalg;
  opt.sni = "www.example.com";
  opt.verify_host = "www.example.com";
  ClientCtx cctx(opt);
  Pair pair(config, cctx);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(SSL_get_verify_result(pair.ssl()), X509_V_OK);
  EXPECT_EQ(pair.server().suite(), p.suite_wire);
  EXPECT_EQ(pair.server().group(), p.group_wire);
  int nid = 0;
  ASSERT_EQ(SSL_get_peer_signature_type_nid(pair.ssl(), &nid), 1);
  EXPECT_TRUE(pair.ClientSends(Pattern(2000)));
  EXPECT_TRUE(pair.ServerSends(Pattern(20000)));
}

std::vector<MatrixCase> AllCases() {
  struct S {
    const char* name;
    uint16_t wire;
  };
  struct K {
    KeyKind key;
    const char* sigalg;
    uint16_t scheme;
  };
  std::vector<MatrixCase> out;
  for (const S s : {S{"TLS_AES_128_GCM_SHA256", 0x1301}, S{"TLS_AES_256_GCM_SHA384", 0x1302},
                    S{"TLS_CHACHA20_POLY1305_SHA256", 0x1303}}) {
    for (const S g : {S{"X25519", 0x1d}, S{"P-256", 0x17}, S{"P-384", 0x18}}) {
      for (const K k : {K{KeyKind::kP256, "ecdsa_secp256r1_sha256", 0x0403},
                        K{KeyKind::kP384, "ecdsa_secp384r1_sha384", 0x0503},
                        K{KeyKind::kRsa2048, "rsa_pss_rsae_sha256", 0x0804},
                        K{KeyKind::kRsa2048, "rsa_pss_rsae_sha384", 0x0805},
                        K{KeyKind::kEd25519, "ed25519", 0x0807}}) {
        out.push_back({s.name, s.wire, g.name, g.wire, k.key, k.sigalg, k.scheme});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, SchemeMatrix, ::testing::ValuesIn(AllCases()));

class SniChoice : public ::testing::Test {
 protected:
  void SetUp() override {
    creds_.push_back(IssuedCredential(KeyKind::kP256, {"default.test"}, 20));       // 0
    creds_.push_back(IssuedCredential(KeyKind::kP256, {"www.example.com"}, 21));    // 1
    creds_.push_back(IssuedCredential(KeyKind::kP384, {"*.example.com"}, 22));      // 2
    creds_.push_back(IssuedCredential(KeyKind::kRsa2048, {"api.example.com"}, 23));  // 3
    creds_.push_back(IssuedCredential(KeyKind::kP256, {"api.example.com"}, 24));    // 4
    config_.credentials = creds_;
  }
  // Handshakes with `sni` (also the name libssl verifies, unless `verify` is given).
  void Expect(const char* sni, int index, const char* sigalgs = nullptr,
              const char* verify = nullptr) {
    ClientOptions opt;
    opt.sni = sni;
    opt.verify_host = verify != nullptr ? verify : sni;
    opt.sigalgs = sigalgs;
    ClientCtx cctx(opt);
    Pair pair(config_, cctx);
    ASSERT_TRUE(pair.Handshake()) << (sni ? sni : "(none)") << ": " << pair.failure();
    EXPECT_EQ(SSL_get_verify_result(pair.ssl()), X509_V_OK);
    EXPECT_EQ(pair.server().credential(), index) << (sni ? sni : "(none)");
    X509* peer_cert = SSL_get0_peer_certificate(pair.ssl());
    ASSERT_NE(peer_cert, nullptr);
    EXPECT_EQ(Der(peer_cert), creds_[static_cast<size_t>(index)].chain_der[0]);
  }
  std::vector<Credential> creds_;
  TlsServerConfig config_;
};

TEST_F(SniChoice, ExactWildcardDefault) {
  Expect("www.example.com", 1);
  Expect("WWW.EXAMPLE.COM", 1, nullptr, "www.example.com");
  Expect("shop.example.com", 2);
  Expect("default.test", 0);
  Expect("unknown.test", 0, nullptr, "default.test");
  Expect(nullptr, 0, nullptr, "default.test");
}

TEST_F(SniChoice, EcdsaOrRsaBySignatureAlgorithms) {
  Expect("api.example.com", 4);  // libssl offers both: ECDSA
  Expect("api.example.com", 3, "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384");
  Expect("api.example.com", 4, "ecdsa_secp256r1_sha256");
}

TEST_F(SniChoice, NoCommonSchemeIsHandshakeFailure) {
  ClientOptions opt;
  opt.sni = "shop.example.com";  // P-384 only
  opt.sigalgs = "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256";
  ClientCtx cctx(opt);
  Pair pair(config_, cctx);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kHandshakeFailure);
}

}  // namespace
}  // namespace baton::crypto::tls
