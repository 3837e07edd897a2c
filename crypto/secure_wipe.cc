#include "crypto/secure_wipe.h"

#include <openssl/crypto.h>

namespace baton::crypto {

void SecureWipe(void* data, size_t len) noexcept { OPENSSL_cleanse(data, len); }

}  // namespace baton::crypto
