// A session: the client's TCP connection to a VIP, its backend connection from our
// SNAT address, and the proxy state between them: the record of the shared session
// table (SessionSpace). Plain data, no pointers: its byte rings and its TLS server live
// in per-session slots of the SessionSpace, addressed by the record's index, so any
// core that owns the record can continue the session. Times are the box's monotonic
// microseconds (every core reads the same clock).
#pragma once

#include <cstdint>
#include <type_traits>

#include "dataplane/proxy/flow_table.h"
#include "dataplane/tcp/connection.h"

namespace baton::dp {

inline constexpr uint16_t kNoBackend = UINT16_MAX;

struct Session {
  tcp::TcpConnection client;
  tcp::TcpConnection backend;
  FlowKey client_flow;            // remote = client, local = VIP
  FlowKey backend_flow;           // remote = backend, local = SNAT address and port
  uint64_t tried_backends = 0;    // bit per pool backend that failed to connect
  uint64_t connect_deadline_us = tcp::kNoDeadline;
  uint64_t idle_deadline_us = tcp::kNoDeadline;
  uint64_t scheduled_us = tcp::kNoDeadline;  // earliest deadline the owner's timer heap holds
  uint64_t handshake_deadline_us = tcp::kNoDeadline;  // TLS: the client must finish by then
  uint64_t last_to_client_us = 0;  // TLS: when the last record of data was sealed
  // Latency (docs/API.md "Latency"): when the measured interval began.
  uint64_t tls_start_us = 0;       // the client's connection established (StartTls)
  uint64_t request_start_us = 0;   // client bytes passed with none outstanding; 0: none outstanding
  uint64_t connect_start_us = 0;   // this backend connection attempt's SYN (ConnectBackend)
  uint32_t config_generation = 0;  // the config generation listener/pool/backend_index are of
  uint16_t listener = 0;
  uint16_t pool = 0;              // the listener's, or the one a TLS route chose
  uint16_t backend_index = kNoBackend;
  uint8_t attempts = 0;           // backends tried
  bool half_open = false;         // client handshake not done: counts against syn_backlog
  bool backend_open = false;      // `backend` is a live connection
  bool fin_from_client = false;   // the client half-closed
  bool fin_from_backend = false;  // the backend half-closed
  bool fin_to_backend = false;    // client's FIN passed on
  bool fin_to_client = false;     // backend's FIN passed on
  bool counted_on_backend = false;  // OnSessionStart() done for backend_index
  bool proxy_header = false;      // PROXY v2 header still to go first to the backend
  bool dirty = false;             // on the owner's output list of this burst
  // TLS listeners: the session's TLS server lives in the TLS slot of the same index
  // (ProxyEngine::TlsOf) from the client's TCP handshake until the session ends.
  bool tls = false;
  bool tls_over = false;          // a fatal alert or close_notify: no more client records
  uint8_t small_records = 0;      // records still to send small (burst start, for latency)
};
static_assert(std::is_trivially_copyable_v<Session>);

}  // namespace baton::dp
