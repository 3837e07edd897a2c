// Wire forms for replication to peer boxes (ARCHITECTURE.md 5, STYLE.md 13): one TCP
// connection record (tcp::TcpConnection), and one session record (dp::Session: both
// connections, both flows and the proxy cursors). Every field, big-endian, enums as
// their own wire numbers, booleans as 0/1, behind a version byte.
//
//   offset 0  u8   version (kTcpWireVersion)
//          1  u8   reserved, 0
//          2  u16  body length in bytes (kTcpWireBytes - 4)
//          4  ...  the fields in declaration order of connection.h (wire.cc, Fields())
//
// One field list in wire.cc drives both directions, so they cannot disagree. wire.cc
// pins sizeof() and the member count of TcpConnection and of each nested struct: adding
// a field to connection.h breaks the build until the field list here (and the version,
// if the layout changes) is updated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/proxy/session.h"
#include "dataplane/tcp/connection.h"

namespace baton::dp::state {

inline constexpr uint8_t kTcpWireVersion = 1;
inline constexpr size_t kTcpWireBytes = 497;  // header + body; checked in wire.cc

enum class [[nodiscard]] WireStatus : uint8_t {
  kOk,
  kTooShort,    // fewer bytes than the header or the body length says
  kBadVersion,  // not kTcpWireVersion
  kBadLength,   // body length is not the one this version has
  kBadValue,    // an enum or boolean outside its wire range
};

// The session record: the same 4-byte header (kSessionWireVersion), then the client
// connection's and the backend connection's TCP bodies as above, then the Session
// fields in declaration order. Left out: what only the owning core uses (the timer
// heap's `scheduled_us`, the burst's `dirty`; zero after FromWire) and the TLS server
// state, which lives in the session's TLS slot (TlsAcceptorState) and has no explicit
// wire form yet.
inline constexpr uint8_t kSessionWireVersion = 1;
inline constexpr size_t kSessionWireBytes = 1100;  // checked in wire.cc

// Writes kTcpWireBytes into `out`; returns how many were written (0 if out is short).
[[nodiscard]] size_t ToWire(const tcp::TcpConnection& c, std::span<uint8_t> out) noexcept;
// Reads one record; on anything but kOk, `c` is left unchanged.
WireStatus FromWire(std::span<const uint8_t> in, tcp::TcpConnection& c) noexcept;

// The same for a session record (kSessionWireBytes).
[[nodiscard]] size_t ToWire(const Session& s, std::span<uint8_t> out) noexcept;
WireStatus FromWire(std::span<const uint8_t> in, Session& s) noexcept;

}  // namespace baton::dp::state
