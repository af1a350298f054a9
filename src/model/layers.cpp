#include "gdpo/model/layers.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

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
  return x.numel() == in && !torch::GradMode::is_enabled() && x.device().is_cpu();
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
                                   int64_t vocab_size, int64_t n_layers) {
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
      const float* qi = qp + i * dim;
      const float* ki = kp + b * kb + h * kh;
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < keys; ++j) {
        const float* kj = ki + j * dim;
        float dot = 0;
        for (int64_t d = 0; d < dim; ++d) dot += qi[d] * kj[d];
        w[j] = dot * scale + bp[b * keys + j];
        top = std::max(top, w[j]);
      }
      float total = 0;
      for (int64_t j = 0; j < keys; ++j) total += (w[j] = std::exp(w[j] - top));
      float* oi = op + b * heads * dim + h * dim;
      std::fill(oi, oi + dim, 0.0f);
      const float* vi = vp + b * vb + h * vh;
      for (int64_t j = 0; j < keys; ++j) {
        const float p = w[j] / total;
        const float* vj = vi + j * dim;
        for (int64_t d = 0; d < dim; ++d) oi[d] += p * vj[d];
      }
    }
  });
  return out;
}

}  // namespace

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& bias) {
  const int64_t batch = q.size(0), heads = q.size(1), seq = q.size(2), dim = q.size(3);
  if (seq == 1 && !torch::GradMode::is_enabled() && q.device().is_cpu() &&
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
