// Building blocks shared by the model families: parameter-holding layers named as in Hugging Face
// (so that named_parameters() gives HF's state-dict names), masked causal attention over a KV cache
// (written out, or fused through at::scaled_dot_product_attention on LibTorch >= 2), position ids
// from the attention mask, rotary embeddings, activation checkpointing of one block, and state-dict
// import/export helpers.
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

// What every layer of one forward call shares. Query i (absolute position past + i) sees key j when
// j <= past + i and key j is real.
struct AttentionContext {
  torch::Tensor positions;   // [batch, seq] int64, cumsum(mask) - 1 clamped at 0, cache included
  int64_t past = 0;          // cached positions before this call
  bool fused = false;        // attention through at::scaled_dot_product_attention
  // Math path (fused == false): [batch, 1, seq, past + seq] float32, 0 where attended, lowest
  // elsewhere (a row with no visible key becomes uniform over all keys).
  torch::Tensor bias;
  // Fused path: [batch, 1, seq, past + seq] bool, true where attended; rows with no visible key are
  // all true (no NaN in any kernel) and listed in empty_rows, whose output attend() replaces by the
  // mean of the values, as the math path gives.
  torch::Tensor mask;
  torch::Tensor empty_rows;  // fused only: [batch, 1, seq, 1] bool; undefined when there are none
};

// Validates input_ids/attention_mask against the cache and the vocabulary (InputError), builds the
// context and, with a cache, appends the new mask to cache->attention_mask. An undefined mask means
// every token is real. `attention` picks the path (kAuto resolves by device and LibTorch version;
// kFused on LibTorch 1.x is a UsageError).
AttentionContext prepare_attention(const torch::Tensor& input_ids,
                                   const torch::Tensor& attention_mask, KVCache* cache,
                                   int64_t vocab_size, int64_t n_layers,
                                   Attention attention = Attention::kMath);

// Appends this call's keys/values of `layer` to the cache (if any) and returns the full ones.
// k, v: [batch, heads, seq, head_dim].
std::pair<torch::Tensor, torch::Tensor> cache_keys_values(KVCache* cache, int64_t layer,
                                                          torch::Tensor k, torch::Tensor v);

// softmax(q k^T / sqrt(head_dim) + bias) v, softmax in float32, heads merged (one query per
// sequence on the CPU without autograd, a generation step, runs as one fused pass over K and V):
// q [batch, heads, seq, head_dim], k/v [batch, heads, keys, head_dim] -> [batch, seq, heads*head_dim].
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& bias);
// at::scaled_dot_product_attention(q, k, v, mask) (no dropout, scale 1/sqrt(head_dim)) with the
// rows in `empty_rows` (if defined) replaced by the mean of v over the keys; shapes as in attend();
// mask [batch, 1, seq, keys] bool, empty_rows [batch, 1, seq, 1] bool. UsageError on LibTorch 1.x.
torch::Tensor attend_fused(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           const torch::Tensor& mask, const torch::Tensor& empty_rows);
// The path chosen in `ctx`: attend_fused(q, k, v, ctx.mask, ctx.empty_rows) or attend(q, k, v,
// ctx.bias). -> [batch, seq, heads*head_dim].
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const AttentionContext& ctx);

// Activation checkpointing of one block: returns block(x) [batch, seq, hidden] computed without
// autograd, keeping only x; the backward pass recomputes block(x) with autograd under the autocast
// state (CPU and CUDA: enabled, dtype) of this call and backpropagates the incoming gradient to x
// and to `params`, which must be every tensor requiring grad that block uses besides x (its
// parameters): they are the autograd inputs through which their gradients flow, exactly as without
// checkpointing. `block` must be a pure function of x and those tensors: no KV cache, no randomness
// (the models have no dropout). Without autograd (or when nothing requires grad) this is block(x).
//
// With a `gather` (ZeRO stage 3, model/parameter_gather.hpp), the block's parameters are acquired
// around the forward and around the recomputation, and their gradients go to
// gather->gradients(layer, ...) instead of autograd (which then gives them none); x's gradient is
// unchanged. Without autograd it is acquire, block(x), release.
torch::Tensor checkpoint_block(std::function<torch::Tensor(const torch::Tensor&)> block,
                               const torch::Tensor& x, const std::vector<torch::Tensor>& params,
                               ParameterGather* gather = nullptr, int64_t layer = -1);

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
