// GPT-2 and GPT-NeoX on tiny random models: Hugging Face folder export/import (single file and
// sharded), the KV-cached forward against the full one, padding invariance, autograd, Hugging Face
// names and layouts, and hand-computable cases (zeroed blocks, masked attention, rotary embedding).
#include "gdpo/model/causal_lm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/io/safetensors.hpp"
#include "gdpo/model/layers.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/model/model_source.hpp"
#include "support/test_support.hpp"
#include "model/model_fixture.hpp"

namespace gdpo::model {
namespace {

namespace fs = std::filesystem;

// fp32 agreement between mathematically identical computations with different shapes/orders.
constexpr double kTol = 1e-5;

using fixture::token_ids;

class FamilyTest : public ::testing::TestWithParam<std::string> {
 protected:
  CausalLMPtr model(uint64_t seed = 1) { return build_model(load_model_config(GetParam()), seed); }
};

INSTANTIATE_TEST_SUITE_P(Tiny, FamilyTest, ::testing::Values("tiny-gpt2", "tiny-neox"));

TEST_P(FamilyTest, ParameterCountMatchesTheConfig) {
  auto m = model();
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(n, m->config().parameter_count());
}

TEST_P(FamilyTest, ExportAndReimportGiveIdenticalLogits) {
  test::TempDir dir;
  test::write_file(dir.file("tok/vocab.json"), "{}");
  test::write_file(dir.file("tok/merges.txt"), "#version: 0.2\n");
  auto m = model();
  save_hf_model(*m, dir.file("hf"), dir.file("tok"));
  EXPECT_TRUE(fs::exists(dir.file("hf/vocab.json")));
  EXPECT_TRUE(fs::exists(dir.file("hf/merges.txt")));
  const std::string config = test::read_file(dir.file("hf/config.json"));
  EXPECT_NE(config.find(GetParam() == "tiny-gpt2" ? "\"GPT2LMHeadModel\"" : "\"GPTNeoXForCausalLM\""),
            std::string::npos);
  EXPECT_NE(config.find("\"torch_dtype\": \"float32\""), std::string::npos) << config;
  io::SafetensorsFile file(dir.file("hf/model.safetensors"));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_FALSE(file.contains("lm_head.weight"));  // GPT-2's head is tied; NeoX names it embed_out

  auto back = load_hf_model(dir.file("hf"));
  EXPECT_EQ(back->config(), m->config());
  auto ids = token_ids(2, 7);
  EXPECT_TRUE(torch::equal(back->logits(ids, torch::ones_like(ids)),
                           m->logits(ids, torch::ones_like(ids))));

  // A bf16 model says so, so that transformers loads it in bf16.
  auto half = load_hf_model(dir.file("hf"), torch::kBFloat16);
  save_hf_model(*half, dir.file("hf16"));
  const std::string config16 = test::read_file(dir.file("hf16/config.json"));
  EXPECT_NE(config16.find("\"torch_dtype\": \"bfloat16\""), std::string::npos) << config16;
}

TEST_P(FamilyTest, ShardedFolderLoadsTheSameAsOneFile) {
  test::TempDir dir;
  auto m = model();
  save_hf_model(*m, dir.file("hf"), "", /*max_shard_bytes=*/100000);
  ASSERT_TRUE(fs::exists(dir.file("hf/model.safetensors.index.json")));
  EXPECT_FALSE(fs::exists(dir.file("hf/model.safetensors")));
  EXPECT_GT(io::SafetensorsCheckpoint::open(dir.file("hf")).files().size(), 1u);
  auto sharded = load_hf_model(dir.file("hf"));
  save_hf_model(*m, dir.file("hf"));  // back to one file: the shards and index are removed
  EXPECT_FALSE(fs::exists(dir.file("hf/model.safetensors.index.json")));
  auto single = load_hf_model(dir.file("hf"));
  auto ids = token_ids(1, 9);
  EXPECT_TRUE(torch::equal(sharded->logits(ids, {}), single->logits(ids, {})));
}

TEST_P(FamilyTest, SameSeedSameWeightsOtherSeedOtherWeights) {
  auto a = model(5), b = model(5), c = model(6);
  auto ids = token_ids(1, 4);
  EXPECT_TRUE(torch::equal(a->logits(ids, {}), b->logits(ids, {})));
  EXPECT_FALSE(torch::equal(a->logits(ids, {}), c->logits(ids, {})));
}

// A left-padded batch: row 0 has 2 padding tokens, row 1 none.
torch::Tensor left_padded_mask() {
  return torch::tensor({{0, 0, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1}}, torch::kLong);
}

TEST_P(FamilyTest, KvCacheTokenByTokenAndInChunksMatchesTheFullForward) {
  auto m = model();
  torch::NoGradGuard no_grad;
  auto ids = token_ids(2, 8);
  auto mask = left_padded_mask();
  auto full = m->logits(ids, mask);
  auto real = mask.to(torch::kBool);
  for (int64_t chunk : {1, 3}) {
    KVCache cache;
    std::vector<torch::Tensor> parts;
    for (int64_t t = 0; t < 8; t += chunk) {
      const int64_t n = std::min<int64_t>(chunk, 8 - t);
      parts.push_back(m->logits(ids.narrow(1, t, n), mask.narrow(1, t, n), &cache));
    }
    EXPECT_EQ(cache.length(), 8);
    auto cached = torch::cat(parts, 1);
    EXPECT_TRUE(torch::allclose(cached.index({real}), full.index({real}), 0, kTol))
        << "chunk " << chunk << " max diff "
        << (cached.index({real}) - full.index({real})).abs().max().item<float>();
  }
}

TEST_P(FamilyTest, LeftRightAndNoPaddingGiveTheSameLogitsForRealTokens) {
  auto m = model();
  torch::NoGradGuard no_grad;
  auto a = token_ids(1, 5), b = token_ids(1, 3, 100);
  auto alone_a = m->logits(a, torch::ones_like(a))[0];  // [5, vocab]
  auto alone_b = m->logits(b, torch::ones_like(b))[0];  // [3, vocab]
  const int64_t pad = 256;
  auto pads = torch::full({1, 2}, pad, torch::kLong);
  auto right_ids = torch::cat({a, torch::cat({b, pads}, 1)}, 0);
  auto right_mask = torch::tensor({{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}, torch::kLong);
  auto left_ids = torch::cat({a, torch::cat({pads, b}, 1)}, 0);
  auto left_mask = torch::tensor({{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}}, torch::kLong);
  auto right = m->logits(right_ids, right_mask);
  auto left = m->logits(left_ids, left_mask);
  EXPECT_TRUE(torch::allclose(right[0], alone_a, 0, kTol));
  EXPECT_TRUE(torch::allclose(left[0], alone_a, 0, kTol));
  EXPECT_TRUE(torch::allclose(right[1].narrow(0, 0, 3), alone_b, 0, kTol));
  EXPECT_TRUE(torch::allclose(left[1].narrow(0, 2, 3), alone_b, 0, kTol))
      << (left[1].narrow(0, 2, 3) - alone_b).abs().max().item<float>();
}

TEST_P(FamilyTest, AutogradReachesEveryParameter) {
  auto m = model();
  auto ids = token_ids(2, 6);
  auto h = m->hidden_states(ids, left_padded_mask().narrow(1, 2, 6));
  auto logp = torch::log_softmax(torch::matmul(h, m->output_weight().t()), -1);
  logp.gather(-1, ids.unsqueeze(-1)).sum().backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0) << p.key();
  }
}

TEST_P(FamilyTest, Bfloat16ForwardIsCloseToFloat32) {
  auto f32 = model(3);
  auto bf16 = build_model(load_model_config(GetParam()), 3, torch::kBFloat16);
  EXPECT_EQ(bf16->output_weight().scalar_type(), torch::kBFloat16);
  torch::NoGradGuard no_grad;
  auto ids = token_ids(2, 6);
  auto diff = (bf16->logits(ids, {}).to(torch::kFloat) - f32->logits(ids, {})).abs().max();
  EXPECT_LT(diff.item<float>(), 0.05);
}

TEST_P(FamilyTest, LoadRejectsMissingMisshapenAndUnexpectedTensors) {
  test::TempDir dir;
  auto m = model();
  save_hf_model(*m, dir.file("hf"));
  auto tensors = m->hf_state_dict();
  const std::string victim = tensors[3].first;
  auto expect_error = [&](const io::NamedTensors& t, const std::string& needle) {
    io::write_safetensors(dir.file("hf/model.safetensors"), t);
    try {
      load_hf_model(dir.file("hf"));
      ADD_FAILURE() << "loaded a bad checkpoint; expected: " << needle;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
    }
  };
  auto missing = tensors;
  missing.erase(missing.begin() + 3);
  expect_error(missing, "lacks tensor '" + victim + "'");
  auto misshapen = tensors;
  misshapen[3].second = torch::zeros({3});
  expect_error(misshapen, "'" + victim + "' has shape [3]");
  auto extra = tensors;
  extra.emplace_back("mystery.weight", torch::zeros({2}));
  expect_error(extra, "unexpected tensor 'mystery.weight'");
}

TEST(Gpt2, HuggingFaceNamesAndConv1DLayout) {
  auto m = build_model(load_model_config("tiny-gpt2"), 1);
  auto sd = m->hf_state_dict();
  ASSERT_EQ(sd.size(), 2u + 2 * 12 + 2);  // wte, wpe, 12 per block, ln_f; lm_head tied
  EXPECT_EQ(sd[0].first, "transformer.wte.weight");
  EXPECT_EQ(sd[0].second.sizes(), (std::vector<int64_t>{257, 64}));
  std::map<std::string, torch::Tensor> by_name(sd.begin(), sd.end());
  EXPECT_EQ(by_name.at("transformer.h.0.attn.c_attn.weight").sizes(),
            (std::vector<int64_t>{64, 192}));  // Conv1D: [in, out]
  EXPECT_EQ(by_name.at("transformer.h.1.mlp.c_proj.weight").sizes(),
            (std::vector<int64_t>{256, 64}));
  EXPECT_EQ(by_name.at("transformer.ln_f.bias").sizes(), (std::vector<int64_t>{64}));
  EXPECT_TRUE(m->output_weight().is_same(by_name.at("transformer.wte.weight")));
  // GPT-2's init: residual projections have std 0.02 / sqrt(2 * n_layers) = 0.01.
  EXPECT_NEAR(by_name.at("transformer.h.0.mlp.c_proj.weight").std().item<float>(), 0.01, 0.001);
  EXPECT_NEAR(by_name.at("transformer.h.0.mlp.c_fc.weight").std().item<float>(), 0.02, 0.002);
}

TEST(Gpt2, LoadsOriginalCheckpointNamesWithoutTransformerPrefix) {
  test::TempDir dir;
  auto m = build_model(load_model_config("tiny-gpt2"), 1);
  save_hf_model(*m, dir.file("hf"));
  io::NamedTensors old_style;
  for (const auto& [name, t] : m->hf_state_dict())
    old_style.emplace_back(name.substr(std::string("transformer.").size()), t);
  old_style.emplace_back("h.0.attn.bias", torch::ones({1, 1, 4, 4}));  // an old buffer: skipped
  old_style.emplace_back("lm_head.weight", m->output_weight());          // tied: skipped
  io::write_safetensors(dir.file("hf/model.safetensors"), old_style);
  auto back = load_hf_model(dir.file("hf"));
  auto ids = token_ids(1, 5);
  EXPECT_TRUE(torch::equal(back->logits(ids, {}), m->logits(ids, {})));
}

TEST(GptNeox, HuggingFaceNamesAndLayouts) {
  auto m = build_model(load_model_config("tiny-neox"), 1);
  auto sd = m->hf_state_dict();
  ASSERT_EQ(sd.size(), 1u + 2 * 12 + 2 + 1);  // embed_in, 12 per layer, final norm, embed_out
  std::map<std::string, torch::Tensor> by_name(sd.begin(), sd.end());
  EXPECT_EQ(by_name.at("gpt_neox.embed_in.weight").sizes(), (std::vector<int64_t>{257, 64}));
  EXPECT_EQ(by_name.at("gpt_neox.layers.0.attention.query_key_value.weight").sizes(),
            (std::vector<int64_t>{192, 64}));  // Linear: [out, in]
  EXPECT_EQ(by_name.at("gpt_neox.layers.1.mlp.dense_4h_to_h.weight").sizes(),
            (std::vector<int64_t>{64, 256}));
  EXPECT_EQ(by_name.at("gpt_neox.final_layer_norm.weight").sizes(), (std::vector<int64_t>{64}));
  EXPECT_TRUE(m->output_weight().is_same(by_name.at("embed_out.weight")));
}

// A 1-layer GPT-2 whose blocks are all zero (layer norms at identity) passes each embedding
// through unchanged: logits = LayerNorm(wte[id]) . wte. With wte rows e0, e1, 2 e2 in 4 dims,
// LayerNorm(e0) = (sqrt 3, -1/sqrt 3, -1/sqrt 3, -1/sqrt 3) and LayerNorm(2 e2) = (-1/sqrt 3,
// -1/sqrt 3, sqrt 3, -1/sqrt 3).
TEST(Gpt2, ZeroedBlocksGiveHandComputedLogits) {
  ModelConfig c;
  c.family = Family::kGpt2;
  c.vocab_size = 3;
  c.max_positions = 4;
  c.hidden_size = 4;
  c.n_layers = 1;
  c.n_heads = 2;
  c.intermediate_size = 8;
  c.eos_token_id = c.bos_token_id = 2;
  auto m = make_model(c);  // zeros, layer norms (1, 0)
  {
    torch::NoGradGuard no_grad;
    m->output_weight().copy_(torch::tensor({{1.f, 0.f, 0.f, 0.f}, {0.f, 1.f, 0.f, 0.f}, {0.f, 0.f, 2.f, 0.f}}));
  }
  auto logits = m->logits(torch::tensor({{0, 2}}, torch::kLong), {});
  const float s = std::sqrt(3.0f);
  auto expected = torch::tensor({{{s, -1 / s, -2 / s}, {-1 / s, -1 / s, 2 * s}}});
  EXPECT_TRUE(torch::allclose(logits, expected, 0, 1e-4)) << logits;
}

// With q = 0 every allowed key gets the same weight: the output at each real position is the mean of
// the values of the real positions up to it. Row [pad, a, b] has positions [0, 0, 1].
TEST(Attention, MaskedUniformAttentionByHand) {
  auto ctx = prepare_attention(torch::tensor({{5, 6, 7}}, torch::kLong),
                               torch::tensor({{0, 1, 1}}, torch::kLong), nullptr, 10, 1);
  EXPECT_TRUE(torch::equal(ctx.positions, torch::tensor({{0, 0, 1}}, torch::kLong)));
  auto q = torch::zeros({1, 1, 3, 2});
  auto k = torch::randn({1, 1, 3, 2});
  auto v = torch::tensor({{1.f, 0.f}, {3.f, 0.f}, {5.f, 6.f}}).view({1, 1, 3, 2});
  auto out = attend(q, k, v, ctx.bias);  // [1, 3, 2]
  EXPECT_TRUE(torch::allclose(out[0][1], torch::tensor({3.f, 0.f})));
  EXPECT_TRUE(torch::allclose(out[0][2], torch::tensor({4.f, 3.f})));
}

// Rotary embedding on x = (1..8), head_dim 8, rotary_dim 4, base 10000, position p: frequencies
// (1, 1/100); pairs (x0, x2) and (x1, x3) rotate by p and p/100; x4..x7 pass through.
TEST(Attention, RotaryEmbeddingOfAKnownVector) {
  const double p = 2;
  auto [cos, sin] = rotary_tables(torch::tensor({{int64_t(p)}}), 4, 10000, torch::kFloat);
  auto x = torch::arange(1, 9, torch::kFloat).view({1, 1, 1, 8});
  auto out = apply_rotary(x, cos, sin).flatten();
  auto expected = torch::tensor({float(1 * std::cos(p) - 3 * std::sin(p)),
                                 float(2 * std::cos(p / 100) - 4 * std::sin(p / 100)),
                                 float(3 * std::cos(p) + 1 * std::sin(p)),
                                 float(4 * std::cos(p / 100) + 2 * std::sin(p / 100)), 5.f, 6.f,
                                 7.f, 8.f});
  EXPECT_TRUE(torch::allclose(out, expected, 0, 1e-5)) << out;
}

TEST(Model, InputErrors) {
  auto m = build_model(load_model_config("tiny-gpt2"), 1);
  EXPECT_THROW(m->logits(torch::tensor({{1, 257}}, torch::kLong), {}), InputError);
  EXPECT_THROW(m->logits(torch::tensor({1, 2}, torch::kLong), {}), InputError);
  EXPECT_THROW(m->logits(token_ids(1, 3), torch::ones({1, 4}, torch::kLong)), InputError);
  EXPECT_THROW(m->logits(token_ids(1, 257), {}), InputError);  // 256 positions
}

}  // namespace
}  // namespace gdpo::model
