#include "gdpo/model/model_factory.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
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

namespace {

// Refuses a model whose float32 weights alone exceed this machine's memory: LibTorch would fail
// part-way through allocating them with an opaque message (or the kernel would kill the process).
void check_fits_in_memory(const ModelConfig& config) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return;
  const double memory = static_cast<double>(pages) * static_cast<double>(page);
  const double bytes = 4.0 * static_cast<double>(config.parameter_count());
  if (bytes > memory)
    GDPO_THROW(Error, "model '" << config.name << "' has " << config.parameter_count()
                                << " parameters, " << bytes / (1 << 30)
                                << " GiB in float32: more than this machine's "
                                << memory / (1 << 30) << " GiB of memory");
}

}  // namespace

CausalLMPtr make_model(const ModelConfig& config) {
  config.validate(config.name.empty() ? "model config" : config.name);
  check_fits_in_memory(config);
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

std::vector<ParameterSpec> expected_parameters(const ModelConfig& c) {
  const int64_t v = c.vocab_size, h = c.hidden_size, f = c.intermediate_size;
  std::vector<ParameterSpec> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), std::move(shape)});
  };
  // Registration order of gpt2.cpp / gpt_neox.cpp (Conv1D weights [in, out], Dense [out, in]).
  if (c.family == Family::kGpt2) {
    add("transformer.wte.weight", {v, h});
    add("transformer.wpe.weight", {c.max_positions, h});
    for (int64_t i = 0; i < c.n_layers; ++i) {
      const std::string b = "transformer.h." + std::to_string(i) + ".";
      add(b + "ln_1.weight", {h});
      add(b + "ln_1.bias", {h});
      add(b + "attn.c_attn.weight", {h, 3 * h});
      add(b + "attn.c_attn.bias", {3 * h});
      add(b + "attn.c_proj.weight", {h, h});
      add(b + "attn.c_proj.bias", {h});
      add(b + "ln_2.weight", {h});
      add(b + "ln_2.bias", {h});
      add(b + "mlp.c_fc.weight", {h, f});
      add(b + "mlp.c_fc.bias", {f});
      add(b + "mlp.c_proj.weight", {f, h});
      add(b + "mlp.c_proj.bias", {h});
    }
    add("transformer.ln_f.weight", {h});
    add("transformer.ln_f.bias", {h});
    if (!c.tie_word_embeddings) add("lm_head.weight", {v, h});
  } else {
    add("gpt_neox.embed_in.weight", {v, h});
    for (int64_t i = 0; i < c.n_layers; ++i) {
      const std::string b = "gpt_neox.layers." + std::to_string(i) + ".";
      add(b + "input_layernorm.weight", {h});
      add(b + "input_layernorm.bias", {h});
      add(b + "post_attention_layernorm.weight", {h});
      add(b + "post_attention_layernorm.bias", {h});
      add(b + "attention.query_key_value.weight", {3 * h, h});
      add(b + "attention.query_key_value.bias", {3 * h});
      add(b + "attention.dense.weight", {h, h});
      add(b + "attention.dense.bias", {h});
      add(b + "mlp.dense_h_to_4h.weight", {f, h});
      add(b + "mlp.dense_h_to_4h.bias", {f});
      add(b + "mlp.dense_4h_to_h.weight", {h, f});
      add(b + "mlp.dense_4h_to_h.bias", {h});
    }
    add("gpt_neox.final_layer_norm.weight", {h});
    add("gpt_neox.final_layer_norm.bias", {h});
    if (!c.tie_word_embeddings) add("embed_out.weight", {v, h});
  }
  return out;
}

bool is_hf_model_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::exists(fs::path(path) / "config.json", ec);
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The model's name for a checkpoint tensor, or nothing for the non-parameter buffers HF saves.
std::optional<std::string> canonical_name(const ModelConfig& config, const std::string& name) {
  for (const char* buffer : {".attn.bias", ".attn.masked_bias", ".attention.bias",
                             ".attention.masked_bias", ".rotary_emb.inv_freq"})
    if (ends_with(name, buffer)) return std::nullopt;
  if (config.family == Family::kGpt2) {
    if (name == "lm_head.weight" && config.tie_word_embeddings) return std::nullopt;  // tied to wte
    if (name.rfind("transformer.", 0) != 0 && name.rfind("lm_head.", 0) != 0)
      return "transformer." + name;  // the original gpt2 checkpoints' names
  }
  return name;
}

bool is_float_dtype(const std::string& dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16" || dtype == "F64";
}

// The checks of check_model_files between a config (from `config_where`) and a checkpoint's
// headers; returns (parameter, checkpoint tensor) in the model's order.
std::vector<std::pair<std::string, std::string>> match_checkpoint(
    const ModelConfig& config, const io::SafetensorsCheckpoint& checkpoint,
    const std::string& config_where) {
  // The size budget first: a config claiming a huge model is refused by arithmetic, not by
  // allocating it (the smallest float dtype a weight can have takes 2 bytes).
  const uint64_t parameters = static_cast<uint64_t>(config.parameter_count());
  if (2 * parameters > checkpoint.data_size())
    GDPO_THROW(InputError,
               config_where << " describes a model of " << parameters << " parameters (vocab "
                            << config.vocab_size << ", positions " << config.max_positions
                            << ", hidden " << config.hidden_size << ", layers " << config.n_layers
                            << ", intermediate " << config.intermediate_size << "), at least "
                            << 2 * parameters << " bytes of weights, but '" << checkpoint.path()
                            << "' holds only " << checkpoint.data_size() << " bytes");

  std::map<std::string, std::string> source;  // model name -> checkpoint name
  for (const auto& name : checkpoint.names()) {
    const std::optional<std::string> canonical = canonical_name(config, name);
    if (!canonical) continue;
    auto [it, fresh] = source.emplace(*canonical, name);
    if (!fresh)
      GDPO_THROW(InputError, "checkpoint '" << checkpoint.path() << "': tensors "
                                            << io::quoted_tensor_name(name) << " and "
                                            << io::quoted_tensor_name(it->second)
                                            << " are the same parameter");
  }
  std::vector<std::pair<std::string, std::string>> weights;
  std::set<std::string> expected;
  for (const ParameterSpec& p : expected_parameters(config)) {
    expected.insert(p.name);
    auto it = source.find(p.name);
    if (it == source.end())
      GDPO_THROW(InputError, "checkpoint '" << checkpoint.path() << "' lacks tensor '" << p.name
                                            << "' of the " << family_name(config.family)
                                            << " model of " << config_where);
    const io::SafetensorsEntry& e = checkpoint.entry(it->second);
    const std::string file = checkpoint.file_of(it->second).path();
    if (e.shape != p.shape) {
      std::ostringstream os;
      os << "checkpoint '" << file << "', tensor " << io::quoted_tensor_name(it->second)
         << " has shape " << torch::IntArrayRef(e.shape) << " but the model config expects "
         << torch::IntArrayRef(p.shape);
      throw InputError(os.str());
    }
    if (!is_float_dtype(e.dtype))
      GDPO_THROW(InputError, "checkpoint '" << file << "', tensor "
                                            << io::quoted_tensor_name(it->second) << " has dtype "
                                            << e.dtype
                                            << "; model weights must be floating point (F32, "
                                               "F16, BF16 or F64)");
    weights.emplace_back(p.name, it->second);
  }
  for (const auto& [canonical, name] : source)
    if (!expected.count(canonical))
      GDPO_THROW(InputError, "checkpoint '"
                                 << checkpoint.file_of(name).path() << "' has unexpected tensor "
                                 << io::quoted_tensor_name(name) << " (not a "
                                 << family_name(config.family) << " parameter for this config)");
  return weights;
}

// The checkpoint's tensor `name`, refused when any value is NaN or infinite.
torch::Tensor finite_weight(const io::SafetensorsCheckpoint& checkpoint, const std::string& name) {
  torch::Tensor t = checkpoint.tensor(name);
  if (t.numel() > 0 && t.is_floating_point()) {
    const torch::Tensor finite = torch::isfinite(t);
    if (!finite.all().item<bool>()) {
      const int64_t bad = t.numel() - finite.sum().item<int64_t>();
      const int64_t nan = torch::isnan(t).sum().item<int64_t>();
      GDPO_THROW(InputError, "checkpoint '" << checkpoint.file_of(name).path() << "', tensor "
                                            << io::quoted_tensor_name(name) << ": " << bad << " of "
                                            << t.numel() << " values are not finite (" << nan
                                            << " NaN, " << bad - nan << " infinite)");
    }
  }
  return t;
}

// Copies matched weights into `model` (whose parameters are expected_parameters(config)).
void copy_weights(CausalLM& model, const io::SafetensorsCheckpoint& checkpoint,
                  const std::vector<std::pair<std::string, std::string>>& weights) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> parameters;
  for (auto& item : model.named_parameters(/*recurse=*/true))
    parameters.emplace(item.key(), item.value());
  GDPO_CHECK(parameters.size() == weights.size(),
             "the model has " << parameters.size() << " parameters but expected_parameters "
                              << weights.size());
  for (const auto& [parameter, tensor] : weights) {
    auto it = parameters.find(parameter);
    GDPO_CHECK(it != parameters.end() &&
                   it->second.sizes().equals(torch::IntArrayRef(checkpoint.entry(tensor).shape)),
               "expected_parameters disagrees with the model about '" << parameter << "'");
    it->second.copy_(finite_weight(checkpoint, tensor));
  }
}

}  // namespace

void load_checkpoint_into(CausalLM& model, const io::SafetensorsCheckpoint& checkpoint) {
  const ModelConfig& config = model.config();
  const auto weights = match_checkpoint(
      config, checkpoint, "model config" + (config.name.empty() ? "" : " '" + config.name + "'"));
  copy_weights(model, checkpoint, weights);
}

ModelFiles check_model_files(const std::string& dir, bool scan_values) {
  if (!is_hf_model_folder(dir))
    GDPO_THROW(InputError, "'" << dir << "' is not a model folder (no config.json)");
  ModelFiles files;
  files.dir = dir;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  files.config = read_hf_config(config_path);
  files.config.name = dir;
  files.checkpoint = io::SafetensorsCheckpoint::open(dir);
  files.weights = match_checkpoint(files.config, files.checkpoint, "'" + config_path + "'");
  if (scan_values)
    for (const auto& [parameter, tensor] : files.weights) finite_weight(files.checkpoint, tensor);
  return files;
}

CausalLMPtr load_model_files(const ModelFiles& files, torch::ScalarType dtype) {
  CausalLMPtr model = make_model(files.config);
  model->to(dtype);
  copy_weights(*model, files.checkpoint, files.weights);
  return model;
}

CausalLMPtr load_hf_model(const std::string& dir, torch::ScalarType dtype) {
  return load_model_files(check_model_files(dir), dtype);
}

void save_hf_model(const CausalLM& model, const std::string& dir,
                   const std::string& tokenizer_source, uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  const auto tensors = model.hf_state_dict();
  GDPO_CHECK(!tensors.empty(), "a model without weights");
  const auto dtype = tensors.front().second.scalar_type();
  const std::string torch_dtype = dtype == torch::kBFloat16 ? "bfloat16"
                                  : dtype == torch::kFloat16 ? "float16"
                                  : dtype == torch::kFloat64 ? "float64"
                                                             : "float32";
  io::write_file_atomic((fs::path(dir) / "config.json").string(),
                        hf_config_json(model.config(), torch_dtype));
  std::vector<std::string> written = io::write_safetensors_sharded(
      dir, tensors, {{"format", "pt"}}, max_shard_bytes, "model");
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
