#include "gdpo/loss/token_logprobs.hpp"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <algorithm>

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Logits are accumulated in at least float32 (half/bfloat16 hidden states give float32 log-probs).
torch::ScalarType accumulation_type(torch::ScalarType t) {
  return t == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

// The autograd Function behind gathered_log_softmax. Forward, chunk by chunk of rows:
//   logits = h W^T   [rows, V];   lse = logsumexp(logits);   out = logits[targets] - lse.
// Backward, chunk by chunk, recomputing the logits (g = grad_out [rows, K]):
//   dlogits = onehot(targets)^T g - softmax(logits) * sum_k g     [rows, V]
//   grad_h = dlogits W;   grad_W += dlogits^T h.
struct GatheredLogSoftmax : public torch::autograd::Function<GatheredLogSoftmax> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& targets,
                               int64_t chunk_rows) {
    // The backward runs outside autocast and must recompute exactly these logits: no autocast here.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const int64_t rows = hidden.size(0);
    const auto acc = accumulation_type(hidden.scalar_type());
    auto out = torch::empty({rows, targets.size(1)}, hidden.options().dtype(acc));
    auto lse = torch::empty({rows}, hidden.options().dtype(acc));
    for (int64_t begin = 0; begin < rows; begin += chunk_rows) {
      const int64_t n = std::min(chunk_rows, rows - begin);
      auto logits = torch::matmul(hidden.narrow(0, begin, n), weight.t()).to(acc);  // [n, V]
      auto chunk_lse = torch::logsumexp(logits, 1);                                 // [n]
      lse.narrow(0, begin, n).copy_(chunk_lse);
      out.narrow(0, begin, n)
          .copy_(logits.gather(1, targets.narrow(0, begin, n)) - chunk_lse.unsqueeze(1));
    }
    ctx->save_for_backward({hidden, weight, targets, lse});
    ctx->saved_data["chunk_rows"] = chunk_rows;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& hidden = saved[0];
    const auto& weight = saved[1];
    const auto& targets = saved[2];
    const auto& lse = saved[3];
    const int64_t chunk_rows = ctx->saved_data["chunk_rows"].toInt();
    const bool need_h = ctx->needs_input_grad(0);
    const bool need_w = ctx->needs_input_grad(1);
    const auto grad = grad_outputs[0].to(lse.scalar_type());  // [M, K]

    torch::Tensor grad_h = need_h ? torch::empty_like(hidden) : torch::Tensor();
    torch::Tensor grad_w;
    if (need_w) grad_w = torch::zeros(weight.sizes(), weight.options().dtype(lse.scalar_type()));
    const int64_t rows = hidden.size(0);
    for (int64_t begin = 0; begin < rows && (need_h || need_w); begin += chunk_rows) {
      const int64_t n = std::min(chunk_rows, rows - begin);
      auto h = hidden.narrow(0, begin, n);
      auto g = grad.narrow(0, begin, n);  // [n, K]
      auto logits = torch::matmul(h, weight.t()).to(lse.scalar_type());
      auto dlogits = (logits - lse.narrow(0, begin, n).unsqueeze(1)).exp_();  // softmax, in place
      dlogits.mul_(-g.sum(1, /*keepdim=*/true));
      dlogits.scatter_add_(1, targets.narrow(0, begin, n), g);
      if (need_h)
        grad_h.narrow(0, begin, n).copy_(torch::matmul(dlogits.to(weight.scalar_type()), weight));
      if (need_w) grad_w.addmm_(dlogits.t(), h.to(grad_w.scalar_type()));
    }
    if (need_w) grad_w = grad_w.to(weight.scalar_type());
    return {grad_h, grad_w, torch::Tensor(), torch::Tensor()};
  }
};

void check_projection(const torch::Tensor& hidden, const torch::Tensor& weight, int64_t dims) {
  GDPO_CHECK(hidden.dim() == dims,
             "hidden states must have " << dims << " dimensions, got " << hidden.sizes());
  GDPO_CHECK(
      weight.dim() == 2 && weight.size(1) == hidden.size(-1),
      "output weight " << weight.sizes() << " does not match hidden size " << hidden.size(-1));
}

}  // namespace

torch::Tensor gathered_log_softmax(const torch::Tensor& hidden, const torch::Tensor& weight,
                                   const torch::Tensor& targets, int64_t chunk_rows) {
  check_projection(hidden, weight, 2);
  GDPO_CHECK(chunk_rows >= 1, "chunk_rows must be >= 1, got " << chunk_rows);
  GDPO_CHECK(targets.dim() == 2 && targets.size(0) == hidden.size(0) &&
                 targets.scalar_type() == torch::kInt64,
             "targets must be int64 [" << hidden.size(0) << ", K], got " << targets.sizes() << " "
                                       << targets.scalar_type());
  // One dtype for both operands (e.g. bfloat16 hidden states with a float32 weight -> float32).
  const auto common = torch::promote_types(hidden.scalar_type(), weight.scalar_type());
  return GatheredLogSoftmax::apply(hidden.to(common), weight.to(common), targets, chunk_rows);
}

torch::Tensor token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                             const torch::Tensor& input_ids, const torch::Tensor& first,
                             const torch::Tensor& end, int64_t chunk_rows) {
  check_projection(hidden, weight, 3);
  const int64_t N = hidden.size(0), T = hidden.size(1);
  GDPO_CHECK(input_ids.dim() == 2 && input_ids.size(0) == N && input_ids.size(1) == T,
             "input_ids " << input_ids.sizes() << " do not match hidden states " << hidden.sizes());
  GDPO_CHECK(first.numel() == N && end.numel() == N,
             "first/end must hold one position per row (" << N << ")");
  const auto acc = accumulation_type(hidden.scalar_type());
  if (T < 2) return torch::zeros({N, T}, hidden.options().dtype(acc));
  // Position t >= 1 is predicted from hidden state t - 1; keep only first <= t < end.
  auto target_pos = torch::arange(1, T, first.options().dtype(torch::kInt64)).unsqueeze(0);
  auto selected = (target_pos >= first.reshape({N, 1})) & (target_pos < end.reshape({N, 1}));
  auto h = hidden.narrow(1, 0, T - 1).index({selected});                        // [M, H]
  auto targets = input_ids.narrow(1, 1, T - 1).index({selected}).unsqueeze(1);  // [M, 1]
  auto logp = gathered_log_softmax(h, weight, targets, chunk_rows).squeeze(1);  // [M]
  auto shifted = torch::zeros({N, T - 1}, logp.options()).index_put({selected}, logp);
  return torch::cat({torch::zeros({N, 1}, logp.options()), shifted}, 1);
}

torch::Tensor position_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                const torch::Tensor& position, const torch::Tensor& token_ids,
                                int64_t chunk_rows) {
  check_projection(hidden, weight, 3);
  const int64_t N = hidden.size(0);
  GDPO_CHECK(position.numel() == N, "position must hold one index per row (" << N << ")");
  GDPO_CHECK(token_ids.dim() == 2 && token_ids.size(0) == N,
             "token_ids must be [" << N << ", K], got " << token_ids.sizes());
  auto rows = torch::arange(N, position.options().dtype(torch::kInt64));
  auto h = hidden.index({rows, position.reshape({N}).to(torch::kInt64)});  // [N, H]
  return gathered_log_softmax(h, weight, token_ids, chunk_rows);
}

}  // namespace gdpo::loss
