// Where each parameter element lives when a model is sharded across ranks (ZeRO stages 1-3): the
// parameters are grouped into units (the tensors outside the transformer blocks; one unit per
// block), each unit flattened into one padded buffer, and rank r owning one contiguous slice of it.
// Pure arithmetic, no tensors: train/zero_state.hpp allocates the buffers this describes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gdpo::train {

// A unit's flat buffer, for W ranks:
//
//   element  0 ........ n0-1 | n0 ..... n0+n1-1 | ... | numel-1 | padding (zeros) | padded-1
//            parameter a      parameter b               last      < W elements
//            [ rank 0's shard ) [ rank 1's shard ) ...          [ rank W-1's shard )
//
// padded = numel rounded up to a multiple of W; shard = padded / W; rank r owns elements
// [r * shard, (r + 1) * shard). Parameters follow one another in the order given, unsplit in the
// buffer (a shard boundary may fall inside one).
struct ShardUnit {
  std::string name;              // "rest" (outside the blocks) or "block.<i>"
  std::vector<size_t> params;    // indices into the layout's parameters, in buffer order
  std::vector<int64_t> offsets;  // offsets[k]: first element of params[k] in the buffer
  int64_t numel = 0;             // elements of its parameters
  int64_t padded = 0;            // numel rounded up to a multiple of the world size
  int64_t shard = 0;             // padded / world size: elements per rank
};

// The part of one parameter inside one rank's shard: elements [param_offset, param_offset + count)
// of the flattened parameter are elements [shard_offset, shard_offset + count) of the shard.
struct ShardPiece {
  size_t param = 0;
  int64_t param_offset = 0;
  int64_t shard_offset = 0;
  int64_t count = 0;
};

class ShardLayout {
 public:
  // numels[i]: elements of parameter i; unit_of[i]: its unit, 0 for "rest" and 1 + b for block b
  // (units numbered 0 .. units - 1; a unit may be empty). Throws gdpo::Error on a bad world/rank.
  ShardLayout(std::vector<int64_t> numels, const std::vector<int64_t>& unit_of, int64_t units,
              int world, int rank);

  int world() const { return world_; }
  int rank() const { return rank_; }
  const std::vector<ShardUnit>& units() const { return units_; }
  // Elements of parameter i.
  int64_t param_numel(size_t i) const { return numels_.at(i); }
  const ShardUnit& unit(size_t u) const { return units_.at(u); }
  // The first element of this rank's shard of unit u in the unit's buffer.
  int64_t shard_begin(size_t u) const { return rank_ * units_.at(u).shard; }
  // The pieces of parameters in `rank`'s shard of unit u (default: this rank), in buffer order;
  // padding is in no piece.
  std::vector<ShardPiece> pieces(size_t u, int rank = -1) const;
  // Sum over units of numel / padded / shard.
  int64_t numel() const;
  int64_t padded() const;
  int64_t shard_numel() const;

 private:
  std::vector<int64_t> numels_;
  std::vector<ShardUnit> units_;
  int world_, rank_;
};

}  // namespace gdpo::train
