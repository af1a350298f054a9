// A tiny model for gradient-averaging tests (tests/train/*.cpp): a few parameters of two dtypes, one
// used twice in the graph, one used only in the first micro-batch, one never used and one frozen, and
// a loss that differs by rank and micro-batch. The same weights on every rank and every call.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "gdpo/dist/communicator.hpp"
#include "gdpo/train/gradient_sync.hpp"

namespace gdpo::train::test_ranks {

struct TinyModel {
  // In this order: U [2, 2] (never used); F [3] (requires no gradient); E [4] (first micro-batch
  // only); W [6, 4], b [6], V [3, 6] float32; D [5] float64. GradientSync buckets them in reverse,
  // so the parameters that get no gradient in the last micro-batch come in the last buckets (a
  // bucket waiting for one of them holds back the launch of every later bucket until finish()).
  std::vector<torch::Tensor> params;
  enum { kU, kF, kE, kW, kB, kV, kD };

  TinyModel() {
    auto init = [](std::vector<int64_t> shape, double phase, torch::ScalarType dtype) {
      int64_t n = 1;
      for (auto s : shape) n *= s;
      return torch::arange(n, torch::kFloat64).mul(0.37).add(phase).sin().reshape(shape).to(dtype);
    };
    params = {init({2, 2}, 0.6, torch::kFloat32), init({3}, 0.7, torch::kFloat32),
              init({4}, 0.5, torch::kFloat32),    init({6, 4}, 0.1, torch::kFloat32),
              init({6}, 0.2, torch::kFloat32),    init({3, 6}, 0.3, torch::kFloat32),
              init({5}, 0.4, torch::kFloat64)};
    for (size_t i = 0; i < params.size(); ++i) params[i].requires_grad_(i != kF);
  }

  // Micro-batch `micro` of rank `rank`'s loss (already divided by the number of micro-batches).
  torch::Tensor loss(int rank, int micro, int micro_batches) const {
    const auto x = torch::arange(8 * 4, torch::kFloat32)
                       .reshape({8, 4})
                       .mul(0.1 * (rank + 1) + 0.013 * micro)
                       .sin();
    const auto& W = params[kW];
    auto h = torch::tanh(x.matmul(W.t()) + params[kB]);
    auto y = h.matmul(params[kV].t());
    auto loss = y.pow(2).mean() + W.pow(2).sum() * 0.01 +
                (params[kD].pow(2).sum() * (0.1 + rank)).to(torch::kFloat32) +
                params[kF].sum() * 0.0f;
    if (micro == 0) loss = loss + (x.sum(0) * params[kE]).sum();
    return loss / static_cast<float>(micro_batches);
  }

  std::vector<torch::Tensor> gradients() const {
    std::vector<torch::Tensor> out;
    for (const auto& p : params) out.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
    return out;
  }
};

// `micro_batches` backwards of rank comm.rank()'s losses on a fresh TinyModel, averaged by a
// GradientSync: after the backward (average()) or overlapped (prepare/finish). The gradients.
inline std::vector<torch::Tensor> synced_gradients(std::shared_ptr<dist::Communicator> comm,
                                                   int micro_batches, bool overlap,
                                                   int64_t bucket_bytes) {
  TinyModel model;
  GradientSync sync(comm, model.params, bucket_bytes, overlap);
  for (int m = 0; m < micro_batches; ++m) {
    if (overlap) sync.prepare(m == micro_batches - 1);
    model.loss(comm->rank(), m, micro_batches).backward();
  }
  if (overlap)
    sync.finish();
  else
    sync.average();
  return model.gradients();
}

}  // namespace gdpo::train::test_ranks
