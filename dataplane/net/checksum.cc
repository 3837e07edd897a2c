#include "dataplane/net/checksum.h"

#include "dataplane/net/wire.h"

namespace baton::dp {

uint32_t OnesSum(ByteView data, uint32_t sum) noexcept {
  // Accumulate in 64 bits so that no carry is lost even for 64 KiB inputs.
  uint64_t acc = sum;
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) acc += LoadBe16(&data[i]);
  if (i < data.size()) acc += uint32_t(data[i]) << 8;
  while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
  return uint32_t(acc);
}

uint16_t FoldChecksum(uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return uint16_t(~sum);
}

void SetIpv4HeaderChecksum(MutByteView header) noexcept {
  StoreBe16(&header[wire::kIpv4OffChecksum], 0);
  StoreBe16(&header[wire::kIpv4OffChecksum], FoldChecksum(OnesSum(header)));
}

}  // namespace baton::dp
