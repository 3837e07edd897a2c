// OsslCall (STYLE.md 15): success leaves the error queue empty; a failure is reported as
// kOsslError and drains the queue so the next call starts clean.

#include "crypto/ossl_call.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>

namespace baton::crypto {
namespace {

TEST(OsslCall, SuccessKeepsQueueEmpty) {
  ASSERT_EQ(ERR_peek_error(), 0u);
  EXPECT_EQ(OsslCall([] { return 1; }), CryptoStatus::kOk);
  EXPECT_EQ(OsslCall([] { return EVP_sha256(); }), CryptoStatus::kOk);
  EXPECT_EQ(OsslCall([] { return true; }), CryptoStatus::kOk);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(OsslCall, FailureIsReportedAndQueueDrained) {
  // A real libcrypto failure: fetching an algorithm that does not exist queues errors.
  const CryptoStatus s = OsslCall([] { return EVP_MD_fetch(nullptr, "NO-SUCH-DIGEST", nullptr); });
  EXPECT_EQ(s, CryptoStatus::kOsslError);
  EXPECT_EQ(ERR_peek_error(), 0u) << "queue must be drained after a failure";
  EXPECT_NE(LastOsslError(), 0u) << "first error kept for the log";

  EXPECT_EQ(OsslCall([] { return 0; }), CryptoStatus::kOsslError);
  EXPECT_EQ(OsslCall([] { return -1; }), CryptoStatus::kOsslError);  // "1 means success"
  EXPECT_EQ(OsslCall([]() -> const EVP_MD* { return nullptr; }), CryptoStatus::kOsslError);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace baton::crypto
