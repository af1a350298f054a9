// `gdpo bench generate`: tokens/s of eval::generate (the code `gdpo generate` runs) at batch 1 and
// batch N, the speed-up of the KV cache over recomputing the whole prefix at every step, and the
// floor of a batch-N step (its matrix products and its attention, each timed alone), which bounds
// batch N's tokens/s.
#include <array>
#include <chrono>
#include <functional>
#include <iomanip>
#include <iostream>

#include "bench_util.hpp"
#include "bind.hpp"
#include "command.hpp"
#include "common_options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/eval/generator.hpp"
#include "gdpo/model/layers.hpp"
#include "gdpo/model/model_factory.hpp"

namespace gdpo::app {

namespace {

// The floor of one generation step at batch `batch`: the code's two unavoidable costs, each timed
// alone on the model's shapes and dtype, with tensors of its own for every layer (as many bytes as the
// model's weights and the KV cache, none read warm from another layer's turn):
//  - the matrix products: per block the QKV, output and two MLP projections, then the output layer;
//  - model::attend, the one-query attention the generator runs, over `keys` cached positions.
// Every step at that batch costs at least their sum, whatever the rest of the code does.
struct StepFloor {
  double products_s = 0, attention_s = 0;  // seconds per step
  double flops = 0;                        // of the matrix products
};

StepFloor step_floor(model::CausalLM& model, int64_t batch, int64_t keys,
                     const torch::Device& device) {
  const auto& mc = model.config();
  const int64_t h = mc.hidden_size, inner = mc.intermediate_size;
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{h, 3 * h}, {h, h}, {h, inner}, {inner, h}};
  const auto opts = model.output_weight().options();
  torch::NoGradGuard no_grad;
  // Per layer and projection: input [batch, in], weight [in, out], bias [out].
  std::vector<std::array<torch::Tensor, 3>> operands;
  for (int64_t l = 0; l < mc.n_layers; ++l)
    for (const auto& [in, out] : shapes)
      operands.push_back({torch::randn({batch, in}, opts), torch::randn({in, out}, opts),
                          torch::randn({out}, opts)});
  const torch::Tensor head_in = torch::randn({batch, h}, opts);  // [batch, hidden]
  // Per layer: keys and values [batch, heads, keys, head_dim]; one query [batch, heads, 1, head_dim].
  const int64_t heads = mc.n_heads, dim = mc.head_dim();
  std::vector<std::pair<torch::Tensor, torch::Tensor>> cache;
  for (int64_t l = 0; l < mc.n_layers; ++l)
    cache.emplace_back(torch::randn({batch, heads, keys, dim}, opts),
                       torch::randn({batch, heads, keys, dim}, opts));
  const torch::Tensor query = torch::randn({batch, heads, 1, dim}, opts);
  const torch::Tensor bias = torch::zeros({batch, 1, 1, keys}, opts.dtype(torch::kFloat));

  auto seconds = [&](const std::function<void()>& work) {
    work();  // warm-up
    bench::synchronize(device);
    const int reps = 5;
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) work();
    bench::synchronize(device);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
  };
  StepFloor f;
  f.products_s = seconds([&] {
    for (const auto& o : operands) torch::addmm(o[2], o[0], o[1]);
    torch::matmul(head_in, model.output_weight().t());  // [batch, vocab]
  });
  f.attention_s = seconds([&] {
    for (const auto& [k, v] : cache) model::attend(query, k, v, bias);
  });
  f.flops = 2.0 * batch * h * mc.vocab_size;
  for (const auto& [in, out] : shapes) f.flops += 2.0 * batch * in * out * mc.n_layers;
  return f;
}

}  // namespace

int cmd_bench_generate(const Args& args) {
  OptionSet set("gdpo bench generate",
                "generation tokens/s: batch 1 vs a large batch, KV cache vs recomputing");
  model::ModelSource model_source;
  model_source.config = "bench-gpt2-4l";
  bind_model(set, model_source);
  int64_t prompt = 32, new_tokens = 256, batch = 32, nocache_tokens = 0;
  std::string device = "auto";
  set.group("bench")
      .add("prompt", &prompt, "prompt tokens")
      .add("new-tokens", &new_tokens, "new tokens per sequence")
      .add("batch", &batch, "the large batch")
      .add("nocache-tokens", &nocache_tokens,
           "new tokens for the timing without cache (0: --bench.new-tokens)")
      .add("device", &device, "auto (the GPU when one is visible, else cpu) | cpu | cuda");
  CommonOptions common;
  common.bind(set);
  if (!set.parse(args)) return kExitOk;
  if (prompt < 1 || new_tokens < 1 || batch < 1 || nocache_tokens < 0)
    throw UsageError("--bench.prompt, --bench.new-tokens and --bench.batch must be >= 1");
  common.apply(1);
  const auto choice =
      dist::select_device(device, dist::SingleProcessCommunicator(), "--bench.device");
  auto model = model::load_model(model_source);
  dist::move_to_device(*model, choice.device);
  const auto& mc = model->config();
  if (mc.family == model::Family::kGpt2 && prompt + new_tokens > mc.max_positions)
    throw UsageError("--bench.prompt + --bench.new-tokens exceed the model's " +
                     std::to_string(mc.max_positions) + " positions");
  torch::manual_seed(0);
  const auto ids = torch::randint(mc.vocab_size, {prompt}, torch::kInt64);
  std::vector<int64_t> prompt_ids(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + prompt);
  // eos = -1: no sequence stops early, every run generates exactly its budget.
  auto run = [&](int64_t b, bool cache, int64_t tokens) {
    std::vector<eval::GenerationItem> items;
    for (int64_t i = 0; i < b; ++i) items.push_back({i, 0, prompt_ids});
    eval::GenerationConfig g;
    g.max_length = prompt + tokens;
    g.use_cache = cache;
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = eval::generate(*model, items, g, /*eos_id=*/-1);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t n = 0;
    for (const auto& o : out) n += static_cast<int64_t>(o.tokens.size());
    return std::pair<double, double>(n / s, s);
  };
  run(1, true, 4);  // warm-up
  const auto [one, one_s] = run(1, true, new_tokens);
  const auto [many, many_s] = run(batch, true, new_tokens);
  const int64_t nc_tokens = nocache_tokens > 0 ? nocache_tokens : new_tokens;
  const auto [cached_nc, cached_nc_s] = run(1, true, nc_tokens);
  const auto [nocache, nocache_s] = run(1, false, nc_tokens);
  const StepFloor floor = step_floor(*model, batch, prompt + new_tokens / 2, choice.device);
  const double floor_s = floor.products_s + floor.attention_s, ceiling = batch / floor_s;
  std::cout << std::fixed << std::setprecision(1) << "model " << model_source.describe() << " ("
            << mc.parameter_count() << " parameters, " << choice.description << ", "
            << torch::get_num_threads() << " threads), prompt " << prompt << ", " << new_tokens << " new tokens, sampling\n"
            << "batch 1,  KV cache:        " << one << " tokens/s (" << one_s << " s)\n"
            << "batch " << batch << ", KV cache:        " << many << " tokens/s (" << many_s
            << " s), " << std::setprecision(2) << many / one << "x batch 1\n"
            << std::setprecision(1) << "batch 1,  no cache:        " << nocache << " tokens/s ("
            << nocache_s << " s for " << nc_tokens << " tokens)\n"
            << std::setprecision(2) << "KV cache speed-up:         " << cached_nc / nocache
            << "x at " << nc_tokens << " new tokens\n"
            << std::setprecision(1) << "batch " << batch << " floor:            matrix products "
            << floor.products_s * 1e3 << " ms (" << floor.flops / floor.products_s / 1e9
            << " GFLOP/s) + attention " << floor.attention_s * 1e3 << " ms per step: at most "
            << ceiling << " tokens/s, " << std::setprecision(2) << ceiling / one
            << "x batch 1, before sampling and the rest\n";
  return kExitOk;
}

}  // namespace gdpo::app
