// GPT-NeoX / Pythia (Black et al. 2022; Biderman et al. 2023) as in Hugging Face's
// GPTNeoXForCausalLM: rotary embeddings on rotary_pct of each head, fused query_key_value laid out per
// head as [q, k, v], parallel attention + MLP residual, exact GELU, untied embed_out.
#pragma once
#include <memory>
#include <vector>

#include "gdpo/model/causal_lm.hpp"
#include "gdpo/model/layers.hpp"

namespace gdpo::model {

class GptNeoxLayer;

class GptNeoxModel : public CausalLM {
 public:
  // Parameters are allocated (zeros, layer norms at identity); call init_weights() or load.
  explicit GptNeoxModel(ModelConfig config);

  // HF's init from `seed`: normal(0, 0.02) for linear and embedding weights, zero biases.
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
  std::shared_ptr<Embedding> embed_in_;
  std::vector<std::shared_ptr<GptNeoxLayer>> layers_;
  std::vector<std::vector<torch::Tensor>> block_params_;  // block_parameters()
  std::shared_ptr<LayerNorm> final_layer_norm_;
  std::shared_ptr<Dense> embed_out_;  // only when tie_word_embeddings is false
};

}  // namespace gdpo::model
