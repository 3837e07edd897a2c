#pragma once

// TLS alerts (RFC 8446 6) and the result type of handshake steps.

#include <cstdint>

namespace baton::crypto::tls {

// Enumerators are wire numbers (RFC 8446 6, B.2); never renumber.
enum class Alert : uint8_t {
  kCloseNotify = 0,
  kUnexpectedMessage = 10,
  kBadRecordMac = 20,
  kRecordOverflow = 22,
  kHandshakeFailure = 40,
  kBadCertificate = 42,
  kIllegalParameter = 47,
  kDecodeError = 50,
  kDecryptError = 51,
  kProtocolVersion = 70,
  kInsufficientSecurity = 71,
  kInternalError = 80,
  kUserCanceled = 90,
  kMissingExtension = 109,
  kUnsupportedExtension = 110,
  kUnrecognizedName = 112,
  kNoApplicationProtocol = 120,
};

// Outcome of one handshake or record step: go on, or send `alert` and stop. Converts
// implicitly from Alert so that handlers read like STYLE.md 9 (`return Alert::kDecodeError;`).
struct [[nodiscard]] Step {
  constexpr Step() noexcept = default;
  constexpr Step(Alert a) noexcept : ok(false), alert(a) {}  // NOLINT: implicit on purpose
  static constexpr Step Continue() noexcept { return Step(); }
  bool ok = true;
  Alert alert = Alert::kCloseNotify;  // meaningful only when !ok
};

}  // namespace baton::crypto::tls
