#include "gdpo/train/shard_layout.hpp"

#include <algorithm>

#include "gdpo/core/error.hpp"

namespace gdpo::train {

ShardLayout::ShardLayout(std::vector<int64_t> numels, const std::vector<int64_t>& unit_of,
                         int64_t units, int world, int rank)
    : numels_(std::move(numels)), world_(world), rank_(rank) {
  GDPO_CHECK(world >= 1 && rank >= 0 && rank < world,
             "shard layout: rank " << rank << " of a world of " << world);
  GDPO_CHECK(unit_of.size() == numels_.size(), "shard layout: " << unit_of.size() << " units for "
                                                                 << numels_.size() << " parameters");
  GDPO_CHECK(units >= 1, "shard layout: no units");
  units_.resize(static_cast<size_t>(units));
  for (int64_t u = 0; u < units; ++u)
    units_[u].name = u == 0 ? "rest" : "block." + std::to_string(u - 1);
  for (size_t i = 0; i < numels_.size(); ++i) {
    GDPO_CHECK(unit_of[i] >= 0 && unit_of[i] < units,
               "shard layout: parameter " << i << " has unit " << unit_of[i]);
    GDPO_CHECK(numels_[i] >= 0, "shard layout: parameter " << i << " has " << numels_[i]
                                                           << " elements");
    auto& unit = units_[unit_of[i]];
    unit.params.push_back(i);
    unit.offsets.push_back(unit.numel);
    unit.numel += numels_[i];
  }
  for (auto& unit : units_) {
    unit.padded = (unit.numel + world - 1) / world * world;
    unit.shard = unit.padded / world;
  }
}

std::vector<ShardPiece> ShardLayout::pieces(size_t u, int rank) const {
  if (rank < 0) rank = rank_;
  const ShardUnit& unit = units_.at(u);
  const int64_t begin = rank * unit.shard, end = begin + unit.shard;
  std::vector<ShardPiece> out;
  for (size_t k = 0; k < unit.params.size(); ++k) {
    const int64_t first = unit.offsets[k], last = first + numels_[unit.params[k]];
    const int64_t lo = std::max(first, begin), hi = std::min(last, end);
    if (lo >= hi) continue;
    out.push_back({unit.params[k], lo - first, lo - begin, hi - lo});
  }
  return out;
}

int64_t ShardLayout::numel() const {
  int64_t n = 0;
  for (const auto& u : units_) n += u.numel;
  return n;
}

int64_t ShardLayout::padded() const {
  int64_t n = 0;
  for (const auto& u : units_) n += u.padded;
  return n;
}

int64_t ShardLayout::shard_numel() const {
  int64_t n = 0;
  for (const auto& u : units_) n += u.shard;
  return n;
}

}  // namespace gdpo::train
