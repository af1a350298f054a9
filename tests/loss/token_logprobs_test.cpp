// Chunked log-probs: equal (values and gradients, float64) to the naive full log_softmax, for every
// chunk size; zero outside the selected positions; and holding far fewer bytes than the naive
// logits.
#include "gdpo/loss/token_logprobs.hpp"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <gtest/gtest.h>

#include <iostream>
#include "loss/fixtures.hpp"

namespace gdpo::loss {
namespace {

using test::kTol;

struct Case {
  torch::Tensor hidden, weight, ids, first, end;
};

Case random_case(int64_t N, int64_t T, int64_t H, int64_t V, torch::Dtype dtype = torch::kFloat64) {
  torch::manual_seed(7);
  Case c;
  c.hidden = torch::randn({N, T, H}, dtype).requires_grad_();
  c.weight = torch::randn({V, H}, dtype).requires_grad_();
  c.ids = torch::randint(V, {N, T}, torch::kInt64);
  c.first = torch::randint(1, 3, {N}, torch::kInt64);
  c.end = torch::randint(3, T + 1, {N}, torch::kInt64);
  return c;
}

// The naive reference: the whole [N, T, V] log_softmax, gathered and masked.
torch::Tensor naive_token_logprobs(const Case& c) {
  const int64_t T = c.hidden.size(1);
  auto logsm = torch::log_softmax(torch::matmul(c.hidden, c.weight.t()), -1);  // [N, T, V]
  auto next =
      logsm.narrow(1, 0, T - 1).gather(2, c.ids.narrow(1, 1, T - 1).unsqueeze(2)).squeeze(2);
  auto pos = torch::arange(1, T).unsqueeze(0);
  auto keep = (pos >= c.first.unsqueeze(1)) & (pos < c.end.unsqueeze(1));
  auto shifted = torch::where(keep, next, torch::zeros_like(next));
  return torch::cat({torch::zeros({c.hidden.size(0), 1}, next.options()), shifted}, 1);
}

// Values and gradients (hidden, weight) of sum(out * upstream) for a fixed random upstream.
struct Result {
  torch::Tensor value, grad_hidden, grad_weight;
};
Result evaluate(const Case& c, const std::function<torch::Tensor()>& fn) {
  c.hidden.mutable_grad() = torch::Tensor();
  c.weight.mutable_grad() = torch::Tensor();
  auto out = fn();
  torch::manual_seed(11);
  auto upstream = torch::randn(out.sizes(), out.options());
  (out * upstream).sum().backward();
  return {out.detach(), c.hidden.grad().clone(), c.weight.grad().clone()};
}

void expect_close(const Result& a, const Result& b) {
  EXPECT_TRUE(torch::allclose(a.value, b.value, kTol, kTol)) << a.value << "\n" << b.value;
  EXPECT_TRUE(torch::allclose(a.grad_hidden, b.grad_hidden, kTol, kTol));
  EXPECT_TRUE(torch::allclose(a.grad_weight, b.grad_weight, kTol, kTol));
}

TEST(TokenLogprobs, EqualsNaiveLogSoftmaxInValuesAndGradientsForEveryChunkSize) {
  Case c = random_case(3, 7, 5, 11);
  Result naive = evaluate(c, [&] { return naive_token_logprobs(c); });
  for (int64_t chunk : {1, 2, 5, 1000}) {
    SCOPED_TRACE("chunk_rows " + std::to_string(chunk));
    expect_close(
        evaluate(c,
                 [&] { return token_logprobs(c.hidden, c.weight, c.ids, c.first, c.end, chunk); }),
        naive);
  }
}

TEST(TokenLogprobs, IsZeroOutsideTheSelectedPositionsAndAtPositionZero) {
  Case c = random_case(2, 6, 3, 4);
  c.first = torch::tensor({2, 1}, torch::kInt64);
  c.end = torch::tensor({4, 1}, torch::kInt64);  // row 1 selects nothing
  auto out = token_logprobs(c.hidden, c.weight, c.ids, c.first, c.end, 3).detach();
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 6}));
  for (int64_t t = 0; t < 6; ++t) {
    EXPECT_EQ(out[1][t].item<double>(), 0.0);
    if (t < 2 || t >= 4)
      EXPECT_EQ(out[0][t].item<double>(), 0.0) << t;
    else
      EXPECT_LT(out[0][t].item<double>(), 0.0) << t;
  }
}

TEST(TokenLogprobs, HandComputedValue) {
  // Identity output weight: the hidden state is the logit vector. log([.5, .25, .25]) predicts
  // token 1 with probability 1/4.
  auto hidden = torch::zeros({1, 2, 3}, torch::kFloat64);
  hidden[0][0] = torch::log(torch::tensor({0.5, 0.25, 0.25}, torch::kFloat64));
  auto ids = torch::tensor({{2, 1}}, torch::kInt64);
  auto out = token_logprobs(hidden, torch::eye(3, torch::kFloat64), ids, torch::tensor({1}),
                            torch::tensor({2}));
  EXPECT_NEAR(out[0][1].item<double>(), std::log(0.25), kTol);
  EXPECT_EQ(out[0][0].item<double>(), 0.0);
}

TEST(PositionLogprobs, EqualsNaiveFullVocabularyLogSoftmaxNotRenormalised) {
  Case c = random_case(3, 5, 4, 9);
  auto position = torch::tensor({0, 3, 4}, torch::kInt64);
  auto tokens = torch::tensor({{1, 4}, {8, 0}, {2, 2}}, torch::kInt64);
  Result naive = evaluate(c, [&] {
    auto logsm = torch::log_softmax(torch::matmul(c.hidden, c.weight.t()), -1);
    return logsm.index({torch::arange(3), position}).gather(1, tokens);
  });
  for (int64_t chunk : {1, 2, 64}) {
    SCOPED_TRACE("chunk_rows " + std::to_string(chunk));
    Result got =
        evaluate(c, [&] { return position_logprobs(c.hidden, c.weight, position, tokens, chunk); });
    expect_close(got, naive);
    EXPECT_LT(got.value.exp().sum(1).max().item<double>(), 1.0);  // not renormalised over K
  }
}

TEST(TokenLogprobs, HalfPrecisionInputsGiveFloat32LogProbs) {
  Case c = random_case(2, 4, 3, 5, torch::kFloat32);
  auto b16 = token_logprobs(c.hidden.to(torch::kBFloat16), c.weight.to(torch::kBFloat16), c.ids,
                            c.first, c.end);
  EXPECT_EQ(b16.scalar_type(), torch::kFloat32);
  auto f32 = token_logprobs(c.hidden, c.weight, c.ids, c.first, c.end);
  EXPECT_TRUE(torch::allclose(b16, f32, 0.1, 0.1));
}

TEST(TokenLogprobs, MixedDtypesArePromotedAndGradientsKeepTheInputDtypes) {
  Case c = random_case(2, 4, 3, 5, torch::kFloat32);
  auto hidden = c.hidden.detach().to(torch::kBFloat16).requires_grad_();
  auto out = token_logprobs(hidden, c.weight, c.ids, c.first, c.end);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  out.sum().backward();
  EXPECT_EQ(hidden.grad().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(c.weight.grad().scalar_type(), torch::kFloat32);
}

// Peak bytes the CPU allocator holds above the level at construction, via the profiler's
// thread-local memory reporting hook (deterministic: no timing involved).
class PeakMemory : public c10::MemoryReportingInfoBase {
 public:
  bool memoryProfilingEnabled() const override { return true; }
  // LibTorch 1.x passes the totals as int64_t, 2.x as size_t: define both.
  void reportMemoryUsage(void*, int64_t size, int64_t, int64_t, c10::Device device) {
    track(size, device);
  }
  void reportMemoryUsage(void*, int64_t size, size_t, size_t, c10::Device device) {
    track(size, device);
  }
  int64_t peak() const { return peak_; }

 private:
  void track(int64_t size, c10::Device device) {
    if (!device.is_cpu()) return;
    live_ += size;
    peak_ = std::max(peak_, live_);
  }
  int64_t live_ = 0, peak_ = 0;
};

int64_t peak_bytes(const std::function<void()>& fn) {
  auto tracker = std::make_shared<PeakMemory>();
  {
    c10::DebugInfoGuard guard(c10::DebugInfoKind::PROFILER_STATE, tracker);
    fn();
  }
  return tracker->peak();
}

TEST(TokenLogprobs, ChunkedPathNeverHoldsTheFullLogitsTensor) {
  const int64_t N = 4, T = 64, H = 8, V = 2000, chunk = 16;
  Case c = random_case(N, T, H, V, torch::kFloat32);
  c.first = torch::ones({N}, torch::kInt64);
  c.end = torch::full({N}, T, torch::kInt64);
  const int64_t full_logits = N * T * V * 4;
  const int64_t naive = peak_bytes([&] { naive_token_logprobs(c).sum().backward(); });
  const int64_t chunked = peak_bytes(
      [&] { token_logprobs(c.hidden, c.weight, c.ids, c.first, c.end, chunk).sum().backward(); });
  std::cout << "[ memory   ] N*T*V float32 logits " << full_logits << " bytes; peak naive " << naive
            << ", chunked (" << chunk << " rows) " << chunked << "\n";
  EXPECT_GE(naive, full_logits);
  EXPECT_LT(chunked, full_logits / 4);
}

}  // namespace
}  // namespace gdpo::loss
