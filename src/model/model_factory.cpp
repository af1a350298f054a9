#include "gdpo/model/model_factory.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/io/atomic_file.hpp"
#include "gdpo/model/gpt2.hpp"
#include "gdpo/model/gpt_neox.hpp"

namespace gdpo::model {

namespace fs = std::filesystem;

torch::ScalarType parse_dtype(const std::string& name, const std::string& where) {
  if (name == "float32" || name == "fp32" || name == "float") return torch::kFloat;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  GDPO_THROW(UsageError, where << ": unsupported model dtype '" << name
                               << "' (float32 or bfloat16)");
}

std::string dtype_name(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kHalf: return "float16";
    case torch::kDouble: return "float64";
    default: return c10::toString(dtype);
  }
}

CausalLMPtr make_model(const ModelConfig& config) {
  if (config.family == Family::kGpt2) return std::make_shared<Gpt2Model>(config);
  return std::make_shared<GptNeoxModel>(config);
}

CausalLMPtr build_model(const ModelConfig& config, uint64_t seed, torch::ScalarType dtype) {
  CausalLMPtr model = make_model(config);
  if (auto* g = dynamic_cast<Gpt2Model*>(model.get())) g->init_weights(seed);
  if (auto* n = dynamic_cast<GptNeoxModel*>(model.get())) n->init_weights(seed);
  model->to(dtype);
  return model;
}

bool is_hf_model_folder(const std::string& path) {
  return fs::is_directory(path) && fs::is_regular_file(fs::path(path) / "config.json");
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The model's name for a checkpoint tensor, or "" for buffers HF saved that are not parameters.
std::string canonical_name(const ModelConfig& config, const std::string& name) {
  for (const char* buffer : {".attn.bias", ".attn.masked_bias", ".attention.bias",
                             ".attention.masked_bias", ".rotary_emb.inv_freq"})
    if (ends_with(name, buffer)) return "";
  if (config.family == Family::kGpt2) {
    if (name == "lm_head.weight" && config.tie_word_embeddings) return "";  // tied to wte
    if (name.rfind("transformer.", 0) != 0 && name.rfind("lm_head.", 0) != 0)
      return "transformer." + name;  // the original gpt2 checkpoints' names
  }
  return name;
}

}  // namespace

void load_checkpoint_into(CausalLM& model, const io::SafetensorsCheckpoint& checkpoint) {
  std::map<std::string, std::string> source;  // model name -> checkpoint name
  for (const auto& name : checkpoint.names()) {
    std::string canonical = canonical_name(model.config(), name);
    if (canonical.empty()) continue;
    if (!source.emplace(canonical, name).second)
      GDPO_THROW(InputError, "checkpoint '" << checkpoint.path() << "': tensors '" << name
                                            << "' and '" << source[canonical]
                                            << "' are the same parameter");
  }
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    auto it = source.find(item.key());
    if (it == source.end())
      GDPO_THROW(InputError, "checkpoint '" << checkpoint.path() << "' lacks tensor '" << item.key()
                                            << "' of the " << family_name(model.config().family)
                                            << " model");
    const io::SafetensorsEntry& e = checkpoint.entry(it->second);
    if (e.shape != item.value().sizes().vec()) {
      std::ostringstream os;
      os << "checkpoint '" << checkpoint.file_of(it->second).path() << "', tensor '" << it->second
         << "' has shape " << torch::IntArrayRef(e.shape) << " but the model config expects "
         << item.value().sizes();
      throw InputError(os.str());
    }
    item.value().copy_(checkpoint.tensor(it->second));
    used.insert(item.key());
  }
  for (const auto& [canonical, name] : source)
    if (!used.count(canonical))
      GDPO_THROW(InputError, "checkpoint '" << checkpoint.file_of(name).path()
                                            << "' has unexpected tensor '" << name << "' (not a "
                                            << family_name(model.config().family)
                                            << " parameter for this config)");
}

CausalLMPtr load_hf_model(const std::string& dir, torch::ScalarType dtype) {
  if (!is_hf_model_folder(dir))
    GDPO_THROW(InputError, "'" << dir << "' is not a model folder (no config.json)");
  ModelConfig config = read_hf_config((fs::path(dir) / "config.json").string());
  config.name = dir;
  io::SafetensorsCheckpoint checkpoint = io::SafetensorsCheckpoint::open(dir);
  CausalLMPtr model = make_model(config);
  model->to(dtype);
  load_checkpoint_into(*model, checkpoint);
  return model;
}

void save_hf_model(const CausalLM& model, const std::string& dir,
                   const std::string& tokenizer_source, uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  io::write_file_atomic((fs::path(dir) / "config.json").string(), hf_config_json(model.config()));
  std::vector<std::string> written = io::write_safetensors_sharded(
      dir, model.hf_state_dict(), {{"format", "pt"}}, max_shard_bytes, "model");
  // Weight files of the other layout would shadow (or contradict) the ones just written.
  std::set<std::string> keep;
  for (const auto& w : written) keep.insert(fs::path(w).filename().string());
  static const std::regex weights(R"(model(-\d+-of-\d+)?\.safetensors(\.index\.json)?)");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, weights) && !keep.count(name)) fs::remove(entry.path());
  }

  if (tokenizer_source.empty()) return;
  std::vector<fs::path> files;
  if (fs::is_directory(tokenizer_source)) {
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                             "vocab.json", "merges.txt", "added_tokens.json"})
      if (fs::is_regular_file(fs::path(tokenizer_source) / name))
        files.push_back(fs::path(tokenizer_source) / name);
  } else if (fs::is_regular_file(tokenizer_source)) {
    files.push_back(tokenizer_source);
  } else {
    GDPO_THROW(UsageError, "tokenizer source '" << tokenizer_source << "' does not exist");
  }
  for (const auto& f : files) {
    if (fs::exists(fs::path(dir) / f.filename()) &&
        fs::equivalent(f, fs::path(dir) / f.filename()))
      continue;
    std::ifstream in(f, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    GDPO_CHECK(in.good() || in.eof(), "cannot read '" << f.string() << "'");
    io::write_file_atomic((fs::path(dir) / f.filename()).string(), bytes.str());
  }
}

}  // namespace gdpo::model
