// The frozen reference model's log-prob sums for every pair of a dataset, computed once (pairs split
// over the ranks) and cached in HDF5 under a fingerprint of the reference weights, the tokenized data
// and the settings, so that a training step needs no reference forward. A mismatch recomputes.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gdpo/data/tokenized.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/loss/reference_logprobs.hpp"
#include "gdpo/model/causal_lm.hpp"

namespace gdpo::train {

class ReferenceTable {
 public:
  // values [N, kColumns] float64: chosen (after_belief, response), rejected (the same).
  static constexpr int64_t kColumns = 4;
  ReferenceTable() = default;
  explicit ReferenceTable(torch::Tensor values) : values_(std::move(values)) {}

  // The sums of the given pairs laid out as a PairBatch's rows: [2B] each.
  loss::ReferenceLogprobs lookup(const std::vector<int64_t>& pairs) const;
  const torch::Tensor& values() const { return values_; }
  int64_t pairs() const { return values_.defined() ? values_.size(0) : 0; }

 private:
  torch::Tensor values_;
};

// A 64-bit FNV-1a hash (hex) over every weight's name, dtype, shape and bytes.
std::string weights_fingerprint(const model::CausalLM& model);
// The same over the tokenized pairs (tokens, spans, beliefs).
std::string pairs_fingerprint(const data::TokenizedPairs& pairs);

// Runs `reference` (no gradient) over every pair, `batch_pairs` pairs per forward on each rank, the
// ranks taking interleaved pairs; every rank returns the whole table. Every rank runs the same
// number of batches (the last may be empty) and, after each, agrees on a stop signal
// (stop_agreed): a signal during this long pass throws StopRequested on every rank.
ReferenceTable compute_reference_table(model::CausalLM& reference, const data::TokenizedPairs& pairs,
                                       dist::Communicator& comm, int64_t batch_pairs,
                                       int64_t chunk_rows);

// The table from `cache_path` when its fingerprint equals `fingerprint` (and its size matches);
// otherwise computes it, and rank 0 writes it (atomically) for the next run. Logs which happened.
ReferenceTable load_or_compute_reference(const std::string& cache_path,
                                         const std::string& fingerprint,
                                         model::CausalLM& reference,
                                         const data::TokenizedPairs& pairs,
                                         dist::Communicator& comm, int64_t batch_pairs,
                                         int64_t chunk_rows);

}  // namespace gdpo::train
