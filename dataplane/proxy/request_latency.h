// Request latency as a proxy sees it, without parsing the protocol (docs/API.md,
// "Latency"): an exchange starts when client bytes are passed to the backend while no
// exchange is outstanding, and ends when the first backend bytes after that are passed
// to the client. Bytes the backend sends before any request (a server greeting) start
// nothing; an exchange the session ends before answering records nothing.
#pragma once

#include <cstdint>

#include "dataplane/net/counters.h"

namespace baton::dp {

// Called once per pump of a session with the plaintext bytes it just passed each way.
// `request_start_us` lives in the session (0: no exchange outstanding). Backend bytes
// passed in the same pump as new client bytes cannot answer them (the backend has not
// seen them yet), so they end only an exchange that began earlier.
inline void TrackRequest(uint64_t& request_start_us, uint64_t up_bytes, uint64_t down_bytes, uint64_t now_us,
                         DpCounters& counters) noexcept {
  if (down_bytes != 0 && request_start_us != 0) {
    counters.Observe(Latency::kRequest, now_us - request_start_us);
    request_start_us = 0;
  }
  // A worker's clock never reads 0 (a TSC since boot), so 0 is free for "none".
  if (up_bytes != 0 && request_start_us == 0) request_start_us = now_us;
}

}  // namespace baton::dp
