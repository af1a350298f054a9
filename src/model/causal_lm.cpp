#include "gdpo/model/causal_lm.hpp"

#include <torch/version.h>

#include "gdpo/core/error.hpp"
#include "gdpo/model/layers.hpp"

namespace gdpo::model {

std::string attention_name(Attention attention) {
  switch (attention) {
    case Attention::kAuto: return "auto";
    case Attention::kMath: return "math";
    case Attention::kFused: return "fused";
  }
  return "?";
}

Attention parse_attention(const std::string& name, const std::string& where) {
  if (name == "auto") return Attention::kAuto;
  if (name == "math") return Attention::kMath;
  if (name == "fused") return Attention::kFused;
  GDPO_THROW(UsageError, where << ": unknown attention '" << name
                               << "' (expected auto, math or fused)");
}

bool fused_attention_available() {
#if TORCH_VERSION_MAJOR >= 2
  return true;
#else
  return false;
#endif
}

void CausalLM::set_attention(Attention attention) {
  if (attention == Attention::kFused && !fused_attention_available())
    GDPO_THROW(UsageError, "attention 'fused' needs at::scaled_dot_product_attention, which this "
                           "LibTorch ("
                               << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR
                               << ") does not have (LibTorch >= 2.0 has it); use 'auto' or 'math'");
  attention_ = attention;
}

torch::Tensor CausalLM::run_block(
    int64_t layer, const torch::Tensor& x, KVCache* cache, const std::vector<torch::Tensor>& params,
    const std::function<torch::Tensor(const torch::Tensor&, KVCache*)>& forward) {
  const bool with_autograd = !cache && torch::GradMode::is_enabled();
  // A gathered block under autograd must be recomputed in the backward: its parameters are gone
  // between the forward and the backward.
  if (with_autograd && (activation_checkpointing_ || gather_)) {
    return checkpoint_block([forward](const torch::Tensor& in) { return forward(in, nullptr); }, x,
                            params, gather_.get(), layer);
  }
  if (!gather_) return forward(x, cache);
  gather_->acquire(layer);
  struct Release {
    ParameterGather* gather;
    int64_t layer;
    ~Release() { gather->release(layer); }
  } release{gather_.get(), layer};
  return forward(x, cache);
}

}  // namespace gdpo::model
