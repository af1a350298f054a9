// `gdpo bench step --bench.zero-stages 0,1,2,3`: one objective's training step timed at each ZeRO
// stage (train/zero_state.hpp) on the communicator's ranks, with the bytes each rank sent per step
// (measured by Communicator::traffic() and predicted by zero_predicted_bytes) and the bytes of
// parameters, gradients and optimizer state each rank holds (TrainStep::memory()).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gdpo/data/batch.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/loss/loss_config.hpp"
#include "gdpo/loss/reference_logprobs.hpp"
#include "gdpo/model/model_source.hpp"
#include "gdpo/train/synthetic_batch.hpp"
#include "gdpo/train/train_config.hpp"

namespace gdpo::app::bench {

// "0,1,2,3" -> {0, 1, 2, 3}, in the order given. UsageError naming --bench.zero-stages for an
// empty or malformed list (an empty item, a non-number), a stage outside 0..3 or a repeated one.
std::vector<int> parse_zero_stages(const std::string& text);

// The sizes the traffic formula needs, in bytes (the parameters' element size: 4 in fp32).
struct ZeroSizes {
  int world = 1;
  int64_t micro_batches = 1;  // m: train.grad_accum
  double unpadded = 0;        // every parameter, unpadded (GradientSync's buckets: stages 0, 1)
  double padded = 0;          // ψ: the unit buffers, each padded to a multiple of the world size
  double blocks = 0;          // ψ_b: the transformer blocks' units (units 1..)
  double rest = 0;            // ψ_r: unit 0, "rest" (embeddings, final norm, output projection)
};

// Bytes each rank sends per optimizer step at ZeRO `stage`, ring algorithms, f = (W-1)/W (an
// all-reduce of B bytes sends 2 f B per rank, a reduce-scatter or all-gather of a B-byte buffer
// f B):
//
//   stage | collectives per step                                   | bytes sent per rank
//   ------+--------------------------------------------------------+----------------------------
//     0   | all-reduce of the gradients (unpadded buckets)         | 2 f ψ_unpadded
//     1   | the same all-reduce; all-gather of the updated shards  | 2 f ψ_unpadded + f ψ
//     2   | reduce-scatter of the gradients; all-gather of shards  | f ψ + f ψ
//     3   | each block gathered for its forward and again for its  | f (2 m ψ_b + ψ_r) + f ψ
//         | recomputation in the backward, per micro-batch; the    |
//         | rest unit once per step; one reduce-scatter of ψ       |
//
// The step's small reductions (metrics, the finite-loss flag, stages 2-3's 8-byte squared-norm sum)
// are left out: a few hundred bytes, which the measured column includes. 0 on one rank.
double zero_predicted_bytes(int stage, const ZeroSizes& sizes);

struct ZeroBenchInputs {
  std::vector<int> stages;
  model::ModelSource model;  // built afresh (same seed, so the same weights) on every rank per stage
  int64_t parameters = 0;    // its parameter count, for the header line
  std::string shape;         // the batch's shape, for the header line
  train::TrainConfig train;  // zero_stage set per stage
  loss::LossConfig loss;     // the objective (the first of --bench.losses)
  const data::PairBatch* batch = nullptr;  // the same synthetic batch on every rank
  loss::ReferenceLogprobs reference;       // its reference log-probs, on `device`
  torch::Device device = torch::kCPU;
  std::string device_description;
  int64_t steps = 1, warmup = 0;
  std::shared_ptr<dist::Communicator> comm;
};

// Runs every stage (a collective: every rank calls it), prints the header line and the table on
// rank 0, and returns the rows for the report's "zero" array (the same on every rank).
nlohmann::json run_zero_stages(const ZeroBenchInputs& in);

}  // namespace gdpo::app::bench
