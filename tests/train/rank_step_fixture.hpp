// Shared by the 2-rank training tests (run under `mpiexec -n 2`): the MPI world, checks that the
// ranks agree, and one rank's share of a step on a tiny GPT-2 with a synthetic batch that differs
// by rank. Header-only, for tests/train/mpi_*.cpp.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "gdpo/dist/mpi_communicator.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/synthetic_batch.hpp"
#include "gdpo/train/train_step.hpp"

namespace gdpo::train::test_ranks {

inline std::shared_ptr<dist::Communicator> world() {
  static auto comm = std::make_shared<dist::MpiCommunicator>();
  return comm;
}

// Rank 0's tensors, on every rank (to check that the ranks agree).
inline std::vector<torch::Tensor> rank0s(const std::vector<torch::Tensor>& mine) {
  std::vector<torch::Tensor> out;
  for (const auto& t : mine) {
    auto copy = t.clone();
    world()->broadcast(copy, 0);
    out.push_back(copy);
  }
  return out;
}

inline void expect_bitwise_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(a[i].defined() && b[i].defined()) << "tensor " << i;
    EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  }
}

// One rank's share of a 2-rank step: a tiny GPT-2 (the same random weights on every rank), a
// synthetic batch of 4 pairs that differs by rank, and its reference.
struct RankStep {
  explicit RankStep(int64_t accum) {
    const int rank = world()->rank();
    SyntheticBatchShape s;
    s.pairs = 4;
    s.prompt_tokens = 4;
    s.response_tokens = 5;
    s.belief_tokens = 2;
    s.beliefs = 4;
    batch = synthetic_pair_batch(s, 256, 11 + 100 * rank);
    reference = synthetic_reference(batch, 12 + 100 * rank);
    train.lr = 1e-3;
    train.warmup_steps = 0;
    train.grad_accum = accum;
  }
  model::CausalLMPtr policy = model::build_model(model::load_model_config("tiny-gpt2"), 1);
  data::PairBatch batch;
  loss::ReferenceLogprobs reference;
  TrainConfig train;
  loss::LossConfig loss;  // GDPO

  ReferenceSource source() const {
    return [this](const data::PairBatch& mb) {
      auto rows = torch::tensor(mb.example_index);
      auto both = torch::cat({rows, rows + batch.pairs()});
      loss::ReferenceLogprobs r;
      r.after_belief = reference.after_belief.index_select(0, both);
      r.response = reference.response.index_select(0, both);
      return r;
    };
  }
  std::vector<torch::Tensor> weights() const {
    std::vector<torch::Tensor> out;
    for (const auto& [name, p] : policy->hf_state_dict()) out.push_back(p.detach().clone());
    return out;
  }
};

}  // namespace gdpo::train::test_ranks
