#include "gdpo/eval/belief_probabilities.hpp"

#include <algorithm>

#include "gdpo/core/fault_injection.hpp"
#include "gdpo/loss/belief_distribution.hpp"
#include "gdpo/train/stop_signal.hpp"

namespace gdpo::eval {

torch::Tensor belief_probabilities(model::CausalLM& model, const std::vector<TestRow>& rows,
                                   int64_t batch_size, dist::Communicator& comm) {
  torch::NoGradGuard no_grad;
  const auto device = model.output_weight().device();
  const auto R = static_cast<int64_t>(rows.size());
  int64_t k_max = 1;
  for (const auto& row : rows) k_max = std::max<int64_t>(k_max, row.belief_tokens.size());
  torch::Tensor out = torch::zeros({R, k_max}, torch::kFloat64);
  std::vector<int64_t> mine;
  for (int64_t r = comm.rank(); r < R; r += comm.world_size()) mine.push_back(r);
  // Rows mine[b, e): one left-padded forward, their distributions into `out`.
  auto forward = [&](size_t b, size_t e) {
    const auto B = static_cast<int64_t>(e - b);
    int64_t P = 0;
    for (size_t i = b; i < e; ++i) P = std::max<int64_t>(P, rows[mine[i]].prompt_ids.size());
    torch::Tensor ids = torch::zeros({B, P}, torch::kInt64), mask = torch::zeros({B, P}, torch::kInt64);
    torch::Tensor tokens = torch::zeros({B, k_max}, torch::kInt64);
    torch::Tensor target = torch::zeros({B, k_max}, torch::kFloat64);
    torch::Tensor valid = torch::zeros({B, k_max}, torch::kBool);
    for (int64_t i = 0; i < B; ++i) {
      const TestRow& row = rows[mine[b + i]];
      const auto L = static_cast<int64_t>(row.prompt_ids.size());
      ids[i].narrow(0, P - L, L).copy_(torch::tensor(row.prompt_ids, torch::kInt64));
      mask[i].narrow(0, P - L, L).fill_(1);
      const auto K = static_cast<int64_t>(row.belief_tokens.size());
      tokens[i].narrow(0, 0, K).copy_(torch::tensor(row.belief_tokens, torch::kInt64));
      target[i].narrow(0, 0, K).copy_(torch::tensor(row.pstar, torch::kFloat64));
      valid[i].narrow(0, 0, K).fill_(true);
    }
    const torch::Tensor hidden = model.hidden_states(ids.to(device), mask.to(device));  // [B, P, H]
    const torch::Tensor logits =
        torch::matmul(hidden.select(1, P - 1), model.output_weight().t()).to(torch::kFloat32);
    const torch::Tensor logps = logits.log_softmax(-1).cpu().gather(1, tokens);  // [B, Kmax]
    const auto dist = loss::belief_distribution(logps, target, valid);
    for (int64_t i = 0; i < B; ++i) out[mine[b + i]].copy_(dist.probs[i]);
  };
  const int64_t per_rank = (R + comm.world_size() - 1) / comm.world_size();
  const int64_t batches = (per_rank + batch_size - 1) / batch_size;  // the same on every rank
  for (int64_t k = 0; k < batches; ++k) {
    const size_t b = static_cast<size_t>(k * batch_size);
    const size_t e = std::min(mine.size(), b + static_cast<size_t>(batch_size));
    if (b < e) forward(b, e);
    fault::on_belief_batch();
    // After the last batch the pass is done: a signal is for the next one.
    if (k + 1 < batches && train::stop_agreed(comm))
      throw train::StopRequested("the belief-probability pass");
  }
  comm.all_reduce(out, dist::ReduceOp::Sum);
  return out;
}

}  // namespace gdpo::eval
