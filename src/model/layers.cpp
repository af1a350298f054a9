#include "gdpo/model/layers.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "gdpo/core/error.hpp"

namespace gdpo::model {

namespace {
std::string shape_text(torch::IntArrayRef sizes) {
  std::ostringstream os;
  os << sizes;
  return os.str();
}

// > 0 while a checkpointed block runs its forward without autograd (checkpoint_block): the
// inference-only fast paths stay off there, so that the forward computes exactly what the
// backward's recomputation (with autograd) computes.
thread_local int checkpointed_forward_depth = 0;

// True when no autograd graph is wanted: the one-row / one-query CPU fast paths may run.
bool inference_only() {
  return !torch::GradMode::is_enabled() && checkpointed_forward_depth == 0;
}
}  // namespace

std::shared_ptr<torch::nn::Module> add_container(torch::nn::Module& parent,
                                                 const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

LayerNorm::LayerNorm(int64_t n, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({n}));
  bias = register_parameter("bias", torch::zeros({n}));
}

torch::Tensor LayerNorm::forward(const torch::Tensor& x) const {
  return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

Dense::Dense(int64_t in, int64_t out, bool with_bias) {
  weight = register_parameter("weight", torch::zeros({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out}));
}

namespace {
// One input row without autograd (a generation step at batch 1): a matrix-vector product streams
// the weight at memory speed, where BLAS's one-row GEMM reaches about a third of it.
bool one_row(const torch::Tensor& x, int64_t in) {
  return x.numel() == in && inference_only() && x.device().is_cpu();
}
}  // namespace

torch::Tensor Dense::forward(const torch::Tensor& x) const {
  if (one_row(x, weight.size(1))) {
    auto y = torch::mv(weight, x.reshape({-1}));
    if (bias.defined()) y += bias;
    auto shape = x.sizes().vec();
    shape.back() = weight.size(0);
    return y.view(shape);
  }
  return torch::linear(x, weight, bias);
}

Conv1D::Conv1D(int64_t in, int64_t out) {
  weight = register_parameter("weight", torch::zeros({in, out}));
  bias = register_parameter("bias", torch::zeros({out}));
}

torch::Tensor Conv1D::forward(const torch::Tensor& x) const {
  auto out_shape = x.sizes().vec();
  out_shape.back() = weight.size(1);
  if (one_row(x, weight.size(0)))
    return torch::addmv(bias, weight.t(), x.reshape({-1})).view(out_shape);
  return torch::addmm(bias, x.reshape({-1, weight.size(0)}), weight).view(out_shape);
}

Embedding::Embedding(int64_t n, int64_t dim) {
  weight = register_parameter("weight", torch::zeros({n, dim}));
}

torch::Tensor Embedding::forward(const torch::Tensor& ids) const {
  return torch::embedding(weight, ids);
}

torch::Tensor activate(const torch::Tensor& x, const std::string& name) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  GDPO_THROW(UsageError, "unsupported activation '" << name << "'");
}

AttentionContext prepare_attention(const torch::Tensor& input_ids,
                                   const torch::Tensor& attention_mask, KVCache* cache,
                                   int64_t vocab_size, int64_t n_layers, Attention attention) {
  if (attention == Attention::kFused && !fused_attention_available())
    GDPO_THROW(UsageError, "attention 'fused' needs at::scaled_dot_product_attention, which this "
                           "LibTorch does not have (LibTorch >= 2.0 has it)");
  if (!input_ids.defined() || input_ids.dim() != 2 || input_ids.scalar_type() != torch::kLong)
    GDPO_THROW(InputError, "model input_ids must be a [batch, seq] int64 tensor, got "
                               << (input_ids.defined() ? shape_text(input_ids.sizes()) : "none")
                               << (input_ids.defined() ? " " + std::string(c10::toString(
                                                                   input_ids.scalar_type()))
                                                       : ""));
  const int64_t batch = input_ids.size(0), seq = input_ids.size(1);
  if (seq == 0) GDPO_THROW(InputError, "model input has no tokens (seq = 0)");
  torch::Tensor mask = attention_mask.defined()
                           ? attention_mask.to(torch::kBool)
                           : torch::ones({batch, seq}, input_ids.options().dtype(torch::kBool));
  if (mask.sizes() != input_ids.sizes())
    GDPO_THROW(InputError, "attention_mask " << shape_text(mask.sizes())
                                             << " does not match input_ids "
                                             << shape_text(input_ids.sizes()));
  if ((input_ids.lt(0) | input_ids.ge(vocab_size)).any().item<bool>()) {
    auto bad = input_ids.masked_select(input_ids.lt(0) | input_ids.ge(vocab_size))[0];
    GDPO_THROW(InputError, "token id " << bad.item<int64_t>() << " is outside the vocabulary of "
                                       << vocab_size);
  }

  AttentionContext ctx;
  torch::Tensor full = mask;
  if (cache) {
    ctx.past = cache->length();
    if (ctx.past > 0) {
      if (cache->attention_mask.size(0) != batch)
        GDPO_THROW(InputError, "KV cache holds a batch of " << cache->attention_mask.size(0)
                                                            << " rows, input has " << batch);
      full = torch::cat({cache->attention_mask.to(mask.device(), torch::kBool), mask}, 1);
    }
    if (static_cast<int64_t>(cache->keys.size()) != n_layers) {
      GDPO_CHECK(ctx.past == 0, "KV cache has " << cache->keys.size() << " layers, model "
                                                << n_layers);
      cache->keys.assign(n_layers, torch::Tensor());
      cache->values.assign(n_layers, torch::Tensor());
    }
    cache->attention_mask = full.to(torch::kLong);
  }
  const int64_t keys = ctx.past + seq;
  ctx.positions = (full.to(torch::kLong).cumsum(1) - 1).clamp_min(0).narrow(1, ctx.past, seq);
  // Query i (absolute position past + i) sees key j when j <= past + i and key j is real.
  torch::Tensor causal =
      torch::ones({seq, keys}, mask.options().dtype(torch::kBool)).tril(ctx.past);
  torch::Tensor allowed = causal.unsqueeze(0).logical_and(full.unsqueeze(1));  // [B, seq, keys]
  ctx.fused = attention == Attention::kFused ||
              (attention == Attention::kAuto && fused_attention_available() &&
               input_ids.device().is_cuda());
  if (ctx.fused) {
    torch::Tensor empty = allowed.logical_not().all(-1, /*keepdim=*/true);  // [B, seq, 1]
    if (empty.any().item<bool>()) {
      ctx.mask = allowed.logical_or(empty).unsqueeze(1);  // [B, 1, seq, keys]
      ctx.empty_rows = empty.unsqueeze(1);                // [B, 1, seq, 1]
    } else {
      ctx.mask = allowed.unsqueeze(1);
    }
    return ctx;
  }
  ctx.bias = torch::zeros({batch, 1, seq, keys}, mask.options().dtype(torch::kFloat))
                 .masked_fill_(allowed.logical_not().unsqueeze(1),
                               std::numeric_limits<float>::lowest());
  return ctx;
}

std::pair<torch::Tensor, torch::Tensor> cache_keys_values(KVCache* cache, int64_t layer,
                                                          torch::Tensor k, torch::Tensor v) {
  if (!cache) return {std::move(k), std::move(v)};
  // prepare_attention has already counted this call's tokens in cache->length().
  const int64_t total = cache->length(), seq = k.size(2), past = total - seq;
  auto& ck = cache->keys[layer];
  auto& cv = cache->values[layer];
  if (!ck.defined() || ck.size(2) < total) {  // grow: at least double, at least 64 positions
    const int64_t capacity = std::max<int64_t>({total, 64, ck.defined() ? 2 * ck.size(2) : 0});
    auto grow = [&](torch::Tensor& buffer, const torch::Tensor& like) {
      torch::Tensor bigger =
          torch::empty({like.size(0), like.size(1), capacity, like.size(3)}, like.options());
      if (past > 0) bigger.narrow(2, 0, past).copy_(buffer.narrow(2, 0, past));
      buffer = bigger;
    };
    grow(ck, k);
    grow(cv, v);
  }
  ck.narrow(2, past, seq).copy_(k);
  cv.narrow(2, past, seq).copy_(v);
  return {ck.narrow(2, 0, total), cv.narrow(2, 0, total)};
}

namespace {

// Built for AVX-512, AVX2 and baseline x86-64 (the library's target), the widest the CPU has chosen
// when the program loads. The lanes below fix the order of every sum; the AVX-512 build may fuse a
// multiply and an add (one rounding instead of two), as BLAS's kernels for that CPU do anyway.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GDPO_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GDPO_VECTOR_CLONES
#endif

// q . k over `dim` values in 8 independent lanes, folded pairwise (8 -> 4 -> 2 -> 1): the compiler
// keeps the lanes in one vector register, where one running sum would wait on each add.
inline float lane_dot(const float* q, const float* k, int64_t dim) {
  constexpr int64_t kLanes = 8;
  float acc[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= dim; d += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += q[d + l] * k[d + l];
  for (int64_t l = 0; d + l < dim; ++l) acc[l] += q[d + l] * k[d + l];
  const float a0 = acc[0] + acc[4], a1 = acc[1] + acc[5], a2 = acc[2] + acc[6], a3 = acc[3] + acc[7];
  return (a0 + a2) + (a1 + a3);
}

// One (sequence, head) of a single-query step: w[j] = q . k_j * scale + bias[j] over the `keys`
// cached keys (k_j = k + j * dim), their softmax, and out = sum_j softmax_j v_j ([dim]).
// w: scratch of `keys` floats.
GDPO_VECTOR_CLONES
void attend_pair(const float* q, const float* k, const float* v, const float* bias, int64_t keys,
                 int64_t dim, float scale, float* w, float* out) {
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < keys; ++j) {
    w[j] = lane_dot(q, k + j * dim, dim) * scale + bias[j];
    top = std::max(top, w[j]);
  }
  float total = 0;
  for (int64_t j = 0; j < keys; ++j) total += (w[j] = std::exp(w[j] - top));
  std::fill(out, out + dim, 0.0f);
  for (int64_t j = 0; j < keys; ++j) {
    const float p = w[j] / total;
    const float* vj = v + j * dim;
    for (int64_t d = 0; d < dim; ++d) out[d] += p * vj[d];
  }
}

// One query per sequence (a generation step with a KV cache), float32 on the CPU: for each
// (batch, head), one pass over the cached keys for the scores, a softmax, one pass over the values.
// K and V are read once, at memory speed, instead of as hundreds of tiny GEMMs. Same maths as the
// general path below (float32 softmax); the sums run in another order.
torch::Tensor attend_one_query(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& bias) {
  const int64_t batch = q.size(0), heads = q.size(1), dim = q.size(3), keys = k.size(2);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
  const torch::Tensor qc = q.contiguous(), bc = bias.contiguous();  // [B, H, 1, D], [B, 1, 1, L]
  torch::Tensor out = torch::empty({batch, 1, heads * dim}, q.options());
  const float* qp = qc.data_ptr<float>();
  const float* bp = bc.data_ptr<float>();
  const float* kp = k.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t kb = k.stride(0), kh = k.stride(1), vb = v.stride(0), vh = v.stride(1);
  at::parallel_for(0, batch * heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> w(static_cast<size_t>(keys));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / heads, h = i % heads;
      attend_pair(qp + i * dim, kp + b * kb + h * kh, vp + b * vb + h * vh, bp + b * keys, keys,
                  dim, scale, w.data(), op + b * heads * dim + h * dim);
    }
  });
  return out;
}

}  // namespace

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& bias) {
  const int64_t batch = q.size(0), heads = q.size(1), seq = q.size(2), dim = q.size(3);
  if (seq == 1 && inference_only() && q.device().is_cpu() &&
      q.scalar_type() == torch::kFloat && k.scalar_type() == torch::kFloat &&
      v.scalar_type() == torch::kFloat && bias.scalar_type() == torch::kFloat &&
      k.stride(3) == 1 && k.stride(2) == dim && v.stride(3) == 1 && v.stride(2) == dim)
    return attend_one_query(q, k, v, bias);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));  // [B, heads, seq, keys]
  if (scores.scalar_type() != torch::kFloat) scores = scores.to(torch::kFloat);
  torch::Tensor probs = torch::softmax(scores.mul_(scale).add_(bias), -1).to(q.scalar_type());
  return torch::matmul(probs, v).transpose(1, 2).reshape({batch, seq, heads * dim});
}

torch::Tensor attend_fused(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           const torch::Tensor& mask, const torch::Tensor& empty_rows) {
#if TORCH_VERSION_MAJOR >= 2
  const int64_t batch = q.size(0), heads = q.size(1), seq = q.size(2), dim = q.size(3);
  // No dropout (the models have none), default scale 1/sqrt(dim); the mask already holds causality.
  torch::Tensor out = at::scaled_dot_product_attention(q, k, v, mask);  // [B, heads, seq, dim]
  if (empty_rows.defined()) {  // the math path's uniform weights over every key: the mean of v
    // [B, heads, 1, dim]
    torch::Tensor mean = torch::mean(v, at::IntArrayRef{2}, /*keepdim=*/true);
    out = torch::where(empty_rows, mean.to(out.scalar_type()), out);
  }
  return out.transpose(1, 2).reshape({batch, seq, heads * dim});
#else
  (void)q, (void)k, (void)v, (void)mask, (void)empty_rows;
  GDPO_THROW(UsageError, "attention 'fused' needs at::scaled_dot_product_attention, which this "
                         "LibTorch does not have (LibTorch >= 2.0 has it)");
#endif
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const AttentionContext& ctx) {
  return ctx.fused ? attend_fused(q, k, v, ctx.mask, ctx.empty_rows) : attend(q, k, v, ctx.bias);
}

namespace {

// The autocast state of the calling thread, CPU and CUDA (LibTorch >= 2.4 keys it by device type;
// older releases have per-device functions). The same guarded calls as src/train/autocast.cpp,
// which the model module may not depend on.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define GDPO_MODEL_AUTOCAST_BY_DEVICE 1
#endif

struct AutocastState {
  bool cpu = false, cuda = false;
  torch::ScalarType cpu_dtype = torch::kBFloat16, cuda_dtype = torch::kHalf;

  static AutocastState current() {
    AutocastState s;
#ifdef GDPO_MODEL_AUTOCAST_BY_DEVICE
    s.cpu = at::autocast::is_autocast_enabled(at::kCPU);
    s.cuda = at::autocast::is_autocast_enabled(at::kCUDA);
    s.cpu_dtype = at::autocast::get_autocast_dtype(at::kCPU);
    s.cuda_dtype = at::autocast::get_autocast_dtype(at::kCUDA);
#else
    s.cpu = at::autocast::is_cpu_enabled();
    s.cuda = at::autocast::is_enabled();
    s.cpu_dtype = at::autocast::get_autocast_cpu_dtype();
    s.cuda_dtype = at::autocast::get_autocast_gpu_dtype();
#endif
    return s;
  }

  void apply() const {
#ifdef GDPO_MODEL_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_dtype(at::kCPU, cpu_dtype);
    at::autocast::set_autocast_dtype(at::kCUDA, cuda_dtype);
    at::autocast::set_autocast_enabled(at::kCPU, cpu);
    at::autocast::set_autocast_enabled(at::kCUDA, cuda);
#else
    at::autocast::set_autocast_cpu_dtype(cpu_dtype);
    at::autocast::set_autocast_gpu_dtype(cuda_dtype);
    at::autocast::set_cpu_enabled(cpu);
    at::autocast::set_enabled(cuda);
#endif
  }
};

// Keeps autocast from caching its casts of the weights for a scope. Autocast caches the bf16 copy
// of an fp32 leaf weight until the outermost autocast region ends, with or without autograd:
// a copy cast in the checkpointed forward (no autograd) has no grad_fn, and the recomputation would
// reuse it if backward() runs on the same thread inside that region, cutting the weight's gradient.
// Each weight is used once per block, so the cache saves nothing here.
class NoAutocastCache {
 public:
  NoAutocastCache() : was_(at::autocast::is_autocast_cache_enabled()) {
    at::autocast::set_autocast_cache_enabled(false);
  }
  ~NoAutocastCache() { at::autocast::set_autocast_cache_enabled(was_); }
  NoAutocastCache(const NoAutocastCache&) = delete;
  NoAutocastCache& operator=(const NoAutocastCache&) = delete;

 private:
  bool was_;
};

// Puts `state` in force for a scope (the backward pass may run on another thread, where autocast is
// off, or after the autocast region has ended), without caching casts.
class AutocastScope {
 public:
  explicit AutocastScope(const AutocastState& state) : saved_(AutocastState::current()) {
    state.apply();
  }
  ~AutocastScope() { saved_.apply(); }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  AutocastState saved_;
  NoAutocastCache no_cache_;
};

// What the backward pass of one checkpointed block needs besides its input.
struct CheckpointedBlockState : torch::CustomClassHolder {
  std::function<torch::Tensor(const torch::Tensor&)> block;
  std::vector<torch::Tensor> params;
  AutocastState autocast;
  ParameterGather* gather = nullptr;  // ZeRO stage 3: parameters fetched around each use
  int64_t layer = -1;
  // The tensors given to apply() after x: `params`, or with a gatherer none (or a placeholder
  // when x needs no gradient). A gathered block's parameters must not be autograd inputs: their
  // gradient accumulators would record the released (empty) shape.
  std::vector<torch::Tensor> inputs;
};

// gather->acquire(layer) for a scope, release() at its end (none without a gatherer).
class AcquiredBlock {
 public:
  AcquiredBlock(ParameterGather* gather, int64_t layer) : gather_(gather), layer_(layer) {
    if (gather_) gather_->acquire(layer_);
  }
  ~AcquiredBlock() {
    if (gather_) gather_->release(layer_);
  }
  AcquiredBlock(const AcquiredBlock&) = delete;
  AcquiredBlock& operator=(const AcquiredBlock&) = delete;

 private:
  ParameterGather* gather_;
  int64_t layer_;
};

// Autograd inputs: x, then every parameter (so that autograd routes their gradients through this
// node), then the state (not a tensor: its gradient slot stays undefined).
struct CheckpointedBlock : torch::autograd::Function<CheckpointedBlock> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               torch::TensorList params,
                               const c10::intrusive_ptr<CheckpointedBlockState>& state) {
    // Runs without autograd (Function::apply turns it off); only x is kept.
    state->autocast = AutocastState::current();
    ctx->save_for_backward({x});
    ctx->saved_data["state"] = c10::IValue::make_capsule(state);
    NoAutocastCache no_cache;
    ++checkpointed_forward_depth;
    struct Leave {
      ~Leave() { --checkpointed_forward_depth; }
    } leave;
    AcquiredBlock acquired(state->gather, state->layer);
    return state->block(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto state = c10::static_intrusive_pointer_cast<CheckpointedBlockState>(
        ctx->saved_data["state"].toCapsule());
    const size_t n = state->params.size();
    // x, the inputs after it, state; with a gatherer the parameters' gradients go to it.
    torch::autograd::variable_list grads(state->inputs.size() + 2);
    if (grad_outputs.empty() || !grad_outputs[0].defined()) return grads;
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const bool x_grad = ctx->needs_input_grad(0);
    torch::Tensor input = x.detach().requires_grad_(x_grad);
    // A gathered block's parameter gradients go to the gatherer, whatever autograd asks for.
    ParameterGather* gather = state->gather;
    std::vector<torch::Tensor> computed;
    std::vector<size_t> slots;  // grads[] index of each wrt entry
    {
      AcquiredBlock acquired(gather, state->layer);
      torch::Tensor output;
      {
        torch::AutoGradMode grad_mode(true);
        AutocastScope autocast(state->autocast);
        output = state->block(input);
      }
      std::vector<torch::Tensor> wrt;
      if (x_grad) {
        wrt.push_back(input);
        slots.push_back(0);
      }
      for (size_t i = 0; i < n; ++i)
        // (With a gatherer the parameters are not apply()'s inputs: never ask needs_input_grad.)
        if ((gather || ctx->needs_input_grad(i + 1)) && state->params[i].requires_grad()) {
          wrt.push_back(state->params[i]);
          slots.push_back(i + 1);
        }
      if (wrt.empty() || !output.requires_grad()) return grads;
      computed = torch::autograd::grad({output}, wrt, {grad_outputs[0]},
                                       /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    }
    if (!gather) {
      for (size_t i = 0; i < slots.size(); ++i) grads[slots[i]] = computed[i];
      return grads;
    }
    std::vector<torch::Tensor> param_grads(n);
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i] == 0)
        grads[0] = computed[i];
      else
        param_grads[slots[i] - 1] = computed[i];
    }
    gather->gradients(state->layer, param_grads);
    return grads;
  }
};

}  // namespace

torch::Tensor checkpoint_block(std::function<torch::Tensor(const torch::Tensor&)> block,
                               const torch::Tensor& x, const std::vector<torch::Tensor>& params,
                               ParameterGather* gather, int64_t layer) {
  bool needs_grad = x.requires_grad();
  for (const auto& p : params) needs_grad = needs_grad || p.requires_grad();
  if (!torch::GradMode::is_enabled() || !needs_grad) {
    AcquiredBlock acquired(gather, layer);
    return block(x);
  }
  auto state = c10::make_intrusive<CheckpointedBlockState>();
  state->block = std::move(block);
  state->params = params;
  state->gather = gather;
  state->layer = layer;
  if (!gather)
    state->inputs = params;
  else if (!x.requires_grad())
    state->inputs = {torch::zeros({}).requires_grad_(true)};  // keeps the node in the graph
  return CheckpointedBlock::apply(x, torch::TensorList(state->inputs), state);
}

std::pair<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& positions,
                                                      int64_t rotary_dim, double base,
                                                      torch::ScalarType dtype) {
  auto fopts = positions.options().dtype(torch::kFloat);
  // inv_freq = 1 / base^(2i / dim), computed in float32 as Hugging Face does.
  torch::Tensor inv_freq =
      1.0 / torch::pow(torch::full({}, base, fopts),
                       torch::arange(0, rotary_dim, 2, fopts) / static_cast<double>(rotary_dim));
  torch::Tensor freqs = positions.to(torch::kFloat).unsqueeze(-1) * inv_freq;  // [B, seq, dim/2]
  torch::Tensor emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);            // [B, 1, seq, dim]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin) {
  const int64_t rot = cos.size(-1), dim = x.size(-1);
  if (rot == 0) return x;
  torch::Tensor xr = x.narrow(-1, 0, rot);
  torch::Tensor rotated =
      torch::cat({xr.narrow(-1, rot / 2, rot / 2).neg(), xr.narrow(-1, 0, rot / 2)}, -1);
  torch::Tensor out = xr * cos + rotated * sin;
  return rot == dim ? out : torch::cat({out, x.narrow(-1, rot, dim - rot)}, -1);
}

void init_parameters(torch::nn::Module& root, uint64_t seed,
                     const std::function<double(const std::string& module_name)>& weight_std) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto normal = [&](torch::Tensor& w, double std) {
    // Drawn in float32 on the CPU so that the values do not depend on the model's dtype or device.
    w.copy_(torch::empty(w.sizes(), torch::kFloat).normal_(0.0, std, gen));
  };
  for (const auto& item : root.named_modules()) {
    torch::nn::Module* m = item.value().get();
    if (auto* ln = dynamic_cast<LayerNorm*>(m)) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    } else if (auto* d = dynamic_cast<Dense*>(m)) {
      normal(d->weight, weight_std(item.key()));
      if (d->bias.defined()) d->bias.zero_();
    } else if (auto* c = dynamic_cast<Conv1D*>(m)) {
      normal(c->weight, weight_std(item.key()));
      c->bias.zero_();
    } else if (auto* e = dynamic_cast<Embedding*>(m)) {
      normal(e->weight, weight_std(item.key()));
    }
  }
}

std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    out.emplace_back(item.key(), item.value());
  return out;
}

void load_named_tensors(torch::nn::Module& module,
                        const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  std::map<std::string, torch::Tensor> given;
  for (const auto& [name, t] : tensors)
    if (!given.emplace(name, t).second)
      GDPO_THROW(InputError, "model state: tensor '" << name << "' given twice");
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    auto it = given.find(item.key());
    if (it == given.end())
      GDPO_THROW(InputError, "model state: missing tensor '" << item.key() << "'");
    torch::Tensor& param = item.value();
    if (it->second.sizes() != param.sizes())
      GDPO_THROW(InputError, "model state: tensor '" << item.key() << "' has shape "
                                                     << shape_text(it->second.sizes())
                                                     << " but the model expects "
                                                     << shape_text(param.sizes()));
    param.copy_(it->second);
    used.insert(item.key());
  }
  for (const auto& [name, t] : given)
    if (!used.count(name))
      GDPO_THROW(InputError, "model state: unexpected tensor '" << name
                                                                << "' (not a parameter of the "
                                                                   "model)");
}

}  // namespace gdpo::model
