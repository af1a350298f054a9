// `gdpo bench model`: forward and forward+backward speed of a causal LM on random tokens (CPU or
// CUDA), the trainer's way: hidden_states x output_weight, log-softmax, gathered token log-probs.
#include <chrono>
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/model/model_factory.hpp"

namespace gdpo::app {

int cmd_bench_model(const Args& args) {
  OptionSet set("gdpo bench model", "forward / backward speed of a causal LM");
  model::ModelSource model_source;
  model_source.config = "bench-gpt2-4l";
  bind_model(set, model_source);
  int64_t batch = 4, seq = 256, steps = 5;
  std::string device = "auto";
  set.group("bench")
      .add("batch", &batch, "sequences per step")
      .add("seq", &seq, "tokens per sequence")
      .add("steps", &steps, "timed steps (after one warm-up)")
      .add("device", &device, "auto (the GPU when one is visible, else cpu) | cpu | cuda");
  if (!set.parse(args)) return kExitOk;
  if (batch <= 0 || seq <= 0 || steps <= 0)
    throw UsageError("--bench.batch, --bench.seq and --bench.steps must be positive");
  const auto choice =
      dist::select_device(device, dist::SingleProcessCommunicator(), "--bench.device");
  const torch::Device dev = choice.device;
  auto model = model::load_model(model_source);
  dist::move_to_device(*model, dev);
  const auto& c = model->config();
  auto ids = torch::randint(c.vocab_size, {batch, seq}, torch::TensorOptions(torch::kLong).device(dev));
  auto mask = torch::ones_like(ids);
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  auto time_it = [&](const std::function<void()>& fn) {
    fn();  // warm-up
    sync();
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < steps; ++i) fn();
    sync();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  };
  const double fwd = time_it([&] {
    torch::NoGradGuard no_grad;
    model->hidden_states(ids, mask);
  });
  const double fwd_bwd = time_it([&] {
    model->zero_grad();
    auto h = model->hidden_states(ids, mask);
    auto logp = torch::log_softmax(torch::matmul(h, model->output_weight().t()), -1);
    logp.gather(-1, ids.unsqueeze(-1)).mean().backward();
  });
  const double tokens = static_cast<double>(batch * seq);
  std::cout << "model " << model_source.describe() << " (" << c.parameter_count()
            << " parameters, " << model::dtype_name(model_source.dtype) << ", " << choice.description
            << ", " << torch::get_num_threads() << " threads), batch " << batch << " x seq " << seq
            << "\n"
            << "forward (hidden states):        " << fwd * 1e3 << " ms/step, " << tokens / fwd
            << " tokens/s\n"
            << "forward+backward (full logp):   " << fwd_bwd * 1e3 << " ms/step, "
            << tokens / fwd_bwd << " tokens/s\n";
  return kExitOk;
}

}  // namespace gdpo::app
