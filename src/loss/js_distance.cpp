#include "gdpo/loss/js_distance.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

namespace {

// sum_k x_k log(x_k / m_k) over x_k > 0 (m_k >= x_k / 2 > 0 there): scipy's rel_entr summed.
torch::Tensor relative_entropy(const torch::Tensor& x, const torch::Tensor& m) {
  auto positive = x > 0;
  auto one = torch::ones_like(x);  // stands in where x = 0 so that no log(0) enters the graph
  auto terms =
      x * (torch::log(torch::where(positive, x, one)) - torch::log(torch::where(positive, m, one)));
  return terms.sum(-1);
}

}  // namespace

torch::Tensor js_distance(const torch::Tensor& p, const torch::Tensor& q,
                          const torch::Tensor& valid) {
  GDPO_CHECK(p.sizes() == q.sizes() && p.dim() == 2,
             "JS distance needs two [B, K] tensors of one shape, got " << p.sizes() << " and "
                                                                       << q.sizes());
  GDPO_CHECK(!valid.defined() || valid.sizes() == p.sizes(),
             "validity mask " << valid.sizes() << " does not match " << p.sizes());
  auto keep = [&](const torch::Tensor& x) {
    auto y = valid.defined() ? x.masked_fill(valid.logical_not(), 0) : x;
    return y / y.sum(-1, /*keepdim=*/true);
  };
  auto pn = keep(p), qn = keep(q);
  auto m = (pn + qn) / 2;
  auto js = (relative_entropy(pn, m) + relative_entropy(qn, m)) / 2;
  return js.clamp_min(0).sqrt();
}

}  // namespace gdpo::loss
