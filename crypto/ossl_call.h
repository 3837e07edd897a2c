#pragma once

// The one way crypto/ calls libcrypto functions that can fail (STYLE.md 15).
//
// OpenSSL reports failures through a thread-local error queue. If a call site leaves
// entries behind, the next unrelated call that inspects the queue blames itself for an
// old failure. So: the queue must be empty before a call, and after a failed call it is
// drained here (its first entry kept for diagnostics), never left for someone else.

#include <openssl/err.h>

#include <cassert>
#include <type_traits>

#include "crypto/types.h"

namespace baton::crypto {

namespace detail {
// Empties the queue; remembers the oldest entry for LastOsslError().
void DrainOsslErrors() noexcept;
}  // namespace detail

// The oldest queue entry drained by the last failed OsslCall on this thread (0: none).
// For logs only; pass it to ERR_error_string_n().
[[nodiscard]] unsigned long LastOsslError() noexcept;

// Runs f(), which returns an OpenSSL result: a pointer (non-null = success), a bool, or an
// int where 1 means success (the libcrypto convention for EVP_* and HMAC_*).
template <class F>
[[nodiscard]] CryptoStatus OsslCall(F&& f) noexcept {
  if (ERR_peek_error() != 0) [[unlikely]] {
    // Someone called libcrypto without OsslCall and left errors behind. Debug builds stop
    // here so the culprit is found; release builds drop them rather than misattribute.
    assert(false && "OpenSSL error queue not empty before OsslCall");
    ERR_clear_error();
  }
  const auto r = f();
  bool ok;
  if constexpr (std::is_pointer_v<decltype(r)>) {
    ok = r != nullptr;
  } else if constexpr (std::is_same_v<decltype(r), const bool>) {
    ok = r;
  } else {
    ok = r == 1;
  }
  if (ok) [[likely]] return CryptoStatus::kOk;
  detail::DrainOsslErrors();
  return CryptoStatus::kOsslError;
}

}  // namespace baton::crypto
