#include "crypto/transcript.h"

namespace baton::crypto {

void Transcript::Reset(HashAlg alg) noexcept {
  alg_ = alg;
  compat::ShaInit(alg_, state_);
}

void Transcript::Update(ByteView data) noexcept { compat::ShaUpdate(alg_, state_, data); }

void Transcript::Current(Digest& out) const noexcept {
  out.len = static_cast<uint8_t>(DigestBytes(alg_));
  compat::ShaPeek(alg_, state_, {out.bytes.data(), out.len});
}

}  // namespace baton::crypto
