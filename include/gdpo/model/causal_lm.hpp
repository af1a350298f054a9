// The causal language model interface every family implements (GPT-2, GPT-NeoX/Pythia): token ids
// and an attention mask in, hidden states or logits out, with an optional KV cache for generation.
// The trainer reads log-probs from hidden_states() x output_weight() in chunks (see loss/token_logprobs)
// so that the [batch, seq, vocab] logits tensor is never materialised during training.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gdpo/model/model_config.hpp"

namespace gdpo::model {

// Keys and values of every layer for the tokens seen so far, grown by each incremental forward.
// The buffers have room beyond `length()` (capacity doubles when full), so appending a token writes
// in place instead of copying the whole cache: generating n tokens moves O(n) cached values, not
// O(n^2).
struct KVCache {
  std::vector<torch::Tensor> keys;    // per layer [batch, heads, capacity, head_dim]; the first
  std::vector<torch::Tensor> values;  //   length() positions along dim 2 are filled
  torch::Tensor attention_mask;       // [batch, length] int64, the mask of every cached position
  int64_t length() const { return attention_mask.defined() ? attention_mask.size(1) : 0; }
};

class CausalLM : public torch::nn::Module {
 public:
  ~CausalLM() override = default;

  virtual const ModelConfig& config() const = 0;

  // Final hidden states after the last layer norm: [batch, seq, hidden].
  // input_ids [batch, seq] int64; attention_mask [batch, seq] int64/bool (1 = real token), left or
  // right padding; position ids are derived from the mask (cumsum - 1) so padding never shifts them.
  // With a cache, input_ids/attention_mask hold only the new tokens and the cache is extended.
  virtual torch::Tensor hidden_states(const torch::Tensor& input_ids,
                                      const torch::Tensor& attention_mask,
                                      KVCache* cache = nullptr) = 0;

  // The output projection: [vocab, hidden] (GPT-2: the tied token embedding).
  virtual torch::Tensor output_weight() = 0;

  // Logits [batch, seq, vocab] = hidden_states x output_weight^T (evaluation and generation only).
  torch::Tensor logits(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                       KVCache* cache = nullptr) {
    return torch::matmul(hidden_states(input_ids, attention_mask, cache), output_weight().t());
  }

  // Every trainable tensor under its Hugging Face name ("transformer.h.0.attn.c_attn.weight",
  // "gpt_neox.layers.0.attention.query_key_value.weight", ...), in HF's layout (GPT-2's Conv1D
  // weights as [in, out]); tied weights appear once.
  virtual std::vector<std::pair<std::string, torch::Tensor>> hf_state_dict() const = 0;
  // Copies tensors named as in hf_state_dict() into the model (shape and presence checked).
  virtual void load_hf_state_dict(
      const std::vector<std::pair<std::string, torch::Tensor>>& tensors) = 0;
};

using CausalLMPtr = std::shared_ptr<CausalLM>;

}  // namespace gdpo::model
