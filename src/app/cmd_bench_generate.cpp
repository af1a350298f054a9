// `gdpo bench generate`: tokens/s of eval::generate (the code `gdpo generate` runs) at batch 1 and
// batch N, and the speed-up of the KV cache over recomputing the whole prefix at every step.
#include <chrono>
#include <iomanip>
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "common_options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/eval/generator.hpp"
#include "gdpo/model/model_factory.hpp"

namespace gdpo::app {

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
  std::cout << std::fixed << std::setprecision(1) << "model " << model_source.describe() << " ("
            << mc.parameter_count() << " parameters, " << choice.description << ", "
            << torch::get_num_threads() << " threads), prompt " << prompt << ", " << new_tokens << " new tokens, sampling\n"
            << "batch 1,  KV cache:        " << one << " tokens/s (" << one_s << " s)\n"
            << "batch " << batch << ", KV cache:        " << many << " tokens/s (" << many_s
            << " s), " << std::setprecision(2) << many / one << "x batch 1\n"
            << std::setprecision(1) << "batch 1,  no cache:        " << nocache << " tokens/s ("
            << nocache_s << " s for " << nc_tokens << " tokens)\n"
            << std::setprecision(2) << "KV cache speed-up:         " << cached_nc / nocache
            << "x at " << nc_tokens << " new tokens\n";
  return kExitOk;
}

}  // namespace gdpo::app
