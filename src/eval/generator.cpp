#include "gdpo/eval/generator.hpp"

#include <algorithm>

#include "gdpo/core/error.hpp"

namespace gdpo::eval {

int64_t new_token_budget(const GenerationConfig& config, int64_t prompt_length) {
  int64_t budget = std::max<int64_t>(0, config.max_length - prompt_length);
  if (config.max_new_tokens > 0) budget = std::min(budget, config.max_new_tokens);
  return budget;
}

namespace {

// The logits of the last position only: [B, vocab] (never [B, seq, vocab]). One sequence is a
// matrix-vector product over the [vocab, hidden] rows, which streams the weight at memory speed
// (about 3x the [1, hidden] x [hidden, vocab] GEMM's rate with OpenBLAS on the GPT-2 head).
torch::Tensor last_logits(model::CausalLM& model, const torch::Tensor& ids, const torch::Tensor& mask,
                          model::KVCache* cache) {
  const torch::Tensor hidden = model.hidden_states(ids, mask, cache);  // [B, seq, hidden]
  const torch::Tensor last = hidden.select(1, hidden.size(1) - 1);     // [B, hidden]
  const torch::Tensor weight = model.output_weight();                  // [vocab, hidden]
  if (last.size(0) == 1)
    return torch::mv(weight, last[0].to(weight.scalar_type())).unsqueeze(0).to(torch::kFloat32);
  return torch::matmul(last, weight.t()).to(torch::kFloat32);
}

}  // namespace

std::vector<GeneratedSequence> generate(model::CausalLM& model,
                                        const std::vector<GenerationItem>& items,
                                        const GenerationConfig& config, int64_t eos_id) {
  std::vector<GeneratedSequence> out(items.size());
  if (items.empty()) return out;
  torch::NoGradGuard no_grad;
  const auto device = model.output_weight().device();
  const int64_t batch = static_cast<int64_t>(items.size());
  int64_t prompt_max = 0, steps = 0;
  std::vector<int64_t> budget(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    GDPO_CHECK(!items[i].prompt.empty(), "generate: empty prompt (row " << items[i].row << ")");
    prompt_max = std::max<int64_t>(prompt_max, static_cast<int64_t>(items[i].prompt.size()));
    budget[i] = new_token_budget(config, static_cast<int64_t>(items[i].prompt.size()));
    steps = std::max(steps, budget[i]);
    out[i].row = items[i].row;
    out[i].sample = items[i].sample;
  }
  // Left-padded prompts: [B, P].
  torch::Tensor ids = torch::full({batch, prompt_max}, std::max<int64_t>(eos_id, 0), torch::kInt64);
  torch::Tensor mask = torch::zeros({batch, prompt_max}, torch::kInt64);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& p = items[b].prompt;
    const int64_t pad = prompt_max - static_cast<int64_t>(p.size());
    ids[b].narrow(0, pad, static_cast<int64_t>(p.size()))
        .copy_(torch::tensor(p, torch::kInt64));
    mask[b].narrow(0, pad, static_cast<int64_t>(p.size())).fill_(1);
  }
  ids = ids.to(device);
  mask = mask.to(device);

  model::KVCache cache;
  model::KVCache* cache_ptr = config.use_cache ? &cache : nullptr;
  std::vector<bool> done(items.size());
  for (size_t i = 0; i < items.size(); ++i) done[i] = budget[i] == 0;
  torch::Tensor logits = steps > 0 ? last_logits(model, ids, mask, cache_ptr) : torch::Tensor();
  torch::Tensor uniforms = torch::empty({batch}, torch::kFloat64);
  for (int64_t t = 0; t < steps; ++t) {
    auto u = uniforms.accessor<double, 1>();
    for (int64_t b = 0; b < batch; ++b)
      u[b] = counter_uniform(static_cast<uint64_t>(config.seed), static_cast<uint64_t>(items[b].row),
                             static_cast<uint64_t>(items[b].sample), static_cast<uint64_t>(t));
    const torch::Tensor next = sample_tokens(logits, config.sampling, uniforms).cpu();  // [B]
    const auto nx = next.accessor<int64_t, 1>();
    bool all_done = true;
    for (int64_t b = 0; b < batch; ++b) {
      if (done[b]) continue;
      if (nx[b] == eos_id) {
        out[b].ended = true;
        done[b] = true;
        continue;
      }
      out[b].tokens.push_back(nx[b]);
      if (static_cast<int64_t>(out[b].tokens.size()) >= budget[b]) done[b] = true;
      all_done = all_done && done[b];
    }
    if (all_done || t + 1 == steps) break;
    // Finished sequences keep being fed (their end-of-text, attended) and ignored: the batch keeps
    // its shape, and no live sequence ever attends to them.
    const torch::Tensor step_ids = next.unsqueeze(1).to(device);  // [B, 1]
    if (config.use_cache) {
      logits = last_logits(model, step_ids, torch::ones({batch, 1}, torch::kInt64).to(device),
                           &cache);
    } else {
      ids = torch::cat({ids, step_ids}, 1);
      mask = torch::cat({mask, torch::ones({batch, 1}, torch::kInt64).to(device)}, 1);
      logits = last_logits(model, ids, mask, nullptr);
    }
  }
  return out;
}

}  // namespace gdpo::eval
