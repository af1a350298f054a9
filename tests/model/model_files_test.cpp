// Model folders from strangers: config.json is checked against the weight files' headers before the
// model is allocated, with generated variants of each class of bad folder (each tensor missing,
// misshapen, of an integer dtype or holding NaN/Inf; extra and duplicate tensors; config values
// scaled out of range or out of step with the files; FIFOs), each refused promptly with an
// InputError naming the file and the tensor or config.json and the key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <sstream>
#include <thread>
#include <typeinfo>

#include "gdpo/core/error.hpp"
#include "gdpo/io/safetensors.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "support/test_support.hpp"

namespace gdpo::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string in_quotes(const std::string& name) { return "'" + name + "'"; }

class ModelFolder : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model_ = build_model(load_model_config(GetParam()), 1);
    save_hf_model(*model_, folder());
    for (const auto& [name, t] : model_->hf_state_dict())
      tensors_.emplace_back(name, t.detach().clone());
    config_ = json::parse(test::read_file(config_path()));
  }

  bool gpt2() const { return GetParam() == "tiny-gpt2"; }
  std::string folder() const { return dir_.file("hf"); }
  std::string config_path() const { return folder() + "/config.json"; }
  std::string weights_path() const { return folder() + "/model.safetensors"; }
  void write_weights(const io::NamedTensors& tensors) const {
    io::write_safetensors(weights_path(), tensors);
  }
  void write_config(const json& config) const { test::write_file(config_path(), config.dump(2)); }
  void restore() const {
    write_weights(tensors_);
    write_config(config_);
  }

  // Loading the folder (load_hf_model, as train and eval do) and checking it with every weight
  // scanned (check_model_files, as inspect does) must both throw an InputError, promptly, with the
  // same message, naming each of `needles`; returns the message.
  std::string refusal(const std::string& variant, const std::vector<std::string>& needles) const {
    const auto start = std::chrono::steady_clock::now();
    std::string load_message, check_message;
    try {
      load_hf_model(folder());
      ADD_FAILURE() << variant << ": the folder loaded";
    } catch (const InputError& e) {
      load_message = e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << variant << ": " << typeid(e).name()
                    << " instead of InputError: " << e.what();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 10) << variant << ": the refusal took " << seconds << " s";
    try {
      check_model_files(folder(), /*scan_values=*/true);
      ADD_FAILURE() << variant << ": check_model_files accepted the folder";
    } catch (const InputError& e) {
      check_message = e.what();
    }
    EXPECT_EQ(check_message, load_message) << variant;
    for (const auto& needle : needles)
      EXPECT_NE(load_message.find(needle), std::string::npos)
          << variant << ": no '" << needle << "' in: " << load_message;
    return load_message;
  }

  test::TempDir dir_;
  CausalLMPtr model_;
  io::NamedTensors tensors_;
  json config_;
};

INSTANTIATE_TEST_SUITE_P(Tiny, ModelFolder, ::testing::Values("tiny-gpt2", "tiny-neox"));

TEST_P(ModelFolder, ExpectedParametersAreTheModelsParameters) {
  ModelConfig base = load_model_config(GetParam());
  std::vector<ModelConfig> configs(4, base);
  configs[1].tie_word_embeddings = !base.tie_word_embeddings;
  configs[2].n_layers = 3;
  configs[3].intermediate_size = 96;
  configs[3].max_positions = 40;
  for (const ModelConfig& c : configs) {
    auto m = make_model(c);
    const auto expected = expected_parameters(c);
    const auto actual = m->named_parameters(/*recurse=*/true);
    ASSERT_EQ(expected.size(), actual.size());
    int64_t total = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(expected[i].name, actual[i].key());
      EXPECT_EQ(expected[i].shape, actual[i].value().sizes().vec()) << expected[i].name;
      total += actual[i].value().numel();
    }
    EXPECT_EQ(total, c.parameter_count());
  }
}

TEST_P(ModelFolder, TheSavedFolderAndItsFloatVariantsLoad) {
  auto ids = torch::tensor({{3, 14, 15, 92, 65}}, torch::kLong);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(load_hf_model(folder())->logits(ids, {}), model_->logits(ids, {})));
  // Every floating dtype is accepted (converted to the model's dtype), and so are the buffers
  // Hugging Face saves beside the parameters, whatever their dtype.
  for (auto type : {torch::kFloat16, torch::kBFloat16, torch::kFloat64}) {
    io::NamedTensors converted;
    for (const auto& [name, t] : tensors_) converted.emplace_back(name, t.to(type));
    converted.emplace_back(
        gpt2() ? "transformer.h.0.attn.bias" : "gpt_neox.layers.0.attention.bias",
        torch::ones({1, 1, 4, 4}, torch::kBool));
    write_weights(converted);
    auto back = load_hf_model(folder());
    std::map<std::string, torch::Tensor> original(tensors_.begin(), tensors_.end());
    for (const auto& item : back->named_parameters())
      EXPECT_TRUE(torch::equal(item.value(), original.at(item.key()).to(type).to(torch::kFloat)))
          << item.key();
  }
}

TEST_P(ModelFolder, EachTensorMissingIsNamed) {
  for (size_t i = 0; i < tensors_.size(); ++i) {
    auto tensors = tensors_;
    tensors.erase(tensors.begin() + static_cast<std::ptrdiff_t>(i));
    write_weights(tensors);
    refusal("without " + tensors_[i].first,
            {"lacks tensor " + in_quotes(tensors_[i].first), "model.safetensors"});
  }
}

TEST_P(ModelFolder, ExtraTensorsAreNamed) {
  const std::string prefix = gpt2() ? "transformer.h." : "gpt_neox.layers.";
  const std::vector<std::pair<std::string, torch::Tensor>> extras = {
      {"mystery.weight", torch::zeros({2})},
      {prefix + "2.mlp.c_fc.weight", torch::zeros({64, 256})},
      {prefix + "99.ln_1.weight", torch::zeros({64})},
      {prefix + "0.attn.q_proj.weight", torch::zeros({64, 64})},
      {gpt2() ? "lm_head.bias" : "embed_out.bias", torch::zeros({257})},
      {"", torch::zeros({1})},
      {"transformer", torch::zeros({1})}};
  for (const auto& [name, t] : extras) {
    auto tensors = tensors_;
    tensors.emplace_back(name, t);
    write_weights(tensors);
    refusal("extra " + name, {"unexpected tensor " + in_quotes(name), "model.safetensors"});
  }
  // The same parameter under two names (GPT-2 accepts the original names without "transformer.").
  if (gpt2())
    for (size_t i = 0; i < tensors_.size(); i += 5) {
      auto tensors = tensors_;
      const std::string old_name = tensors_[i].first.substr(std::string("transformer.").size());
      tensors.emplace_back(old_name, tensors_[i].second);
      write_weights(tensors);
      refusal("alias " + old_name,
              {in_quotes(old_name), in_quotes(tensors_[i].first), "are the same parameter"});
    }
}

TEST_P(ModelFolder, EachTensorMisshapenIsNamed) {
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const torch::Tensor& t = tensors_[i].second;
    std::vector<torch::Tensor> variants = {torch::zeros({t.numel() + 1}), torch::zeros({}),
                                           torch::zeros({3})};
    auto grown = t.sizes().vec();
    grown[0] += 1;
    variants.push_back(torch::zeros(grown));
    if (t.dim() == 2) {
      variants.push_back(t.flatten());
      if (t.size(0) != t.size(1)) variants.push_back(t.t().contiguous());
    } else {
      variants.push_back(t.view({1, -1}));
    }
    for (const auto& v : variants) {
      auto tensors = tensors_;
      tensors[i].second = v;
      write_weights(tensors);
      std::ostringstream shape;
      shape << v.sizes();
      refusal(tensors_[i].first + " as " + shape.str(),
              {in_quotes(tensors_[i].first), "has shape " + shape.str(), "model.safetensors"});
    }
  }
}

TEST_P(ModelFolder, EachTensorOfAnIntegerOrBoolDtypeIsNamed) {
  for (size_t i = 0; i < tensors_.size(); ++i)
    for (auto type :
         {torch::kInt32, torch::kBool, torch::kInt64, torch::kUInt8, torch::kInt8, torch::kInt16}) {
      auto tensors = tensors_;
      tensors[i].second = torch::ones(tensors_[i].second.sizes(), type);
      write_weights(tensors);
      refusal(tensors_[i].first + " as " + io::safetensors_dtype(type),
              {in_quotes(tensors_[i].first), "has dtype " + io::safetensors_dtype(type),
               "model.safetensors"});
    }
}

TEST_P(ModelFolder, NonFiniteValuesInEachTensorAreCounted) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const int64_t n = tensors_[i].second.numel();
    // (positions, values): the message counts them.
    const std::vector<std::pair<std::vector<int64_t>, std::vector<float>>> injections = {
        {{0}, {nan}}, {{n - 1}, {inf}}, {{n / 2}, {-inf}}, {{0, n / 2, n - 1}, {nan, -inf, nan}}};
    for (const auto& [positions, values] : injections)
      for (auto type : {torch::kFloat32, torch::kBFloat16}) {
        if (type == torch::kBFloat16 && i % 7 != 0) continue;  // a sample of the tensors
        auto tensors = tensors_;
        torch::Tensor t = tensors_[i].second.clone().to(type);
        for (size_t k = 0; k < positions.size(); ++k) t.view(-1)[positions[k]].fill_(values[k]);
        tensors[i].second = t;
        write_weights(tensors);
        int64_t nans = 0;
        for (float v : values) nans += std::isnan(v) ? 1 : 0;
        const std::string count = std::to_string(values.size()) + " of " + std::to_string(n) +
                                  " values are not finite (" + std::to_string(nans) + " NaN, " +
                                  std::to_string(values.size() - nans) + " infinite)";
        refusal(tensors_[i].first + ": " + count,
                {in_quotes(tensors_[i].first), count, "model.safetensors"});
      }
  }
}

TEST_P(ModelFolder, ATensorInTwoShardsIsRefused) {
  save_hf_model(*model_, folder(), "", /*max_shard_bytes=*/40000);
  const std::string index_path = folder() + "/model.safetensors.index.json";
  ASSERT_TRUE(fs::exists(index_path));
  const json index = json::parse(test::read_file(index_path));
  std::map<std::string, std::string> shard_of;  // tensor -> shard file name
  for (const auto& [name, shard] : index.at("weight_map").items())
    shard_of[name] = shard.get<std::string>();
  std::vector<std::string> shards;
  for (const auto& [name, shard] : shard_of)
    if (std::find(shards.begin(), shards.end(), shard) == shards.end()) shards.push_back(shard);
  ASSERT_GT(shards.size(), 2u);
  ASSERT_EQ(shard_of.size(), tensors_.size());
  std::map<std::string, torch::Tensor> by_name(tensors_.begin(), tensors_.end());
  auto shard_tensors = [&](const std::string& shard) {
    io::NamedTensors out;
    io::SafetensorsFile f(folder() + "/" + shard);
    for (const auto& e : f.entries()) out.emplace_back(e.name, f.tensor(e.name));
    return out;
  };
  for (const auto& [name, own] : shard_of) {
    // Another shard holds a copy of `name`.
    const std::string other = own == shards[0] ? shards[1] : shards[0];
    const io::NamedTensors original = shard_tensors(other);
    auto copy = original;
    copy.emplace_back(name, by_name.at(name));
    io::write_safetensors(folder() + "/" + other, copy);
    refusal(name + " also in " + other, {in_quotes(name), "two shards", other});
    io::write_safetensors(folder() + "/" + other, original);
  }
  EXPECT_NO_THROW(load_hf_model(folder()));
}

// JSON keys of each size in the family's config.json, with the bound gdpo puts on it.
std::vector<std::pair<std::string, int64_t>> size_keys(bool gpt2) {
  if (gpt2)
    return {{"vocab_size", kMaxVocabSize}, {"n_positions", kMaxPositions},
            {"n_embd", kMaxHiddenSize},    {"n_layer", kMaxLayers},
            {"n_head", kMaxHiddenSize},    {"n_inner", kMaxIntermediateSize}};
  return {{"vocab_size", kMaxVocabSize},           {"max_position_embeddings", kMaxPositions},
          {"hidden_size", kMaxHiddenSize},         {"num_hidden_layers", kMaxLayers},
          {"num_attention_heads", kMaxHiddenSize}, {"intermediate_size", kMaxIntermediateSize}};
}

TEST_P(ModelFolder, ConfigValuesOutOfRangeNameConfigJsonAndTheKey) {
  for (const auto& [key, max] : size_keys(gpt2())) {
    std::vector<json> values = {0,
                                -1,
                                std::numeric_limits<int64_t>::min(),
                                max + 1,
                                2 * max,
                                int64_t{2000000000},
                                int64_t{1} << 40,
                                std::numeric_limits<int64_t>::max()};
    for (const json& v : values) {
      json config = config_;
      config[key] = v;
      write_config(config);
      refusal(key + " = " + v.dump(), {"config.json", key});
    }
    // Not an integer at all.
    for (const json& v : {json(std::numeric_limits<uint64_t>::max()), json(2.5), json("64"),
                          json(true), json::array({64}), json::object()}) {
      json config = config_;
      config[key] = v;
      write_config(config);
      refusal(key + " = " + v.dump(), {"config.json", "\"" + key + "\""});
    }
  }
  // Heads that do not divide the width; token ids outside the vocabulary; a non-positive epsilon.
  const std::string heads = gpt2() ? "n_head" : "num_attention_heads";
  for (int64_t h : {3, 5, 7, 48, 63, 65, 128}) {
    json config = config_;
    config[heads] = h;
    write_config(config);
    refusal(heads + " = " + std::to_string(h), {"config.json", heads});
  }
  for (const std::string key : {"bos_token_id", "eos_token_id"})
    for (int64_t id : {int64_t{-1}, int64_t{257}, int64_t{1} << 40}) {
      json config = config_;
      config[key] = id;
      write_config(config);
      refusal(key + " = " + std::to_string(id), {"config.json", key, "outside the vocabulary"});
    }
  const std::string eps = gpt2() ? "layer_norm_epsilon" : "layer_norm_eps";
  for (double e : {0.0, -1e-5}) {
    json config = config_;
    config[eps] = e;
    write_config(config);
    refusal(eps + " = " + std::to_string(e), {"config.json", eps});
  }
}

// Values within the bounds that the weight files contradict: refused from the headers (the size
// budget naming config.json, or a tensor of the wrong shape, missing or left over), promptly and
// without allocating the model they describe.
TEST_P(ModelFolder, ConfigValuesTheFilesContradictAreRefusedBeforeAllocating) {
  for (const auto& [key, max] : size_keys(gpt2())) {
    if (key == "n_head" || key == "num_attention_heads") continue;  // no tensor depends on it
    if (key == "max_position_embeddings") continue;                 // GPT-NeoX: informational only
    const int64_t original = config_[key].get<int64_t>();
    std::vector<int64_t> values = {original * 2, max, original + 1};
    if (key.find("layer") != std::string::npos) values = {1, 3, 100, max};
    for (int64_t v : values) {
      json config = config_;
      config[key] = v;
      write_config(config);
      const std::string msg = refusal(key + " = " + std::to_string(v), {});
      EXPECT_TRUE(msg.find("config.json") != std::string::npos ||
                  msg.find("model.safetensors") != std::string::npos)
          << msg;
    }
  }
  // The size budget names config.json: a vocabulary of 4M ids at this width needs 512 MiB of
  // weights, which a half-megabyte file cannot hold.
  json config = config_;
  config["vocab_size"] = kMaxVocabSize;
  write_config(config);
  refusal("vocab_size = max", {"config.json", "parameters", "bytes"});
}

TEST_P(ModelFolder, DuplicateConfigKeysAreRefused) {
  const std::string text = config_.dump();
  for (const auto& [key, value] : config_.items()) {
    // {"key": value, ...rest of the object including key...}
    const std::string duplicated = "{\"" + key + "\": " + value.dump() + "," + text.substr(1);
    test::write_file(config_path(), duplicated);
    refusal("duplicate " + key, {"config.json", "\"" + key + "\"", "appears twice"});
  }
}

// A FIFO's open() waits for a writer: every file of the folder is refused before it is opened.
TEST_P(ModelFolder, NonRegularFilesAreRefusedWithoutBlocking) {
  for (const std::string file : {"config.json", "model.safetensors"}) {
    const std::string path = folder() + "/" + file;
    fs::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    auto done = std::async(std::launch::async, [&] { return refusal("FIFO " + file, {path}); });
    if (done.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "loading a folder whose " << file << " is a FIFO blocked";
      for (int k = 0; k < 4; ++k) {  // release the blocked reader(s)
        const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
    EXPECT_NE(done.get().find("not a regular file"), std::string::npos);
    fs::remove(path);
    fs::create_directories(path);  // a folder in its place
    refusal("folder " + file, {path, "not a regular file"});
    fs::remove(path);
    restore();
  }
  EXPECT_NO_THROW(load_hf_model(folder()));
}

TEST_P(ModelFolder, AnOversizedConfigJsonIsRefused) {
  std::string text = config_.dump();
  text.insert(1, std::string(kMaxConfigJsonBytes, ' '));  // valid JSON, too big to be a config
  test::write_file(config_path(), text);
  refusal("a 16 MiB config.json", {"config.json", "bytes"});
}

// A config whose float32 weights exceed this machine's memory is refused before allocation (skipped
// on machines with more than 290 GB).
TEST(ModelMemory, AModelLargerThanMemoryIsRefusedBeforeAllocating) {
  ModelConfig c = load_model_config("tiny-gpt2");
  c.vocab_size = kMaxVocabSize;
  c.hidden_size = 16384;
  c.n_heads = 128;
  c.intermediate_size = 4 * c.hidden_size;
  c.n_layers = 1;
  c.max_positions = 1024;
  c.bos_token_id = c.eos_token_id = 0;
  c.name = "huge";
  ASSERT_LT(c.parameter_count(), kMaxParameters);
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE);
  if (4.0 * static_cast<double>(c.parameter_count()) <= memory)
    GTEST_SKIP() << "this machine has memory for " << c.parameter_count() << " float32 parameters";
  try {
    make_model(c);
    ADD_FAILURE() << "allocated a model larger than memory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("memory"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("huge"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gdpo::model
