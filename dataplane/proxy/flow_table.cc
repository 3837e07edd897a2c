#include "dataplane/proxy/flow_table.h"

#include <bit>

namespace baton::dp {

FlowTable::FlowTable(uint32_t max_flows) : max_flows_(max_flows) {
  const uint32_t slots = std::bit_ceil(std::max<uint32_t>(16, max_flows * 2));
  slots_.resize(slots);
  mask_ = slots - 1;
}

uint32_t FlowTable::Find(const FlowKey& key) const noexcept {
  for (uint32_t i = Home(key);; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.value == kNone) return kNone;
    if (s.key == key) return s.value;
  }
}

bool FlowTable::Insert(const FlowKey& key, uint32_t value) noexcept {
  if (used_ >= max_flows_ || value == kNone) return false;
  uint32_t i = Home(key);
  for (; slots_[i].value != kNone; i = (i + 1) & mask_)
    if (slots_[i].key == key) return false;
  slots_[i] = {key, value};
  ++used_;
  return true;
}

void FlowTable::Erase(const FlowKey& key) noexcept {
  uint32_t hole = Home(key);
  for (;; hole = (hole + 1) & mask_) {
    if (slots_[hole].value == kNone) return;  // absent
    if (slots_[hole].key == key) break;
  }
  slots_[hole].value = kNone;
  --used_;
  // Backward shift: pull later entries of the probe chain into the hole unless their
  // home lies cyclically in (hole, j].
  for (uint32_t j = (hole + 1) & mask_; slots_[j].value != kNone; j = (j + 1) & mask_) {
    const uint32_t home = Home(slots_[j].key);
    if (((j - home) & mask_) < ((j - hole) & mask_)) continue;
    slots_[hole] = slots_[j];
    slots_[j].value = kNone;
    hole = j;
  }
}

}  // namespace baton::dp
