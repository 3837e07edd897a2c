// One configured port: probe the device (vdev spec or PCI address), create its mempool,
// configure one RX and one TX queue per worker, and start it.
#pragma once

#include <cstdint>
#include <string>

#include "dataplane/api/config.h"
#include "dataplane/net/bytes.h"

struct rte_mempool;

namespace baton::dp {

struct PortRuntime {
  uint16_t index = 0;          // our port number: position in the config
  uint16_t dpdk_id = 0;        // DPDK's port id
  std::string name;
  std::string driver;
  MacAddr mac;
  rte_mempool* pool = nullptr;
  uint16_t queues = 0;
  bool rss = false;
  bool rx_ip_checksum_offload = false;
  bool tx_ip_checksum_offload = false;
  bool opened = false;         // found or probed: must be closed
  bool started = false;
};

// Brings the port up. Returns "" on success, else a message naming the port.
[[nodiscard]] std::string OpenPort(const PortConfig& config, const DataplaneConfig& dataplane,
                                   uint16_t index, PortRuntime& out);

// Stops and closes the port and frees its mempool. Safe on a half-opened port.
void ClosePort(PortRuntime& port) noexcept;

}  // namespace baton::dp
