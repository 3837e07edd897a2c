#pragma once

// Running TLS transcript hash (RFC 8446 4.4.1) whose whole state is a value: copying the
// object clones the hash, so a half-done handshake can move to another core or box.
//
// The byte image is OpenSSL's SHA256_CTX/SHA512_CTX (see openssl_compat.cc): portable
// between processes with the same OpenSSL struct layout (checked by static_assert), not a
// wire format. The replication record must serialize it through its own versioned field.

#include <type_traits>

#include "crypto/openssl_compat.h"
#include "crypto/types.h"

namespace baton::crypto {

class Transcript {
 public:
  explicit Transcript(HashAlg alg) noexcept { Reset(alg); }

  // Starts over with `alg`, e.g. once the server has picked the cipher suite.
  void Reset(HashAlg alg) noexcept;
  void Update(ByteView data) noexcept;
  // Transcript-Hash of everything so far, without finalising the running state.
  void Current(Digest& out) const noexcept;
  // Same as a plain copy; named for readers at call sites that fork a transcript.
  Transcript Clone() const noexcept { return *this; }

  HashAlg alg() const noexcept { return alg_; }

 private:
  HashAlg alg_ = HashAlg::kSha256;
  compat::ShaState state_;
};

static_assert(std::is_trivially_copyable_v<Transcript>);

}  // namespace baton::crypto
