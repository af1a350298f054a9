#include "gdpo/model/gpt2.hpp"

#include <cmath>

#include "gdpo/core/error.hpp"

namespace gdpo::model {

// One pre-LayerNorm block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
class Gpt2Block : public torch::nn::Module {
 public:
  explicit Gpt2Block(const ModelConfig& c) : heads_(c.n_heads), activation_(c.activation) {
    const int64_t h = c.hidden_size;
    ln_1_ = register_module("ln_1", std::make_shared<LayerNorm>(h, c.layer_norm_eps));
    auto attn = add_container(*this, "attn");
    c_attn_ = attn->register_module("c_attn", std::make_shared<Conv1D>(h, 3 * h));
    attn_proj_ = attn->register_module("c_proj", std::make_shared<Conv1D>(h, h));
    ln_2_ = register_module("ln_2", std::make_shared<LayerNorm>(h, c.layer_norm_eps));
    auto mlp = add_container(*this, "mlp");
    c_fc_ = mlp->register_module("c_fc", std::make_shared<Conv1D>(h, c.intermediate_size));
    mlp_proj_ = mlp->register_module("c_proj", std::make_shared<Conv1D>(c.intermediate_size, h));
  }

  // x [batch, seq, hidden]
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx, KVCache* cache,
                        int64_t layer) {
    const int64_t batch = x.size(0), seq = x.size(1), hd = x.size(2) / heads_;
    // c_attn's output is [q (all heads), k, v]: -> [3, batch, heads, seq, head_dim]
    auto qkv = c_attn_->forward(ln_1_->forward(x))
                   .view({batch, seq, 3, heads_, hd})
                   .permute({2, 0, 3, 1, 4})
                   .unbind(0);
    auto [k, v] = cache_keys_values(cache, layer, qkv[1], qkv[2]);
    torch::Tensor h = x + attn_proj_->forward(attend(qkv[0], k, v, ctx));  // [batch, seq, hidden]
    return h + mlp_proj_->forward(activate(c_fc_->forward(ln_2_->forward(h)), activation_));
  }

 private:
  int64_t heads_;
  std::string activation_;
  std::shared_ptr<LayerNorm> ln_1_, ln_2_;
  std::shared_ptr<Conv1D> c_attn_, attn_proj_, c_fc_, mlp_proj_;
};

Gpt2Model::Gpt2Model(ModelConfig config) : config_(std::move(config)) {
  GDPO_CHECK(config_.family == Family::kGpt2, "Gpt2Model given a " << family_name(config_.family)
                                                                   << " config");
  config_.validate(config_.name.empty() ? "model config" : config_.name);
  const int64_t h = config_.hidden_size;
  auto transformer = add_container(*this, "transformer");
  wte_ = transformer->register_module("wte", std::make_shared<Embedding>(config_.vocab_size, h));
  wpe_ = transformer->register_module("wpe",
                                      std::make_shared<Embedding>(config_.max_positions, h));
  auto blocks = add_container(*transformer, "h");
  for (int64_t i = 0; i < config_.n_layers; ++i)
    blocks_.push_back(
        blocks->register_module(std::to_string(i), std::make_shared<Gpt2Block>(config_)));
  for (const auto& block : blocks_) block_params_.push_back(block->parameters());
  ln_f_ = transformer->register_module("ln_f",
                                       std::make_shared<LayerNorm>(h, config_.layer_norm_eps));
  if (!config_.tie_word_embeddings)
    lm_head_ = register_module("lm_head",
                               std::make_shared<Dense>(h, config_.vocab_size, /*with_bias=*/false));
}

void Gpt2Model::init_weights(uint64_t seed) {
  const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.n_layers));
  init_parameters(*this, seed, [&](const std::string& name) {
    const std::string suffix = "c_proj";
    bool residual = name.size() >= suffix.size() &&
                    name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    return residual ? residual_std : 0.02;
  });
}

torch::Tensor Gpt2Model::hidden_states(const torch::Tensor& input_ids,
                                       const torch::Tensor& attention_mask, KVCache* cache) {
  AttentionContext ctx = prepare_attention(input_ids, attention_mask, cache, config_.vocab_size,
                                           config_.n_layers, attention_);
  if (ctx.past + input_ids.size(1) > config_.max_positions) {
    const int64_t last = ctx.positions.max().item<int64_t>();
    if (last >= config_.max_positions)
      GDPO_THROW(InputError, "position " << last << " exceeds the model's "
                                         << config_.max_positions << " positions ("
                                         << config_.name << ")");
  }
  // [batch, seq, hidden]
  torch::Tensor x = wte_->forward(input_ids) + wpe_->forward(ctx.positions);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const auto layer = static_cast<int64_t>(i);
    auto block = blocks_[i];
    x = run_block(layer, x, cache, block_params_[i],
                  [block, ctx, layer](const torch::Tensor& in, KVCache* c) {
                    return block->forward(in, ctx, c, layer);
                  });
  }
  return ln_f_->forward(x);
}

torch::Tensor Gpt2Model::output_weight() { return lm_head_ ? lm_head_->weight : wte_->weight; }

std::vector<std::vector<torch::Tensor>> Gpt2Model::block_parameters() const {
  return block_params_;
}

std::vector<std::pair<std::string, torch::Tensor>> Gpt2Model::hf_state_dict() const {
  return named_tensors(*this);
}

void Gpt2Model::load_hf_state_dict(
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  load_named_tensors(*this, tensors);
}

}  // namespace gdpo::model
