// The fused one-query attention (a generation step over a KV cache) against the general path, on
// keys and values that are views into larger cache buffers, with masked (padding) positions.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "gdpo/model/layers.hpp"

namespace gdpo::model {
namespace {

// Head sizes below, at and past the kernel's 16 lanes, with and without a remainder: GPT-2's 64,
// Pythia's 80.
TEST(Attend, OneQueryFusedPathEqualsTheGeneralOne) {
  for (const int64_t D : {7, 16, 20, 64, 80}) {
    SCOPED_TRACE("head_dim " + std::to_string(D));
    torch::manual_seed(4);
    const int64_t B = 3, H = 4, L = 37, capacity = 64;
    const auto q = torch::randn({B, H, 1, D});
    const auto k = torch::randn({B, H, capacity, D}).narrow(2, 0, L);  // a cache's filled part
    const auto v = torch::randn({B, H, capacity, D}).narrow(2, 0, L);
    auto bias = torch::zeros({B, 1, 1, L});
    bias[1].narrow(-1, 0, 5).fill_(std::numeric_limits<float>::lowest());  // left padding of row 1
    torch::Tensor general, fused;
    {
      torch::AutoGradMode grad(true);  // the general path (training)
      general = attend(q, k, v, bias);
    }
    {
      torch::NoGradGuard no_grad;  // the fused path (generation)
      fused = attend(q, k, v, bias);
    }
    ASSERT_EQ(fused.sizes(), general.sizes());  // [B, 1, H * D]
    EXPECT_TRUE(torch::allclose(fused, general, 1e-5, 1e-6))
        << (fused - general).abs().max().item<float>();
    // Padding is ignored: row 1 equals attention over its last L - 5 keys alone.
    torch::NoGradGuard no_grad;
    const auto tail = attend(q.narrow(0, 1, 1), k.narrow(0, 1, 1).narrow(2, 5, L - 5),
                             v.narrow(0, 1, 1).narrow(2, 5, L - 5), torch::zeros({1, 1, 1, L - 5}));
    EXPECT_TRUE(torch::allclose(tail, fused.narrow(0, 1, 1), 1e-5, 1e-6));
  }
}

}  // namespace
}  // namespace gdpo::model
