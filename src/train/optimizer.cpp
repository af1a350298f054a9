#include "gdpo/train/optimizer.hpp"

#include <cmath>
#include <map>

#include "gdpo/core/error.hpp"

namespace gdpo::train {

const char* optimizer_kind_name(OptimizerKind kind) {
  return kind == OptimizerKind::kRmsprop ? "rmsprop" : "adamw";
}

namespace {

// Shared by both optimizers: per-parameter state slots created lazily as zeros (in fp32, the master
// precision), looked up by "<slot>/<name>".
class SlotOptimizer : public Optimizer {
 public:
  SlotOptimizer(std::vector<NamedParameter> params, std::vector<std::string> slot_names)
      : Optimizer(std::move(params)), slot_names_(std::move(slot_names)) {
    for (auto& slot : slot_names_) {
      auto& tensors = slots_[slot];
      for (auto& [name, p] : params_) tensors.push_back(torch::zeros_like(p));
    }
  }

  std::vector<std::pair<std::string, torch::Tensor>> state() const override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    out.emplace_back("step", torch::tensor(steps_, torch::kInt64));
    for (auto& slot : slot_names_) {
      const auto& tensors = slots_.at(slot);
      for (size_t i = 0; i < params_.size(); ++i)
        out.emplace_back(slot + "/" + params_[i].first, tensors[i]);
    }
    return out;
  }

  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state) override {
    std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
    auto step = by_name.find("step");
    GDPO_CHECK(step != by_name.end(), "optimizer state has no 'step'");
    steps_ = step->second.item<int64_t>();
    torch::NoGradGuard no_grad;
    for (auto& slot : slot_names_) {
      auto& tensors = slots_[slot];
      for (size_t i = 0; i < params_.size(); ++i) {
        const std::string key = slot + "/" + params_[i].first;
        auto it = by_name.find(key);
        GDPO_CHECK(it != by_name.end(), kind() << " optimizer state is missing '" << key << "'");
        GDPO_CHECK(it->second.sizes() == tensors[i].sizes(),
                   "optimizer state '" << key << "' has shape " << it->second.sizes()
                                       << ", the parameter has " << tensors[i].sizes());
        tensors[i].copy_(it->second);
      }
    }
  }

 protected:
  torch::Tensor& slot(const std::string& name, size_t i) { return slots_[name][i]; }

 private:
  std::vector<std::string> slot_names_;
  std::map<std::string, std::vector<torch::Tensor>> slots_;
};

class RMSprop final : public SlotOptimizer {
 public:
  RMSprop(const OptimizerConfig& c, std::vector<NamedParameter> params)
      : SlotOptimizer(std::move(params), {"square_avg"}), c_(c) {}
  std::string kind() const override { return optimizer_kind_name(OptimizerKind::kRmsprop); }

  void step(double lr) override {
    torch::NoGradGuard no_grad;
    ++steps_;
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i].second;
      if (!p.grad().defined()) continue;
      auto g = p.grad();
      if (c_.weight_decay != 0) g = g.add(p, c_.weight_decay);
      auto& v = slot("square_avg", i);
      v.mul_(c_.rmsprop_alpha).addcmul_(g, g, 1.0 - c_.rmsprop_alpha);
      p.addcdiv_(g, v.sqrt().add_(c_.eps), -lr);
    }
  }

 private:
  OptimizerConfig c_;
};

class AdamW final : public SlotOptimizer {
 public:
  AdamW(const OptimizerConfig& c, std::vector<NamedParameter> params)
      : SlotOptimizer(std::move(params), {"exp_avg", "exp_avg_sq"}), c_(c) {}
  std::string kind() const override { return optimizer_kind_name(OptimizerKind::kAdamw); }

  // torch.optim.AdamW: decoupled weight decay, bias-corrected moments.
  void step(double lr) override {
    torch::NoGradGuard no_grad;
    ++steps_;
    const double bc1 = 1.0 - std::pow(c_.adam_beta1, static_cast<double>(steps_));
    const double bc2 = 1.0 - std::pow(c_.adam_beta2, static_cast<double>(steps_));
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i].second;
      if (!p.grad().defined()) continue;
      const auto& g = p.grad();
      if (c_.weight_decay != 0) p.mul_(1.0 - lr * c_.weight_decay);
      auto& m = slot("exp_avg", i);
      auto& v = slot("exp_avg_sq", i);
      m.mul_(c_.adam_beta1).add_(g, 1.0 - c_.adam_beta1);
      v.mul_(c_.adam_beta2).addcmul_(g, g, 1.0 - c_.adam_beta2);
      auto denom = (v.sqrt() / std::sqrt(bc2)).add_(c_.eps);
      p.addcdiv_(m, denom, -lr / bc1);
    }
  }

 private:
  OptimizerConfig c_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config,
                                          std::vector<NamedParameter> params) {
  switch (config.kind) {
    case OptimizerKind::kRmsprop: return std::make_unique<RMSprop>(config, std::move(params));
    case OptimizerKind::kAdamw: return std::make_unique<AdamW>(config, std::move(params));
  }
  throw Error("unknown optimizer kind");
}

}  // namespace gdpo::train
