// Model configs: Hugging Face config.json for both families, the shipped INI presets (parameter counts
// against the published ones), the search path, and errors naming the file and key.
#include "gdpo/model/model_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <map>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"

namespace gdpo::model {
namespace {

// openai-community/gpt2's config.json (abridged to the keys that matter).
const char* kGpt2Json = R"({
  "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
  "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
  "n_inner": null, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "vocab_size": 50257})";

// EleutherAI/pythia-70m's config.json.
const char* kPythiaJson = R"({
  "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0,
  "hidden_act": "gelu", "hidden_size": 512, "initializer_range": 0.02,
  "intermediate_size": 2048, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048,
  "model_type": "gpt_neox", "num_attention_heads": 8, "num_hidden_layers": 6, "rotary_emb_base": 10000,
  "rotary_pct": 0.25, "tie_word_embeddings": false, "torch_dtype": "float16",
  "transformers_version": "4.24.0", "use_cache": true, "use_parallel_residual": true,
  "vocab_size": 50304})";

TEST(ModelConfig, ParsesGpt2ConfigJson) {
  ModelConfig c = config_from_hf_json(kGpt2Json, "gpt2/config.json");
  EXPECT_EQ(c.family, Family::kGpt2);
  EXPECT_EQ(c.vocab_size, 50257);
  EXPECT_EQ(c.max_positions, 1024);
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.n_layers, 12);
  EXPECT_EQ(c.n_heads, 12);
  EXPECT_EQ(c.intermediate_size, 4 * 768);  // n_inner null
  EXPECT_EQ(c.activation, "gelu_new");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_id, 50256);
  EXPECT_EQ(c.parameter_count(), 124439808);  // GPT2LMHeadModel.num_parameters()
  EXPECT_EQ(c, load_model_config("gpt2"));
}

TEST(ModelConfig, ParsesPythiaConfigJson) {
  ModelConfig c = config_from_hf_json(kPythiaJson, "pythia-70m/config.json");
  EXPECT_EQ(c.family, Family::kGptNeox);
  EXPECT_EQ(c.vocab_size, 50304);
  EXPECT_EQ(c.hidden_size, 512);
  EXPECT_EQ(c.n_layers, 6);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.intermediate_size, 2048);
  EXPECT_DOUBLE_EQ(c.rotary_pct, 0.25);
  EXPECT_EQ(c.rotary_dim(), 16);  // int(64 * 0.25)
  EXPECT_DOUBLE_EQ(c.rotary_base, 10000);
  EXPECT_TRUE(c.use_parallel_residual);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.activation, "gelu");
  EXPECT_EQ(c.parameter_count(), 70426624);  // the Pythia paper's count for 70M
  EXPECT_EQ(c, load_model_config("pythia-70m"));
}

TEST(ModelConfig, WrittenConfigJsonReadsBack) {
  for (const char* name : {"tiny-gpt2", "tiny-neox", "pythia-1b", "gpt2-xl"}) {
    ModelConfig c = load_model_config(name);
    EXPECT_EQ(config_from_hf_json(hf_config_json(c), "written"), c) << name;
    EXPECT_EQ(config_from_hf_json(hf_config_json(c), "written").parameter_count(),
              c.parameter_count());
  }
}

TEST(ModelConfig, IniTextReadsBack) {
  test::TempDir dir;
  for (const char* name : {"tiny-gpt2", "tiny-neox"}) {
    ModelConfig c = load_model_config(name);
    test::write_file(dir.file("c.ini"), config_ini_text(c));
    EXPECT_EQ(read_config_ini(dir.file("c.ini")), c) << name;
  }
}

TEST(ModelConfig, PresetsHaveThePublishedSizes) {
  // Hugging Face num_parameters() of the published checkpoints (tied GPT-2 head counted once).
  const std::vector<std::pair<const char*, int64_t>> expected = {
      {"gpt2", 124439808},        {"gpt2-medium", 354823168}, {"gpt2-large", 774030080},
      {"gpt2-xl", 1557611200},    {"pythia-70m", 70426624},   {"pythia-160m", 162322944},
      {"pythia-410m", 405334016}, {"pythia-1b", 1011781632},  {"pythia-1.4b", 1414647808},
      {"pythia-2.8b", 2775208960}};
  for (const auto& [name, count] : expected)
    EXPECT_EQ(load_model_config(name).parameter_count(), count) << name;
  ModelConfig tiny = load_model_config("tiny-gpt2");
  EXPECT_EQ(tiny.vocab_size, 257);
  EXPECT_EQ(tiny.eos_token_id, 256);
  ModelConfig bench = load_model_config("bench-gpt2-4l");
  EXPECT_EQ(bench.vocab_size, 50257);
  EXPECT_EQ(bench.n_layers, 4);
  EXPECT_EQ(bench.hidden_size, 256);
}

TEST(ModelConfig, EnvironmentDirectoryComesFirst) {
  test::TempDir dir;
  test::write_file(dir.file("models/tiny-gpt2.ini"),
                   "[model]\nfamily = gpt2\nvocab-size = 11\nmax-positions = 8\nhidden-size = 8\n"
                   "layers = 1\nheads = 2\n");
  ::setenv("GDPO_CONFIG_DIR", dir.path().c_str(), 1);
  ModelConfig c = load_model_config("tiny-gpt2");
  ::unsetenv("GDPO_CONFIG_DIR");
  EXPECT_EQ(c.vocab_size, 11);
  EXPECT_EQ(c.intermediate_size, 32);  // 4 x hidden by default
  EXPECT_EQ(c.eos_token_id, 10);       // gpt2 default: the last id
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(load_model_config("tiny-gpt2").vocab_size, 257);  // back to the shipped one
}

std::string usage_error_of(const std::string& ini_text) {
  test::TempDir dir;
  test::write_file(dir.file("m.ini"), ini_text);
  try {
    read_config_ini(dir.file("m.ini"));
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("m.ini"), std::string::npos) << e.what();
    return e.what();
  }
  return "(no error)";
}

TEST(ModelConfig, IniErrorsNameFileAndKey) {
  const std::string base = "[model]\nfamily = gpt2\nvocab-size = 11\nmax-positions = 8\n";
  EXPECT_NE(usage_error_of(base + "hidden-size = 8\nlayers = 1\n").find("model.heads"),
            std::string::npos);
  EXPECT_NE(usage_error_of(base + "hidden-size = 8\nlayers = 1\nheads = 3\n").find("divisible"),
            std::string::npos);
  EXPECT_NE(usage_error_of(base + "hidden-size = 8\nlayers = 1\nheads = 2\nwidth = 3\n")
                .find("model.width"),
            std::string::npos);
  EXPECT_NE(usage_error_of("[model]\nfamily = llama\nvocab-size = 11\nmax-positions = 8\n"
                           "hidden-size = 8\nlayers = 1\nheads = 2\n")
                .find("llama"),
            std::string::npos);
}

// Mistakes in an INI file are UsageErrors that start with "<file>:<line>: " (here m.ini, whose
// lines 1-4 are `base`).
TEST(ModelConfig, IniErrorsNameFileLineAndKey) {
  const std::string base = "[model]\nfamily = gpt2\nvocab-size = 11\nmax-positions = 8\n";
  auto expect_error = [](const std::string& text, const std::string& at, const std::string& what) {
    const std::string message = usage_error_of(text);
    EXPECT_NE(message.find("m.ini:" + at + ": " + what), std::string::npos) << message;
  };
  // Line 8 is an unknown key; line 7 a bad number.
  expect_error(base + "hidden-size = 8\nlayers = 1\nheads = 2\nwidth = 3\n", "8",
               "unknown key 'model.width'");
  expect_error(base + "hidden-size = 8\nlayers = 1\nheads = two\n", "7",
               "model.heads: 'two' is not an integer");
  expect_error(base + "hidden-size = 8\nlayers = 1\nheads = 2\nlayer-norm-eps = 1e-5x\n", "8",
               "model.layer-norm-eps: '1e-5x' is not a number");
  expect_error(base + "hidden-size = 8\nlayers = 1\nheads = 2\ntie-word-embeddings = maybe\n",
               "8", "model.tie-word-embeddings: 'maybe' is not a boolean");
  // A missing key points at the [model] header (line 1).
  expect_error(base + "hidden-size = 8\nlayers = 1\n", "1",
               "[model] lacks the required key 'model.heads'");
  expect_error("[model]\nfamily = llama\nvocab-size = 11\nmax-positions = 8\nhidden-size = 8\n"
               "layers = 1\nheads = 2\n",
               "2", "unknown model family 'llama'");
  expect_error(base + "hidden-size = 8\nlayers = 1\nheads = 2\n\n[train]\nlr = 1\n", "9",
               "unknown section [train] (key 'lr')");
  expect_error("layers = 1\n" + base, "1", "key 'layers' outside a section");
  expect_error(base + "hidden-size = 8\nlayers = 1\nheads = 2\nlayers = 3\n", "8",
               "model.layers is given twice (first at line 6)");
  expect_error(base + "hidden-size 8\n", "5", "expected '[section]' or 'key = value'");
  EXPECT_NE(usage_error_of("# nothing\n").find("no [model] section"), std::string::npos);
}

TEST(ModelConfig, IniDefaultsAndBooleans) {
  test::TempDir dir;
  const std::string neox = "[model]\nfamily = gpt_neox\nvocab-size = 11\nmax-positions = 8\n"
                           "hidden-size = 16\nlayers = 1\nheads = 2\n";  // head_dim 8
  test::write_file(dir.file("a.ini"), neox);
  ModelConfig a = read_config_ini(dir.file("a.ini"));
  EXPECT_FALSE(a.tie_word_embeddings);  // gpt_neox default
  EXPECT_TRUE(a.use_parallel_residual);
  EXPECT_EQ(a.bos_token_id, 0);
  EXPECT_EQ(a.eos_token_id, 0);
  EXPECT_EQ(a.activation, "gelu");
  EXPECT_DOUBLE_EQ(a.rotary_pct, 0.25);
  test::write_file(dir.file("b.ini"), neox + "tie-word-embeddings = yes\nparallel-residual = 0\n"
                                             "bos-id = 3\nrotary-pct = 0.5\n");
  ModelConfig b = read_config_ini(dir.file("b.ini"));
  EXPECT_TRUE(b.tie_word_embeddings);
  EXPECT_FALSE(b.use_parallel_residual);
  EXPECT_EQ(b.bos_token_id, 3);
  EXPECT_EQ(b.eos_token_id, 0);
  EXPECT_DOUBLE_EQ(b.rotary_pct, 0.5);
}

TEST(ModelConfig, UnknownPresetListsWhereItLooked) {
  try {
    load_model_config("no-such-model");
    ADD_FAILURE();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-model"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(gdpo::model::config_search_dirs().back()), std::string::npos) << e.what();
  }
}

TEST(ModelConfig, HfJsonErrorsAreInputErrors) {
  EXPECT_THROW(config_from_hf_json("{", "c.json"), InputError);
  EXPECT_THROW(config_from_hf_json(R"({"model_type": "llama"})", "c.json"), InputError);
  EXPECT_THROW(config_from_hf_json(R"({"model_type": "gpt2", "n_embd": "big"})", "c.json"),
               InputError);
  EXPECT_THROW(config_from_hf_json(R"({"model_type": "gpt_neox", "vocab_size": 10})", "c.json"),
               InputError);  // hidden_size missing
  EXPECT_THROW(config_from_hf_json(R"({"model_type": "gpt2", "n_embd": 10, "n_head": 3})", "c.json"),
               InputError);  // not divisible
}

// A preset or INI config (random init, no files) is bounded like a config.json: each size past its
// bound, or not positive, is a UsageError naming the file and the key, before anything is
// allocated.
TEST(ModelConfig, IniSizesOutOfRangeNameTheKey) {
  const std::vector<std::pair<std::string, int64_t>> keys = {
      {"vocab-size", kMaxVocabSize},   {"max-positions", kMaxPositions},
      {"hidden-size", kMaxHiddenSize}, {"layers", kMaxLayers},
      {"heads", kMaxHiddenSize},       {"intermediate-size", kMaxIntermediateSize}};
  const std::map<std::string, std::string> base = {{"vocab-size", "11"},
                                                   {"max-positions", "8"},
                                                   {"hidden-size", "8"},
                                                   {"layers", "1"},
                                                   {"heads", "2"}};
  for (const auto& [key, max] : keys) {
    std::vector<int64_t> values = {max + 1, 2 * max, int64_t{1} << 40,
                                   std::numeric_limits<int64_t>::max()};
    if (key != "intermediate-size")  // (0 or less: the default, 4 x hidden-size)
      for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()})
        values.push_back(v);
    for (int64_t v : values) {
      auto fields = base;
      fields[key] = std::to_string(v);
      std::string text = "[model]\nfamily = gpt2\n";
      for (const auto& [k, value] : fields) text += k + " = " + value + "\n";
      const std::string message = usage_error_of(text);
      EXPECT_NE(message.find(key), std::string::npos) << key << " = " << v << ": " << message;
    }
  }
  // Each size within its bound, but together more parameters than gdpo accepts.
  const std::string message = usage_error_of(
      "[model]\nfamily = gpt_neox\nvocab-size = 4194304\nmax-positions = 8\nhidden-size = 65536\n"
      "layers = 2\nheads = 2\n");
  EXPECT_NE(message.find("parameters, more than"), std::string::npos) << message;
}

TEST(ModelConfig, HfJsonSizesOutOfRangeNameTheKey) {
  for (const std::string key : {"vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                                "n_inner", "bos_token_id", "eos_token_id"})
    for (const std::string value : {"0", "-1", "4194305000", "1099511627776", "9223372036854775807",
                                    "18446744073709551615"}) {
      const std::string text =
          std::string(R"({"model_type": "gpt2", ")") + key + "\": " + value + "}";
      try {
        config_from_hf_json(text, "dir/config.json");
        if (!((key == "bos_token_id" || key == "eos_token_id") && value == "0"))
          ADD_FAILURE() << key << " = " << value << " accepted";
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("dir/config.json"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      }
    }
  EXPECT_THROW(config_from_hf_json(R"({"model_type": "gpt2", "n_layer": 2, "n_layer": 3})", "c"),
               InputError);
}

}  // namespace
}  // namespace gdpo::model
