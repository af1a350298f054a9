#include "gdpo/eval/token_sampler.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "gdpo/core/error.hpp"

namespace gdpo::eval {

void validate(const SamplingConfig& c, const char* prefix) {
  const std::string p = std::string("--") + prefix + ".";
  if (!(std::isfinite(c.temperature) && c.temperature > 0))
    throw UsageError(p + "temperature must be a finite number > 0, got " +
                     std::to_string(c.temperature));
  if (c.top_k < 0) throw UsageError(p + "top-k must be >= 0 (0: off), got " + std::to_string(c.top_k));
  if (!(c.top_p > 0 && c.top_p <= 1))
    throw UsageError(p + "top-p must be in (0, 1] (1: off), got " + std::to_string(c.top_p));
}

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

double counter_uniform(uint64_t seed, uint64_t row, uint64_t sample, uint64_t position) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ row);
  h = splitmix64(h ^ sample);
  h = splitmix64(h ^ position);
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

torch::Tensor sample_tokens(const torch::Tensor& logits, const SamplingConfig& config,
                            const torch::Tensor& uniforms) {
  GDPO_CHECK(logits.dim() == 2, "sample_tokens: logits must be [B, V]");
  if (config.greedy) return logits.argmax(-1).to(torch::kInt64);
  GDPO_CHECK(uniforms.dim() == 1 && uniforms.size(0) == logits.size(0),
             "sample_tokens: uniforms must be [B]");
  const double neg_inf = -std::numeric_limits<double>::infinity();
  torch::Tensor x = logits.to(torch::kFloat64) / config.temperature;  // [B, V]
  const int64_t vocab = x.size(1);
  if (config.top_k > 0 && config.top_k < vocab) {
    const torch::Tensor kth = std::get<0>(x.topk(config.top_k, -1)).narrow(-1, config.top_k - 1, 1);
    x = x.masked_fill(x < kth, neg_inf);
  }
  if (config.top_p < 1.0) {
    auto [sorted, order] = x.sort(-1, /*descending=*/false);              // ascending
    torch::Tensor remove = sorted.softmax(-1).cumsum(-1) <= 1.0 - config.top_p;  // [B, V]
    remove.narrow(-1, vocab - 1, 1).fill_(false);                         // keep the most probable
    x = x.scatter(-1, order, sorted.masked_fill(remove, neg_inf));
  }
  const torch::Tensor cdf = x.softmax(-1).cumsum(-1);                     // [B, V]
  const torch::Tensor target =
      (uniforms.to(torch::kFloat64) * cdf.select(-1, vocab - 1)).unsqueeze(-1);  // [B, 1]
  return torch::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true)
      .squeeze(-1)
      .clamp_max(vocab - 1);
}

}  // namespace gdpo::eval
