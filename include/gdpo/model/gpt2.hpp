// GPT-2 (Radford et al. 2019) as in Hugging Face's GPT2LMHeadModel: learned positions, pre-LayerNorm
// blocks, fused c_attn, GELU (tanh), tied token embedding as the output projection. Parameters carry
// HF's names and layouts ("transformer.h.0.attn.c_attn.weight" is [in, out]).
#pragma once
#include <memory>
#include <vector>

#include "gdpo/model/causal_lm.hpp"
#include "gdpo/model/layers.hpp"

namespace gdpo::model {

class Gpt2Block;

class Gpt2Model : public CausalLM {
 public:
  // Parameters are allocated (zeros, layer norms at identity); call init_weights() or load.
  explicit Gpt2Model(ModelConfig config);

  // HF's init from `seed`: normal(0, 0.02) weights, zero biases, residual projections (attn.c_proj,
  // mlp.c_proj) normal(0, 0.02 / sqrt(2 * n_layers)).
  void init_weights(uint64_t seed);

  const ModelConfig& config() const override { return config_; }
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                              KVCache* cache = nullptr) override;
  torch::Tensor output_weight() override;
  std::vector<std::pair<std::string, torch::Tensor>> hf_state_dict() const override;
  std::vector<std::vector<torch::Tensor>> block_parameters() const override;
  void load_hf_state_dict(
      const std::vector<std::pair<std::string, torch::Tensor>>& tensors) override;

 private:
  ModelConfig config_;
  std::shared_ptr<Embedding> wte_, wpe_;
  std::vector<std::shared_ptr<Gpt2Block>> blocks_;
  std::vector<std::vector<torch::Tensor>> block_params_;  // block_parameters()
  std::shared_ptr<LayerNorm> ln_f_;
  std::shared_ptr<Dense> lm_head_;  // only when tie_word_embeddings is false
};

}  // namespace gdpo::model
