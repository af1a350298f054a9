// Building blocks shared by the model families: parameter-holding layers named as in Hugging Face
// (so that named_parameters() gives HF's state-dict names), masked causal attention over a KV cache,
// position ids from the attention mask, rotary embeddings, and state-dict import/export helpers.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gdpo/model/causal_lm.hpp"

namespace gdpo::model {

// An empty module that only gives its children a dotted name prefix ("attn", "mlp", "h").
std::shared_ptr<torch::nn::Module> add_container(torch::nn::Module& parent, const std::string& name);

// torch.nn.LayerNorm: weight, bias [n].
struct LayerNorm : torch::nn::Module {
  LayerNorm(int64_t n, double eps);
  torch::Tensor forward(const torch::Tensor& x) const;  // [..., n]
  torch::Tensor weight, bias;
  double eps;
};

// torch.nn.Linear: weight [out, in], optional bias [out].
struct Dense : torch::nn::Module {
  Dense(int64_t in, int64_t out, bool with_bias = true);
  torch::Tensor forward(const torch::Tensor& x) const;  // [..., in] -> [..., out]
  torch::Tensor weight, bias;
};

// GPT-2's Conv1D: weight [in, out] (the transpose of Linear), bias [out]; y = x W + b.
struct Conv1D : torch::nn::Module {
  Conv1D(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x) const;  // [..., in] -> [..., out]
  torch::Tensor weight, bias;
};

// torch.nn.Embedding: weight [n, dim].
struct Embedding : torch::nn::Module {
  Embedding(int64_t n, int64_t dim);
  torch::Tensor forward(const torch::Tensor& ids) const;  // [...] -> [..., dim]
  torch::Tensor weight;
};

// The activation named as in Hugging Face configs (gelu = exact erf; gelu_new = tanh approximation).
torch::Tensor activate(const torch::Tensor& x, const std::string& name);

// What every layer of one forward call shares.
struct AttentionContext {
  torch::Tensor positions;  // [batch, seq] int64, cumsum(mask) - 1 clamped at 0, cache included
  torch::Tensor bias;       // [batch, 1, seq, past + seq] float32: 0 where attended, lowest elsewhere
  int64_t past = 0;         // cached positions before this call
};

// Validates input_ids/attention_mask against the cache and the vocabulary (InputError), builds the
// context and, with a cache, appends the new mask to cache->attention_mask. An undefined mask means
// every token is real.
AttentionContext prepare_attention(const torch::Tensor& input_ids,
                                   const torch::Tensor& attention_mask, KVCache* cache,
                                   int64_t vocab_size, int64_t n_layers);

// Appends this call's keys/values of `layer` to the cache (if any) and returns the full ones.
// k, v: [batch, heads, seq, head_dim].
std::pair<torch::Tensor, torch::Tensor> cache_keys_values(KVCache* cache, int64_t layer,
                                                          torch::Tensor k, torch::Tensor v);

// softmax(q k^T / sqrt(head_dim) + bias) v, softmax in float32, heads merged (one query per
// sequence on the CPU without autograd, a generation step, runs as one fused pass over K and V):
// q [batch, heads, seq, head_dim], k/v [batch, heads, keys, head_dim] -> [batch, seq, heads*head_dim].
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& bias);

// Rotary embedding tables for positions [batch, seq]: cos, sin [batch, 1, seq, rotary_dim] in
// `dtype`, with Hugging Face's layout (frequencies repeated: cat(f, f)).
std::pair<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& positions,
                                                      int64_t rotary_dim, double base,
                                                      torch::ScalarType dtype);
// Rotates the first rotary_dim dims of x [batch, heads, seq, head_dim] (HF's rotate_half: the first
// half pairs with the second half); the rest pass through.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// Deterministic initialisation from `seed`, in registration order: LayerNorms to (1, 0); Dense,
// Conv1D and Embedding weights normal(0, weight_std(module name)), their biases 0.
void init_parameters(torch::nn::Module& root, uint64_t seed,
                     const std::function<double(const std::string& module_name)>& weight_std);

// Every parameter of `module` under its dotted name, in registration order (shares storage).
std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const torch::nn::Module& module);
// Copies `tensors` into `module`'s parameters by name, converting dtype; every parameter must be
// given once with its exact shape. InputError naming the tensor otherwise.
void load_named_tensors(torch::nn::Module& module,
                        const std::vector<std::pair<std::string, torch::Tensor>>& tensors);

}  // namespace gdpo::model
