#include "gdpo/eval/token_sampler.hpp"

#include <ATen/Parallel.h>

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
  // On the host whatever the logits' device: the draw below reads the probabilities through a
  // pointer, and the same float32 operations on the CPU make a sample a function of the logits,
  // the seed, the row and the sample index only (no device kernel's rounding or reduction order).
  if (config.greedy) return logits.argmax(-1).to(torch::kCPU, torch::kInt64);
  GDPO_CHECK(uniforms.dim() == 1 && uniforms.size(0) == logits.size(0),
             "sample_tokens: uniforms must be [B]");
  const float neg_inf = -std::numeric_limits<float>::infinity();
  torch::Tensor x = logits.to(torch::kCPU, torch::kFloat32);  // [B, V]; no copy when already so
  if (config.temperature != 1.0) x = x / config.temperature;
  const int64_t batch = x.size(0), vocab = x.size(1);
  if (config.top_k > 0 && config.top_k < vocab) {
    const torch::Tensor kth = std::get<0>(x.topk(config.top_k, -1)).narrow(-1, config.top_k - 1, 1);
    x = x.masked_fill(x < kth, neg_inf);
  }
  if (config.top_p < 1.0) {
    auto [sorted, order] = x.to(torch::kFloat64).sort(-1, /*descending=*/false);  // ascending
    torch::Tensor remove = sorted.softmax(-1).cumsum(-1) <= 1.0 - config.top_p;  // [B, V]
    remove.narrow(-1, vocab - 1, 1).fill_(false);                                // keep the top one
    x = x.scatter(-1, order, x.gather(-1, order).masked_fill(remove, neg_inf));
  }
  // Unnormalised probabilities exp(x - max), then per row: the total (in double, in 8 lanes summed
  // in a fixed order), and the first token whose running sum (in double) exceeds u times the total.
  // Rows never mix, whatever the batch or the thread that takes them.
  const torch::Tensor p =
      (x - std::get<0>(x.max(-1, /*keepdim=*/true))).exp().contiguous();  // [B, V] float32
  torch::Tensor out = torch::empty({batch}, torch::kInt64);
  const auto u = uniforms.to(torch::kCPU, torch::kFloat64).contiguous();
  const float* pp = p.data_ptr<float>();
  const double* up = u.data_ptr<double>();
  int64_t* op = out.data_ptr<int64_t>();
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float* row = pp + b * vocab;
      constexpr int64_t kLanes = 8;
      double lanes[kLanes] = {};
      int64_t v = 0;
      for (; v + kLanes <= vocab; v += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lanes[l] += row[v + l];
      for (int64_t l = 0; v + l < vocab; ++l) lanes[l] += row[v + l];
      double total = 0;
      for (int64_t l = 0; l < kLanes; ++l) total += lanes[l];
      const double target = up[b] * total;
      double running = 0;
      int64_t token = -1, last_positive = 0;
      for (v = 0; v < vocab; ++v) {
        if (row[v] <= 0) continue;
        last_positive = v;
        running += row[v];
        if (running > target) {
          token = v;
          break;
        }
      }
      op[b] = token >= 0 ? token : last_positive;  // rounding can leave u * total unreached
    }
  });
  return out;
}

}  // namespace gdpo::eval
