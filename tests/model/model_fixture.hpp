// Inputs shared by the model tests: deterministic token ids.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace gdpo::model::fixture {

// Deterministic token ids in [0, 257): [batch, seq].
inline torch::Tensor token_ids(int64_t batch, int64_t seq, int64_t offset = 0) {
  return ((torch::arange(batch * seq) + offset) * 37 + 11).remainder(257).view({batch, seq});
}

}  // namespace gdpo::model::fixture
