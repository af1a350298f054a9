#include "gdpo/model/gpt_neox.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::model {

// One layer: x + attn(ln1(x)) + mlp(ln2(x)) (parallel residual), or sequential like GPT-2.
class GptNeoxLayer : public torch::nn::Module {
 public:
  explicit GptNeoxLayer(const ModelConfig& c)
      : heads_(c.n_heads), parallel_(c.use_parallel_residual), activation_(c.activation) {
    const int64_t h = c.hidden_size;
    input_ln_ = register_module("input_layernorm",
                                std::make_shared<LayerNorm>(h, c.layer_norm_eps));
    post_ln_ = register_module("post_attention_layernorm",
                               std::make_shared<LayerNorm>(h, c.layer_norm_eps));
    auto attention = add_container(*this, "attention");
    qkv_ = attention->register_module("query_key_value", std::make_shared<Dense>(h, 3 * h));
    dense_ = attention->register_module("dense", std::make_shared<Dense>(h, h));
    auto mlp = add_container(*this, "mlp");
    up_ = mlp->register_module("dense_h_to_4h", std::make_shared<Dense>(h, c.intermediate_size));
    down_ = mlp->register_module("dense_4h_to_h", std::make_shared<Dense>(c.intermediate_size, h));
  }

  // x [batch, seq, hidden]; cos/sin [batch, 1, seq, rotary_dim]
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx,
                        const torch::Tensor& cos, const torch::Tensor& sin, KVCache* cache,
                        int64_t layer) {
    const int64_t batch = x.size(0), seq = x.size(1), hd = x.size(2) / heads_;
    // query_key_value's output is per head [q, k, v]: -> [3, batch, heads, seq, head_dim]
    auto qkv = qkv_->forward(input_ln_->forward(x))
                   .view({batch, seq, heads_, 3, hd})
                   .permute({3, 0, 2, 1, 4})
                   .unbind(0);
    torch::Tensor q = apply_rotary(qkv[0], cos, sin);
    auto [k, v] = cache_keys_values(cache, layer, apply_rotary(qkv[1], cos, sin), qkv[2]);
    torch::Tensor attn = dense_->forward(attend(q, k, v, ctx));  // [batch, seq, hidden]
    if (parallel_) return mlp(post_ln_->forward(x)) + attn + x;
    torch::Tensor h = attn + x;
    return mlp(post_ln_->forward(h)) + h;
  }

 private:
  torch::Tensor mlp(const torch::Tensor& x) {
    return down_->forward(activate(up_->forward(x), activation_));
  }

  int64_t heads_;
  bool parallel_;
  std::string activation_;
  std::shared_ptr<LayerNorm> input_ln_, post_ln_;
  std::shared_ptr<Dense> qkv_, dense_, up_, down_;
};

GptNeoxModel::GptNeoxModel(ModelConfig config) : config_(std::move(config)) {
  GDPO_CHECK(config_.family == Family::kGptNeox,
             "GptNeoxModel given a " << family_name(config_.family) << " config");
  config_.validate(config_.name.empty() ? "model config" : config_.name);
  const int64_t h = config_.hidden_size;
  auto body = add_container(*this, "gpt_neox");
  embed_in_ = body->register_module("embed_in",
                                    std::make_shared<Embedding>(config_.vocab_size, h));
  auto layers = add_container(*body, "layers");
  for (int64_t i = 0; i < config_.n_layers; ++i)
    layers_.push_back(
        layers->register_module(std::to_string(i), std::make_shared<GptNeoxLayer>(config_)));
  for (const auto& block : layers_) block_params_.push_back(block->parameters());
  final_layer_norm_ = body->register_module(
      "final_layer_norm", std::make_shared<LayerNorm>(h, config_.layer_norm_eps));
  if (!config_.tie_word_embeddings)
    embed_out_ = register_module(
        "embed_out", std::make_shared<Dense>(h, config_.vocab_size, /*with_bias=*/false));
}

void GptNeoxModel::init_weights(uint64_t seed) {
  init_parameters(*this, seed, [](const std::string&) { return 0.02; });
}

torch::Tensor GptNeoxModel::hidden_states(const torch::Tensor& input_ids,
                                          const torch::Tensor& attention_mask, KVCache* cache) {
  AttentionContext ctx = prepare_attention(input_ids, attention_mask, cache, config_.vocab_size,
                                           config_.n_layers, attention_);
  torch::Tensor x = embed_in_->forward(input_ids);  // [batch, seq, hidden]
  // [batch, 1, seq, rotary_dim] each
  auto [cos, sin] = rotary_tables(ctx.positions, config_.rotary_dim(), config_.rotary_base,
                                  x.scalar_type());
  for (size_t i = 0; i < layers_.size(); ++i) {
    const auto layer = static_cast<int64_t>(i);
    auto block = layers_[i];
    x = run_block(layer, x, cache, block_params_[i],
                  [block, ctx, cos = cos, sin = sin, layer](const torch::Tensor& in, KVCache* c) {
                    return block->forward(in, ctx, cos, sin, c, layer);
                  });
  }
  return final_layer_norm_->forward(x);
}

torch::Tensor GptNeoxModel::output_weight() {
  return embed_out_ ? embed_out_->weight : embed_in_->weight;
}

std::vector<std::vector<torch::Tensor>> GptNeoxModel::block_parameters() const {
  return block_params_;
}

std::vector<std::pair<std::string, torch::Tensor>> GptNeoxModel::hf_state_dict() const {
  return named_tensors(*this);
}

void GptNeoxModel::load_hf_state_dict(
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  load_named_tensors(*this, tensors);
}

}  // namespace gdpo::model
