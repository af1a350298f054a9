// Activation checkpointing per block (the same loss and bitwise the same parameter gradients as
// without it, for GPT-2 and GPT-NeoX, right and left padding, fp32 and CPU bf16 autocast, a smaller
// autograd graph, nothing changed without autograd) and the attention choice (math / fused / auto:
// fused is refused with a clear message where LibTorch has no scaled_dot_product_attention, and
// equals the math path within 1e-5 where it has, with and without a KV cache).
#include <gtest/gtest.h>
#include <torch/csrc/autograd/function.h>
#include <torch/version.h>

#include <ATen/autocast_mode.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gdpo/core/error.hpp"
#include "gdpo/model/causal_lm.hpp"
#include "gdpo/model/layers.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "model/model_fixture.hpp"

namespace gdpo::model {
namespace {

using fixture::token_ids;

// Row 0 full, row 1 with 3 padding tokens on the right or on the left, row 2 with 1.
torch::Tensor padded_mask(bool left) {
  auto right = torch::tensor({{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 0}},
                             torch::kLong);
  return left ? right.flip({1}) : right;
}

// A DPO-like scalar: the summed log-probability of each real next token, weighted per position so
// that every position's gradient differs. [batch, seq] ids and mask.
torch::Tensor next_token_logprob(CausalLM& m, const torch::Tensor& ids, const torch::Tensor& mask) {
  const int64_t seq = ids.size(1);
  auto h = m.hidden_states(ids, mask);                                        // [B, S, hidden]
  auto logp = torch::log_softmax(torch::matmul(h, m.output_weight().t()), -1);  // [B, S, vocab]
  auto next = logp.narrow(1, 0, seq - 1)
                  .gather(-1, ids.narrow(1, 1, seq - 1).unsqueeze(-1))
                  .squeeze(-1);  // [B, S - 1]
  auto real = (mask.narrow(1, 1, seq - 1) * mask.narrow(1, 0, seq - 1)).to(torch::kFloat);
  auto weight = torch::linspace(0.5, 1.5, seq - 1).unsqueeze(0);
  return (next * real * weight).sum();
}

struct Outcome {
  torch::Tensor loss;
  std::map<std::string, torch::Tensor> grads;
};

// The loss and every parameter's gradient from a fresh model of `config` (same seed every time).
Outcome loss_and_grads(const std::string& config, bool checkpointing, const torch::Tensor& ids,
                   const torch::Tensor& mask, Attention attention = Attention::kAuto) {
  auto m = build_model(load_model_config(config), 7);
  m->set_activation_checkpointing(checkpointing);
  m->set_attention(attention);
  Outcome run;
  run.loss = next_token_logprob(*m, ids, mask);
  run.loss.backward();
  for (const auto& p : m->named_parameters()) run.grads[p.key()] = p.value().grad();
  return run;
}

void expect_identical(const Outcome& a, const Outcome& b) {
  EXPECT_TRUE(torch::equal(a.loss, b.loss))
      << a.loss.item<float>() << " vs " << b.loss.item<float>();
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (const auto& [name, g] : a.grads) {
    const torch::Tensor& h = b.grads.at(name);
    ASSERT_TRUE(g.defined() && h.defined()) << name;
    EXPECT_TRUE(torch::equal(g, h)) << name << " max diff " << (g - h).abs().max().item<float>();
  }
}

// Every autograd node reachable from t, by name.
std::multiset<std::string> graph_nodes(const torch::Tensor& t) {
  std::multiset<std::string> names;
  std::set<torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack{t.grad_fn().get()};
  while (!stack.empty()) {
    torch::autograd::Node* n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n).second) continue;
    names.insert(n->name());
    for (const auto& edge : n->next_edges())
      if (edge.function) stack.push_back(edge.function.get());
  }
  return names;
}

size_t count_containing(const std::multiset<std::string>& names, const std::string& needle) {
  size_t n = 0;
  for (const auto& name : names) n += name.find(needle) != std::string::npos;
  return n;
}

class Checkpointing : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Tiny, Checkpointing, ::testing::Values("tiny-gpt2", "tiny-neox"));

// fp32 on the CPU: the recomputation runs exactly the ops of the original forward on the same
// values, so the loss and every gradient are bitwise equal.
TEST_P(Checkpointing, SameLossAndBitwiseSameGradientsRightAndLeftPadding) {
  auto ids = token_ids(3, 7);
  for (bool left : {false, true}) {
    SCOPED_TRACE(left ? "left padding" : "right padding");
    expect_identical(loss_and_grads(GetParam(), false, ids, padded_mask(left)),
                     loss_and_grads(GetParam(), true, ids, padded_mask(left)));
  }
}

// batch 1, seq 1: the one-row / one-query CPU fast paths (taken without autograd) must stay off in
// the checkpointed forward, which runs without autograd but must match the recomputation.
TEST_P(Checkpointing, OneTokenBatchIsBitwiseTheSame) {
  auto ids = torch::tensor({{42}}, torch::kLong);
  auto run = [&](bool on) {
    auto m = build_model(load_model_config(GetParam()), 7);
    m->set_activation_checkpointing(on);
    Outcome r;
    r.loss = torch::log_softmax(m->logits(ids, {}), -1)[0][0][5];
    r.loss.backward();
    for (const auto& p : m->named_parameters()) r.grads[p.key()] = p.value().grad();
    return r;
  };
  expect_identical(run(false), run(true));
}

TEST_P(Checkpointing, KeepsOnlyBlockInputsInTheGraph) {
  auto m = build_model(load_model_config(GetParam()), 7);
  const auto n_layers = static_cast<size_t>(m->config().n_layers);
  auto ids = token_ids(3, 7);
  auto off = graph_nodes(next_token_logprob(*m, ids, padded_mask(true)));
  m->set_activation_checkpointing(true);
  EXPECT_TRUE(m->activation_checkpointing());
  auto on = graph_nodes(next_token_logprob(*m, ids, padded_mask(true)));
  EXPECT_EQ(count_containing(on, "CheckpointedBlock"), n_layers);
  EXPECT_EQ(count_containing(off, "CheckpointedBlock"), 0u);
  // Every block's matmuls, softmax, layer norms... are absent from the graph.
  EXPECT_LT(count_containing(on, "Softmax"), count_containing(off, "Softmax"));
  EXPECT_EQ(count_containing(on, "Softmax"), 1u);  // only the log_softmax of the loss
  EXPECT_LT(on.size() + n_layers * 10, off.size()) << on.size() << " vs " << off.size();
}

// Without autograd, or with a KV cache, checkpointing changes nothing.
TEST_P(Checkpointing, NoEffectWithoutAutogradOrWithACache) {
  auto m = build_model(load_model_config(GetParam()), 7);
  auto ids = token_ids(3, 7);
  auto mask = padded_mask(true);
  torch::Tensor off, off_cached, on, on_cached;
  {
    torch::NoGradGuard no_grad;
    off = m->hidden_states(ids, mask);
    KVCache cache;
    off_cached = m->hidden_states(ids, mask, &cache);
  }
  m->set_activation_checkpointing(true);
  {
    torch::NoGradGuard no_grad;
    on = m->hidden_states(ids, mask);
  }
  EXPECT_TRUE(torch::equal(on, off));
  KVCache cache;
  on_cached = m->hidden_states(ids, mask, &cache);  // autograd on, but a cache: not checkpointed
  EXPECT_EQ(count_containing(graph_nodes(on_cached), "CheckpointedBlock"), 0u);
  EXPECT_TRUE(torch::equal(on_cached.detach(), off_cached));
  EXPECT_EQ(cache.length(), 7);
}

// The version-guarded CPU autocast switch (as in src/train/autocast.cpp).
void cpu_autocast(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_dtype(at::kCPU, torch::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, on);
#else
  at::autocast::set_autocast_cpu_dtype(torch::kBFloat16);
  at::autocast::set_cpu_enabled(on);
#endif
  if (on) {
    at::autocast::increment_nesting();
  } else if (at::autocast::decrement_nesting() == 0) {
    at::autocast::clear_cache();
  }
}

// bf16 autocast during the forward. backward() outside the autocast region (as in the trainer): the
// recomputation must put the forward's autocast state back, or its bf16 matmuls would run in fp32.
// backward() inside the region: the recomputation must not reuse the weight casts made by the
// checkpointed forward without autograd (autocast caches them), or the weights would get no
// gradient.
TEST_P(Checkpointing, RecomputesUnderTheForwardsAutocastState) {
  auto ids = token_ids(3, 7);
  auto mask = padded_mask(false);
  auto run = [&](bool on, bool backward_inside) {
    auto m = build_model(load_model_config(GetParam()), 7);
    m->set_activation_checkpointing(on);
    Outcome r;
    cpu_autocast(true);
    try {
      r.loss = next_token_logprob(*m, ids, mask);
      if (backward_inside) r.loss.backward();
    } catch (...) {
      cpu_autocast(false);
      throw;
    }
    cpu_autocast(false);
    if (!backward_inside) r.loss.backward();
    for (const auto& p : m->named_parameters()) r.grads[p.key()] = p.value().grad();
    return r;
  };
  for (bool inside : {false, true}) {
    SCOPED_TRACE(inside ? "backward inside the autocast region" : "backward after it");
    const Outcome off = run(false, inside), on = run(true, inside);
    expect_identical(off, on);
    // Autocast was in force: the fp32 run's gradients differ.
    const Outcome fp32 = loss_and_grads(GetParam(), false, ids, mask);
    const std::string name = GetParam() == "tiny-gpt2"
                                 ? "transformer.h.1.mlp.c_fc.weight"
                                 : "gpt_neox.layers.1.mlp.dense_h_to_4h.weight";
    EXPECT_FALSE(torch::equal(fp32.grads.at(name), off.grads.at(name)));
  }
}

// The models have no dropout: two training-mode forwards are bitwise equal, so the recomputation
// needs no saved RNG state.
TEST_P(Checkpointing, ModelsHaveNoDropout) {
  auto m = build_model(load_model_config(GetParam()), 7);
  m->train();
  for (const auto& item : m->named_modules())
    EXPECT_EQ(dynamic_cast<torch::nn::DropoutImpl*>(item.value().get()), nullptr) << item.key();
  auto ids = token_ids(3, 7);
  EXPECT_TRUE(torch::equal(m->hidden_states(ids, padded_mask(true)),
                           m->hidden_states(ids, padded_mask(true))));
}

TEST(AttentionChoice, NamesParseAndDefault) {
  for (Attention a : {Attention::kAuto, Attention::kMath, Attention::kFused})
    EXPECT_EQ(parse_attention(attention_name(a), "test"), a);
  try {
    parse_attention("flash", "--model.attention");
    ADD_FAILURE() << "parsed 'flash'";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--model.attention"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'flash'"), std::string::npos) << e.what();
  }
  auto m = build_model(load_model_config("tiny-gpt2"), 1);
  EXPECT_EQ(m->attention(), Attention::kAuto);
  EXPECT_FALSE(m->activation_checkpointing());
  EXPECT_EQ(fused_attention_available(), TORCH_VERSION_MAJOR >= 2);
}

// On the CPU kAuto is the math path on every LibTorch version: bitwise the same logits.
TEST(AttentionChoice, AutoEqualsMathBitwiseOnTheCpu) {
  for (const std::string config : {"tiny-gpt2", "tiny-neox"}) {
    auto m = build_model(load_model_config(config), 3);
    torch::NoGradGuard no_grad;
    auto ids = token_ids(3, 7);
    auto mask = padded_mask(true);
    auto automatic = m->logits(ids, mask);
    m->set_attention(Attention::kMath);
    EXPECT_TRUE(torch::equal(m->logits(ids, mask), automatic)) << config;
  }
}

#if TORCH_VERSION_MAJOR < 2

TEST(AttentionChoice, FusedIsRefusedWithoutScaledDotProductAttention) {
  auto m = build_model(load_model_config("tiny-neox"), 1);
  try {
    m->set_attention(Attention::kFused);
    ADD_FAILURE() << "kFused accepted on LibTorch " << TORCH_VERSION_MAJOR << "."
                  << TORCH_VERSION_MINOR;
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("scaled_dot_product_attention"), std::string::npos) << what;
    EXPECT_NE(what.find("LibTorch (1."), std::string::npos) << what;
    EXPECT_NE(what.find("'math'"), std::string::npos) << what;
  }
  EXPECT_EQ(m->attention(), Attention::kAuto);  // unchanged
  auto ids = token_ids(1, 3);
  EXPECT_THROW(prepare_attention(ids, {}, nullptr, 257, 2, Attention::kFused), UsageError);
  auto q = torch::zeros({1, 1, 3, 4});
  EXPECT_THROW(attend_fused(q, q, q, torch::ones({1, 1, 3, 3}, torch::kBool), {}), UsageError);
}

#else  // LibTorch >= 2: at::scaled_dot_product_attention

// Fused and math agree within 1e-5 on padded batches, every row (rows with no visible key give the
// mean of the values in both), logits and gradients.
TEST(AttentionChoice, FusedEqualsMathOnPaddedBatches) {
  for (const std::string config : {"tiny-gpt2", "tiny-neox"}) {
    for (bool left : {false, true}) {
      SCOPED_TRACE(config + (left ? " left padding" : " right padding"));
      auto ids = token_ids(3, 7);
      auto mask = padded_mask(left);
      auto m = build_model(load_model_config(config), 3);
      m->set_attention(Attention::kMath);
      torch::Tensor math, fused;
      {
        torch::NoGradGuard no_grad;
        math = m->logits(ids, mask);
        m->set_attention(Attention::kFused);
        fused = m->logits(ids, mask);
      }
      EXPECT_TRUE(torch::isfinite(fused).all().item<bool>());
      EXPECT_TRUE(torch::allclose(fused, math, 0, 1e-5))
          << (fused - math).abs().max().item<float>();
      const Outcome g_math = loss_and_grads(config, false, ids, mask, Attention::kMath);
      const Outcome g_fused = loss_and_grads(config, false, ids, mask, Attention::kFused);
      EXPECT_TRUE(torch::allclose(g_fused.loss, g_math.loss, 0, 1e-4));
      for (const auto& [name, g] : g_math.grads)
        EXPECT_TRUE(torch::allclose(g_fused.grads.at(name), g, 1e-4, 1e-5))
            << name << " max diff " << (g_fused.grads.at(name) - g).abs().max().item<float>();
      // Checkpointing with the fused path: the same ops recomputed.
      const Outcome g_fused_ckpt = loss_and_grads(config, true, ids, mask, Attention::kFused);
      for (const auto& [name, g] : g_fused.grads)
        EXPECT_TRUE(torch::allclose(g_fused_ckpt.grads.at(name), g, 0, 1e-6)) << name;
    }
  }
}

TEST(AttentionChoice, FusedWithTheKvCacheEqualsTheFullMathForward) {
  for (const std::string config : {"tiny-gpt2", "tiny-neox"}) {
    auto m = build_model(load_model_config(config), 3);
    torch::NoGradGuard no_grad;
    auto ids = token_ids(3, 7);
    auto mask = padded_mask(true);
    m->set_attention(Attention::kMath);
    auto full = m->logits(ids, mask);
    m->set_attention(Attention::kFused);
    for (int64_t chunk : {1, 3}) {
      KVCache cache;
      std::vector<torch::Tensor> parts;
      for (int64_t t = 0; t < 7; t += chunk) {
        const int64_t n = std::min<int64_t>(chunk, 7 - t);
        parts.push_back(m->logits(ids.narrow(1, t, n), mask.narrow(1, t, n), &cache));
      }
      auto cached = torch::cat(parts, 1);
      EXPECT_TRUE(torch::allclose(cached, full, 0, 1e-5))
          << config << " chunk " << chunk << " max diff "
          << (cached - full).abs().max().item<float>();
    }
  }
}

// A query with no visible key (left padding) gets the mean of all values on both paths.
TEST(AttentionChoice, RowsWithNoVisibleKeyMatchTheMathPath) {
  torch::manual_seed(5);
  auto ctx_math = prepare_attention(torch::tensor({{5, 6, 7, 8}}, torch::kLong),
                                    torch::tensor({{0, 0, 1, 1}}, torch::kLong), nullptr, 10, 1,
                                    Attention::kMath);
  auto ctx_fused = prepare_attention(torch::tensor({{5, 6, 7, 8}}, torch::kLong),
                                     torch::tensor({{0, 0, 1, 1}}, torch::kLong), nullptr, 10, 1,
                                     Attention::kFused);
  ASSERT_TRUE(ctx_fused.fused);
  ASSERT_TRUE(ctx_fused.empty_rows.defined());
  EXPECT_TRUE(torch::equal(ctx_fused.empty_rows.flatten(),
                           torch::tensor({true, true, false, false})));
  auto q = torch::randn({1, 2, 4, 8});
  auto k = torch::randn({1, 2, 4, 8});
  auto v = torch::randn({1, 2, 4, 8});
  auto math = attend(q, k, v, ctx_math), fused = attend(q, k, v, ctx_fused);  // [1, 4, 16]
  EXPECT_TRUE(torch::allclose(fused, math, 0, 1e-5)) << (fused - math).abs().max().item<float>();
  auto mean = v.mean(2).flatten();  // [heads * dim]: the uniform weights of the empty rows
  EXPECT_TRUE(torch::allclose(fused[0][0], mean, 0, 1e-5));
}

#endif

}  // namespace
}  // namespace gdpo::model
