// FlowTable: open addressing with backward-shift deletion, checked against a std::map.
#include "dataplane/proxy/flow_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>

namespace baton::dp {
namespace {

auto Tie(const FlowKey& k) { return std::tie(k.remote_ip, k.local_ip, k.remote_port, k.local_port); }
struct KeyLess {
  bool operator()(const FlowKey& a, const FlowKey& b) const { return Tie(a) < Tie(b); }
};

TEST(FlowTable, InsertFindEraseBasics) {
  FlowTable t(4);
  const FlowKey a{1, 2, 3, 4}, b{1, 2, 3, 5};
  EXPECT_EQ(t.Find(a), FlowTable::kNone);
  EXPECT_TRUE(t.Insert(a, 7));
  EXPECT_FALSE(t.Insert(a, 8)) << "a key is inserted once";
  EXPECT_TRUE(t.Insert(b, 9));
  EXPECT_EQ(t.Find(a), 7u);
  EXPECT_EQ(t.Find(b), 9u);
  t.Erase(a);
  EXPECT_EQ(t.Find(a), FlowTable::kNone);
  EXPECT_EQ(t.Find(b), 9u);
  t.Erase(a);  // absent: no effect
  EXPECT_EQ(t.Size(), 1u);
  EXPECT_FALSE(t.Insert(a, FlowTable::kNone)) << "kNone is not a value";
}

TEST(FlowTable, RefusesBeyondCapacity) {
  FlowTable t(8);
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(t.Insert({i, 0, 0, 0}, i));
  EXPECT_FALSE(t.Insert({99, 0, 0, 0}, 99));
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(t.Find({i, 0, 0, 0}), i);
}

// Many inserts and erases with clustered keys (same client, consecutive ports) so probe
// chains are long and backward shifts happen; every lookup must agree with the model.
TEST(FlowTable, MatchesAMapUnderChurn) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    FlowTable t(1000);
    std::map<FlowKey, uint32_t, KeyLess> model;
    for (int step = 0; step < 50000; ++step) {
      const FlowKey k{0xc6120102, 0xc6126410, uint16_t(40000 + rng() % 1500), 80};
      if (rng() % 2 == 0 && model.size() < 1000) {
        const bool fresh = !model.count(k);
        EXPECT_EQ(t.Insert(k, uint32_t(step)), fresh);
        if (fresh) model[k] = uint32_t(step);
      } else {
        t.Erase(k);
        model.erase(k);
      }
      if (step % 97 == 0) {
        for (uint16_t p = 40000; p < 41500; ++p) {
          const FlowKey q{0xc6120102, 0xc6126410, p, 80};
          const auto it = model.find(q);
          ASSERT_EQ(t.Find(q), it == model.end() ? FlowTable::kNone : it->second) << "seed " << seed << " step " << step;
        }
      }
    }
    EXPECT_EQ(t.Size(), model.size());
  }
}

}  // namespace
}  // namespace baton::dp
