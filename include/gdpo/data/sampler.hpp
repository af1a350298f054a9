// Batch order over an epoch: shuffled per epoch from (seed, epoch), sharded over ranks so that each
// rank sees a disjoint slice of every global batch (the union is the whole epoch), with a cursor
// (epoch, position) that can be saved and restored exactly. PairLoader turns the indices into
// PairBatch micro-batches.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "gdpo/data/batch.hpp"
#include "gdpo/data/tokenized.hpp"

namespace gdpo::data {

// Where the sampler stands: `position` global examples of `epoch` were handed out.
struct SamplerCursor {
  int64_t epoch = 0;
  int64_t position = 0;
  // Serialised as a few int64s: {version, epoch, position, dataset size} (checkpoint files).
  std::array<int64_t, 4> serialize(int64_t dataset_size) const;
  // Throws InputError when the numbers are not a cursor of a dataset of this size.
  static SamplerCursor deserialize(const std::array<int64_t, 4>& v, int64_t dataset_size);
  bool operator==(const SamplerCursor& o) const { return epoch == o.epoch && position == o.position; }
};

class PairSampler {
 public:
  // global_batch % world != 0, rank outside [0, world) or a dataset smaller than one global batch
  // is a UsageError. The incomplete last global batch of an epoch is dropped (every rank steps
  // together); shuffle=false keeps the file order.
  PairSampler(int64_t dataset_size, int64_t global_batch, int rank, int world, uint64_t seed,
              bool shuffle = true);

  // This rank's slice (global_batch / world indices) of the next global batch; moves the cursor,
  // starting the next epoch when this one is exhausted.
  std::vector<int64_t> next();
  // The order of an epoch's examples (a permutation of [0, dataset_size)).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  int64_t batches_per_epoch() const { return size_ / global_batch_; }
  int64_t local_batch() const { return global_batch_ / world_; }
  const SamplerCursor& cursor() const { return cursor_; }
  void restore(const SamplerCursor& cursor);

 private:
  int64_t size_, global_batch_;
  int rank_, world_;
  uint64_t seed_;
  bool shuffle_;
  SamplerCursor cursor_;
  std::vector<int64_t> order_;  // epoch order_epoch_'s permutation
  int64_t order_epoch_ = -1;
};

// Right-padded batch of the given pairs (rows [0, B) chosen, [B, 2B) rejected); see batch.hpp.
PairBatch make_batch(const TokenizedPairs& data, const std::vector<int64_t>& pair_indices);

// A sampler over tokenized pairs producing batches of this rank's slice.
class PairLoader {
 public:
  PairLoader(const TokenizedPairs& data, int64_t global_batch, int rank, int world, uint64_t seed,
             bool shuffle = true)
      : data_(data), sampler_(data.pairs(), global_batch, rank, world, seed, shuffle) {}
  PairBatch next() { return make_batch(data_, sampler_.next()); }
  PairSampler& sampler() { return sampler_; }

 private:
  const TokenizedPairs& data_;
  PairSampler sampler_;
};

}  // namespace gdpo::data
