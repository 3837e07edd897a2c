#include "dataplane/port.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>

namespace baton::dp {
namespace {

std::string Fail(const PortConfig& c, const std::string& what, int rc) {
  return "port " + c.name + " (" + c.device + "): " + what +
         (rc ? std::string(": ") + rte_strerror(-rc) : std::string());
}

// "net_af_packet0,iface=front" -> "net_af_packet0"; a PCI address stays as it is.
std::string DeviceName(const std::string& device) { return device.substr(0, device.find(',')); }

// The port may already exist (PCI devices probed by EAL's -a, or a --vdev argument);
// otherwise hot-plug it from the config's device spec.
int FindOrProbe(const std::string& device, uint16_t& port_id) {
  const std::string name = DeviceName(device);
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) == 0) return 0;
  const int rc = rte_dev_probe(device.c_str());
  if (rc != 0) return rc;
  return rte_eth_dev_get_port_by_name(name.c_str(), &port_id);
}

}  // namespace

std::string OpenPort(const PortConfig& config, const DataplaneConfig& dp, uint16_t index,
                     PortRuntime& out) {
  out = PortRuntime{};
  out.index = index;
  out.name = config.name;
  out.queues = dp.workers;
  if (int rc = FindOrProbe(config.device, out.dpdk_id); rc != 0)
    return Fail(config, "device not found and probing it failed", rc);
  out.opened = true;

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(out.dpdk_id, &info); rc != 0) return Fail(config, "no device info", rc);
  out.driver = info.driver_name ? info.driver_name : "?";
  if (info.max_rx_queues < out.queues || info.max_tx_queues < out.queues)
    return Fail(config, "driver offers " + std::to_string(info.max_rx_queues) + " RX / " +
                            std::to_string(info.max_tx_queues) + " TX queues, " +
                            std::to_string(out.queues) + " workers need one each (af_packet: add qpairs=N to the device)",
                0);

  rte_eth_conf conf{};
  // RSS only matters with several queues; virtual PMDs without it get software steering.
  const uint64_t rss_hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
  if (out.queues > 1 && rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    out.rss = true;
  }
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    out.rx_ip_checksum_offload = true;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    out.tx_ip_checksum_offload = true;
  }
  if (int rc = rte_eth_dev_configure(out.dpdk_id, out.queues, out.queues, &conf); rc != 0)
    return Fail(config, "configure failed", rc);
  // Not every virtual PMD can change its MTU (af_packet follows the kernel interface);
  // frames above the configured MTU are dropped and counted by the L2 code anyway.
  (void)rte_eth_dev_set_mtu(out.dpdk_id, config.mtu_bytes);

  uint16_t rx_desc = dp.rx_descriptors, tx_desc = dp.tx_descriptors;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(out.dpdk_id, &rx_desc, &tx_desc); rc != 0)
    return Fail(config, "descriptor counts rejected", rc);

  const int socket = rte_eth_dev_socket_id(out.dpdk_id);
  const uint32_t frame_room = uint32_t(config.mtu_bytes) + 18 /* Ethernet + VLAN */ + 4 /* FCS */;
  const uint16_t data_room = uint16_t(RTE_PKTMBUF_HEADROOM + std::max<uint32_t>(frame_room, 2048));
  const std::string pool_name = "baton_mb_" + std::to_string(index);
  const unsigned cache = std::min<unsigned>(256, dp.mbufs_per_port / 4);
  out.pool = rte_pktmbuf_pool_create(pool_name.c_str(), dp.mbufs_per_port, cache, 0, data_room,
                                     socket < 0 ? int(SOCKET_ID_ANY) : socket);
  if (out.pool == nullptr) return Fail(config, "mempool of " + std::to_string(dp.mbufs_per_port) + " mbufs", -rte_errno);

  for (uint16_t q = 0; q < out.queues; ++q) {
    rte_eth_rxconf rxq = info.default_rxconf;
    rxq.offloads = conf.rxmode.offloads;
    if (int rc = rte_eth_rx_queue_setup(out.dpdk_id, q, rx_desc, socket, &rxq, out.pool); rc != 0)
      return Fail(config, "RX queue " + std::to_string(q), rc);
    rte_eth_txconf txq = info.default_txconf;
    txq.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(out.dpdk_id, q, tx_desc, socket, &txq); rc != 0)
      return Fail(config, "TX queue " + std::to_string(q), rc);
  }
  rte_ether_addr mac{};
  if (int rc = rte_eth_macaddr_get(out.dpdk_id, &mac); rc != 0) return Fail(config, "no MAC address", rc);
  out.mac = MacAddr::Load(mac.addr_bytes);
  if (int rc = rte_eth_dev_start(out.dpdk_id); rc != 0) return Fail(config, "start failed", rc);
  out.started = true;
  return "";
}

void ClosePort(PortRuntime& port) noexcept {
  if (port.started) (void)rte_eth_dev_stop(port.dpdk_id);
  if (port.opened) (void)rte_eth_dev_close(port.dpdk_id);
  port.started = port.opened = false;
  if (port.pool != nullptr) {
    rte_mempool_free(port.pool);
    port.pool = nullptr;
  }
}

}  // namespace baton::dp
