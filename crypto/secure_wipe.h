#pragma once

#include <cstddef>

namespace baton::crypto {

// Overwrites key material so that the compiler cannot elide the stores.
void SecureWipe(void* data, size_t len) noexcept;

}  // namespace baton::crypto
