// Optimizers with explicit, named state (RMSprop, the paper's; AdamW), so that a checkpoint can hold
// every state tensor under a readable name and a resumed run continues bit for bit.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gdpo::train {

enum class OptimizerKind { kRmsprop, kAdamw };
const char* optimizer_kind_name(OptimizerKind kind);  // "rmsprop", "adamw"

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kRmsprop;
  double weight_decay = 0.0;     // AdamW: decoupled; RMSprop: L2 added to the gradient (as torch)
  double rmsprop_alpha = 0.99;   // torch.optim.RMSprop defaults
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double eps = 1e-8;
};

// A named parameter: name as in the model's Hugging Face state dict.
using NamedParameter = std::pair<std::string, torch::Tensor>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient, with learning rate `lr`.
  virtual void step(double lr) = 0;
  // Every state tensor, named "<state>/<parameter name>" (e.g. "square_avg/transformer.wte.weight"),
  // plus the step count as a 0-d int64 tensor named "step".
  virtual std::vector<std::pair<std::string, torch::Tensor>> state() const = 0;
  // Restores state() output; every expected name must be present with the right shape.
  virtual void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state) = 0;
  virtual std::string kind() const = 0;
  int64_t steps() const { return steps_; }
  const std::vector<NamedParameter>& parameters() const { return params_; }

 protected:
  explicit Optimizer(std::vector<NamedParameter> params) : params_(std::move(params)) {}
  std::vector<NamedParameter> params_;
  int64_t steps_ = 0;
};

// kRmsprop: torch.optim.RMSprop (no momentum, not centered): v = a v + (1-a) g^2,
//           p -= lr g / (sqrt(v) + eps). kAdamw: torch.optim.AdamW.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config,
                                          std::vector<NamedParameter> params);

}  // namespace gdpo::train
