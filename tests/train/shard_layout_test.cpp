// ShardLayout on values a reader can check by hand: which elements of which parameter each rank's
// shard of a unit holds, and the padding.
#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "gdpo/train/shard_layout.hpp"

namespace gdpo::train {
namespace {

// Parameters of 5, 3 and 4 elements; the first and last outside the blocks (unit 0), the middle
// one in block 0 (unit 1).
TEST(ShardLayout, UnitsFollowTheGivenOrderAndPadToTheWorld) {
  ShardLayout layout({5, 3, 4}, {0, 1, 0}, 2, /*world=*/2, /*rank=*/0);
  ASSERT_EQ(layout.units().size(), 2u);
  const auto& rest = layout.unit(0);
  EXPECT_EQ(rest.name, "rest");
  EXPECT_EQ(rest.params, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(rest.offsets, (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(rest.numel, 9);
  EXPECT_EQ(rest.padded, 10);  // 9 rounded up to a multiple of 2
  EXPECT_EQ(rest.shard, 5);
  const auto& block = layout.unit(1);
  EXPECT_EQ(block.name, "block.0");
  EXPECT_EQ(block.numel, 3);
  EXPECT_EQ(block.padded, 4);
  EXPECT_EQ(block.shard, 2);
  EXPECT_EQ(layout.numel(), 12);
  EXPECT_EQ(layout.padded(), 14);
  EXPECT_EQ(layout.shard_numel(), 7);
}

TEST(ShardLayout, PiecesSplitAParameterAtTheShardBoundary) {
  // rest: [p0: 0..4 | p2: 5..8 | pad 9]; rank 0 owns 0..4 (all of p0), rank 1 owns 5..9 (all of
  // p2, then the padding).
  ShardLayout r0({5, 3, 4}, {0, 1, 0}, 2, 2, 0), r1({5, 3, 4}, {0, 1, 0}, 2, 2, 1);
  auto a = r0.pieces(0);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].param, 0u);
  EXPECT_EQ(a[0].param_offset, 0);
  EXPECT_EQ(a[0].shard_offset, 0);
  EXPECT_EQ(a[0].count, 5);
  auto b = r1.pieces(0);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].param, 2u);
  EXPECT_EQ(b[0].count, 4);
  EXPECT_EQ(r1.shard_begin(0), 5);
  // block.0: [p1: 0..2 | pad 3]; rank 0 owns p1[0..1], rank 1 owns p1[2] and the padding.
  auto c = r0.pieces(1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].param_offset, 0);
  EXPECT_EQ(c[0].count, 2);
  auto d = r0.pieces(1, /*rank=*/1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].param, 1u);
  EXPECT_EQ(d[0].param_offset, 2);
  EXPECT_EQ(d[0].shard_offset, 0);
  EXPECT_EQ(d[0].count, 1);
}

TEST(ShardLayout, ThreeRanksCoverEveryElementOnce) {
  const std::vector<int64_t> numels = {7, 1, 6, 2};
  std::vector<int64_t> seen(16, 0);  // per parameter element, flattened in order
  const std::vector<int64_t> start = {0, 7, 8, 14};
  for (int r = 0; r < 3; ++r) {
    ShardLayout layout(numels, {0, 0, 0, 0}, 1, 3, r);
    EXPECT_EQ(layout.unit(0).padded, 18);  // 16 rounded up to a multiple of 3
    for (const auto& p : layout.pieces(0))
      for (int64_t i = 0; i < p.count; ++i) ++seen[start[p.param] + p.param_offset + i];
  }
  for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(seen[i], 1) << "element " << i;
}

TEST(ShardLayout, OneRankOwnsEverythingUnpadded) {
  ShardLayout layout({5, 3}, {0, 1}, 3, 1, 0);
  EXPECT_EQ(layout.unit(2).numel, 0);  // an empty block is allowed
  EXPECT_EQ(layout.unit(0).padded, 5);
  EXPECT_EQ(layout.pieces(0).size(), 1u);
  EXPECT_TRUE(layout.pieces(2).empty());
}

TEST(ShardLayout, RejectsABadRank) {
  EXPECT_THROW(ShardLayout({1}, {0}, 1, 2, 2), Error);
  EXPECT_THROW(ShardLayout({1}, {3}, 1, 1, 0), Error);
}

}  // namespace
}  // namespace gdpo::train
