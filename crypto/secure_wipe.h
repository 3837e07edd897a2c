#pragma once

#include <cstddef>

namespace baton::crypto {

// Overwrites key material so that the compiler cannot elide the stores.
void SecureWipe(void* data, size_t len) noexcept;

// Wipes a stack secret (a derived salt, a shared secret) on every return path.
class WipeOnExit {
 public:
  WipeOnExit(void* p, size_t n) noexcept : p_(p), n_(n) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { SecureWipe(p_, n_); }

 private:
  void* p_;
  size_t n_;
};

}  // namespace baton::crypto
