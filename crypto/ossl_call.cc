#include "crypto/ossl_call.h"

namespace baton::crypto {
namespace {
thread_local unsigned long last_ossl_error = 0;
}  // namespace

void detail::DrainOsslErrors() noexcept {
  last_ossl_error = ERR_peek_error();
  ERR_clear_error();
}

unsigned long LastOsslError() noexcept { return last_ossl_error; }

}  // namespace baton::crypto
