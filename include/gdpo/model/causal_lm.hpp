// The causal language model interface every family implements (GPT-2, GPT-NeoX/Pythia): token ids
// and an attention mask in, hidden states or logits out, with an optional KV cache for generation.
// The trainer reads log-probs from hidden_states() x output_weight() in chunks (see loss/token_logprobs)
// so that the [batch, seq, vocab] logits tensor is never materialised during training.
// Two run-time options every model honours: how attention is computed (Attention: the written-out
// math path, or at::scaled_dot_product_attention where the LibTorch has it) and activation
// checkpointing per transformer block (recompute each block in the backward pass instead of keeping
// its activations). Neither changes the model's parameters or what it computes; the models have no
// dropout (Hugging Face's *_pdrop / *_dropout keys are not read and written as 0).
// With a ParameterGather (ZeRO stage 3) the blocks' parameters are fetched around each use.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gdpo/model/model_config.hpp"
#include "gdpo/model/parameter_gather.hpp"

namespace gdpo::model {

// Keys and values of every layer for the tokens seen so far, grown by each incremental forward.
// The buffers have room beyond `length()` (capacity doubles when full), so appending a token writes
// in place instead of copying the whole cache: generating n tokens moves O(n) cached values, not
// O(n^2).
// How attention is computed.
//   kMath:  softmax(q k^T / sqrt(d) + bias) v written out, softmax in float32 (the only choice on
//           LibTorch 1.x); a fused one-pass kernel for one-query CPU steps without autograd.
//   kFused: at::scaled_dot_product_attention with an explicit boolean mask (causal + padding +
//           cache) where the LibTorch has it (>= 2.0): memory-efficient / cuDNN kernels on CUDA.
//   kAuto:  the default: kFused on CUDA where the LibTorch has it, kMath otherwise (so CPU results
//           are the same on every LibTorch version).
// Rows with no visible key (queries at left-padding positions) give the mean of all values in both
// paths: finite, and never seen by a real token.
enum class Attention { kAuto, kMath, kFused };

std::string attention_name(Attention attention);  // "auto" | "math" | "fused"
// "auto" | "math" | "fused"; UsageError naming `where` otherwise.
Attention parse_attention(const std::string& name, const std::string& where);
// Whether this LibTorch has at::scaled_dot_product_attention (LibTorch >= 2.0).
bool fused_attention_available();

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

  // The attention implementation for later forward calls (default kAuto). kFused on a LibTorch
  // without scaled_dot_product_attention (1.x) throws UsageError saying so.
  void set_attention(Attention attention);
  Attention attention() const { return attention_; }

  // Activation checkpointing per transformer block (default off). When on, a forward call with
  // autograd enabled and no KV cache keeps only each block's input; the backward pass recomputes
  // the block (under the autocast state of the forward) and backpropagates through it. Parameters
  // get the same gradients as without checkpointing; without autograd or with a cache it changes
  // nothing.
  void set_activation_checkpointing(bool on) { activation_checkpointing_ = on; }
  bool activation_checkpointing() const { return activation_checkpointing_; }

  // Each transformer block's parameters, block by block, in the order of the block's
  // parameters() (the same tensors as in hf_state_dict()).
  virtual std::vector<std::vector<torch::Tensor>> block_parameters() const = 0;

  // Fetch the blocks' parameters through `gather` around each use (model/parameter_gather.hpp);
  // nullptr (the default) when every parameter is always whole.
  void set_parameter_gather(std::shared_ptr<ParameterGather> gather) { gather_ = std::move(gather); }
  ParameterGather* parameter_gather() const { return gather_.get(); }

 protected:
  // Runs transformer block `layer` on x through the gatherer, checkpointing and cache choices
  // above: `forward(x, cache)` is the block.
  torch::Tensor run_block(int64_t layer, const torch::Tensor& x, KVCache* cache,
                          const std::vector<torch::Tensor>& params,
                          const std::function<torch::Tensor(const torch::Tensor&, KVCache*)>& forward);

  Attention attention_ = Attention::kAuto;
  bool activation_checkpointing_ = false;
  std::shared_ptr<ParameterGather> gather_;
};

using CausalLMPtr = std::shared_ptr<CausalLM>;

}  // namespace gdpo::model
