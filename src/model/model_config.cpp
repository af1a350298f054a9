#include "gdpo/model/model_config.hpp"


#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/core/regular_file.hpp"
#include "gdpo/core/format.hpp"
#include "gdpo/io/ini_file.hpp"

namespace gdpo::model {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string family_name(Family family) { return family == Family::kGpt2 ? "gpt2" : "gpt_neox"; }

Family parse_family(const std::string& name, const std::string& where) {
  if (name == "gpt2") return Family::kGpt2;
  if (name == "gpt_neox" || name == "gpt-neox" || name == "pythia") return Family::kGptNeox;
  GDPO_THROW(UsageError, where << ": unknown model family '" << name
                               << "' (expected gpt2 or gpt_neox)");
}

int64_t ModelConfig::rotary_dim() const {
  return static_cast<int64_t>(static_cast<double>(head_dim()) * rotary_pct);
}

int64_t ModelConfig::parameter_count() const {
  const int64_t h = hidden_size, f = intermediate_size;
  const int64_t layer = 2 * 2 * h              // two layer norms
                        + h * 3 * h + 3 * h    // fused q, k, v
                        + h * h + h            // attention output
                        + h * f + f + f * h + h;  // MLP
  int64_t total = vocab_size * h + n_layers * layer + 2 * h;  // embeddings, layers, final norm
  if (family == Family::kGpt2) total += max_positions * h;
  if (!tie_word_embeddings) total += vocab_size * h;
  return total;
}

namespace {

// What each value is called in the file it came from, for messages.
struct KeyNames {
  const char *vocab, *positions, *hidden, *layers, *heads, *intermediate, *eps, *rotary_pct,
      *rotary_base, *bos, *eos, *activation;
};
const KeyNames kIniKeys = {
    "vocab-size",     "max-positions", "hidden-size", "layers", "heads",  "intermediate-size",
    "layer-norm-eps", "rotary-pct",    "rotary-base", "bos-id", "eos-id", "activation"};
const KeyNames kGpt2JsonKeys = {
    "vocab_size",   "n_positions",        "n_embd",     "n_layer",         "n_head",
    "n_inner",      "layer_norm_epsilon", "rotary_pct", "rotary_emb_base", "bos_token_id",
    "eos_token_id", "activation_function"};
const KeyNames kNeoxJsonKeys = {"vocab_size",          "max_position_embeddings",
                                "hidden_size",         "num_hidden_layers",
                                "num_attention_heads", "intermediate_size",
                                "layer_norm_eps",      "rotary_pct",
                                "rotary_emb_base",     "bos_token_id",
                                "eos_token_id",        "hidden_act"};

// ModelConfig::validate with the keys named as in the source file; UsageError.
void check_config(const ModelConfig& c, const std::string& where, const KeyNames& k) {
  auto in_range = [&](int64_t v, const char* key, int64_t max) {
    if (v <= 0) GDPO_THROW(UsageError, where << ": " << key << " must be positive, got " << v);
    if (v > max)
      GDPO_THROW(UsageError, where << ": " << key << " = " << v << " is more than the " << max
                                   << " gdpo accepts");
  };
  // Each bound before anything is computed from the values (so nothing below can overflow).
  in_range(c.vocab_size, k.vocab, kMaxVocabSize);
  in_range(c.max_positions, k.positions, kMaxPositions);
  in_range(c.hidden_size, k.hidden, kMaxHiddenSize);
  in_range(c.n_layers, k.layers, kMaxLayers);
  in_range(c.n_heads, k.heads, kMaxHiddenSize);
  in_range(c.intermediate_size, k.intermediate, kMaxIntermediateSize);
  if (c.hidden_size % c.n_heads != 0)
    GDPO_THROW(UsageError, where << ": " << k.hidden << " " << c.hidden_size
                                 << " is not divisible by " << k.heads << " " << c.n_heads);
  if (!(c.layer_norm_eps > 0) || !std::isfinite(c.layer_norm_eps))
    GDPO_THROW(UsageError, where << ": " << k.eps << " must be positive, got " << c.layer_norm_eps);
  if (c.family == Family::kGptNeox) {
    if (!(c.rotary_pct >= 0 && c.rotary_pct <= 1))
      GDPO_THROW(UsageError,
                 where << ": " << k.rotary_pct << " must be in [0, 1], got " << c.rotary_pct);
    if (c.rotary_dim() % 2 != 0)
      GDPO_THROW(UsageError, where << ": the rotary dimension int(head_dim * " << k.rotary_pct
                                   << ") = " << c.rotary_dim() << " must be even");
    if (!(c.rotary_base > 0) || !std::isfinite(c.rotary_base))
      GDPO_THROW(UsageError,
                 where << ": " << k.rotary_base << " must be positive, got " << c.rotary_base);
  }
  for (auto [id, key] : {std::pair{c.bos_token_id, k.bos}, std::pair{c.eos_token_id, k.eos}})
    if (id < 0 || id >= c.vocab_size)
      GDPO_THROW(UsageError, where << ": " << key << " " << id << " is outside the vocabulary of "
                                   << c.vocab_size);
  static const std::set<std::string> activations = {"gelu", "gelu_new", "gelu_pytorch_tanh",
                                                    "gelu_fast", "relu"};
  if (!activations.count(c.activation))
    GDPO_THROW(UsageError, where << ": unsupported " << k.activation << " '" << c.activation
                                 << "' (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
  if (c.parameter_count() > kMaxParameters)
    GDPO_THROW(UsageError, where << ": " << k.vocab << " " << c.vocab_size << ", " << k.hidden
                                 << " " << c.hidden_size << ", " << k.layers << " " << c.n_layers
                                 << ", " << k.intermediate << " " << c.intermediate_size << " make "
                                 << c.parameter_count() << " parameters, more than the "
                                 << kMaxParameters << " gdpo accepts");
}

// 4 x hidden (the default MLP width), or 0 when hidden is out of range (check_config refuses it).
int64_t default_intermediate(int64_t hidden) {
  return hidden > 0 && hidden <= kMaxHiddenSize ? 4 * hidden : 0;
}

}  // namespace

void ModelConfig::validate(const std::string& where) const { check_config(*this, where, kIniKeys); }

bool operator==(const ModelConfig& a, const ModelConfig& b) {
  return a.family == b.family && a.vocab_size == b.vocab_size &&
         a.max_positions == b.max_positions && a.hidden_size == b.hidden_size &&
         a.n_layers == b.n_layers && a.n_heads == b.n_heads &&
         a.intermediate_size == b.intermediate_size && a.layer_norm_eps == b.layer_norm_eps &&
         (a.family == Family::kGpt2 ||
          (a.rotary_pct == b.rotary_pct && a.rotary_base == b.rotary_base &&
           a.use_parallel_residual == b.use_parallel_residual)) &&
         a.tie_word_embeddings == b.tie_word_embeddings && a.bos_token_id == b.bos_token_id &&
         a.eos_token_id == b.eos_token_id && a.activation == b.activation;
}

// ------------------------------------------------------------------------------------------------
// Hugging Face config.json

namespace {

// Reads config[key] (or the first present of several spellings) with type checks; InputError naming
// the file and key otherwise.
class JsonReader {
 public:
  JsonReader(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  const json* find(std::initializer_list<const char*> keys) const {
    for (const char* k : keys) {
      auto it = j_.find(k);
      if (it != j_.end() && !it->is_null()) return &*it;
    }
    return nullptr;
  }
  int64_t integer(std::initializer_list<const char*> keys, std::optional<int64_t> fallback) const {
    const json* v = find(keys);
    if (!v) return required(keys, fallback);
    if (!v->is_number_integer())
      GDPO_THROW(InputError, where_ << ": \"" << *keys.begin() << "\" must be an integer, got "
                                    << v->dump());
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX))
      GDPO_THROW(InputError,
                 where_ << ": \"" << *keys.begin() << "\" = " << v->dump() << " is too large");
    return v->get<int64_t>();
  }
  double number(std::initializer_list<const char*> keys, std::optional<double> fallback) const {
    const json* v = find(keys);
    if (!v) return required(keys, fallback);
    if (!v->is_number())
      GDPO_THROW(InputError, where_ << ": \"" << *keys.begin() << "\" must be a number, got "
                                    << v->dump());
    return v->get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    const json* v = find({key});
    if (!v) return fallback;
    if (!v->is_boolean())
      GDPO_THROW(InputError, where_ << ": \"" << key << "\" must be true or false, got "
                                    << v->dump());
    return v->get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    const json* v = find({key});
    if (!v) return fallback;
    if (!v->is_string())
      GDPO_THROW(InputError, where_ << ": \"" << key << "\" must be a string, got " << v->dump());
    return v->get<std::string>();
  }

 private:
  template <class T>
  T required(std::initializer_list<const char*> keys, std::optional<T> fallback) const {
    if (!fallback) GDPO_THROW(InputError, where_ << ": missing \"" << *keys.begin() << "\"");
    return *fallback;
  }
  const json& j_;
  std::string where_;
};

// A JSON document whose objects have no duplicate keys (nlohmann would keep the last silently).
json parse_json_unique_keys(const std::string& text, const std::string& where) {
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each open object
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second)
        GDPO_THROW(InputError, where << ": key \"" << key << "\" appears twice in one object");
    }
    return true;
  };
  try {
    return json::parse(text, callback);
  } catch (const json::exception& e) {
    GDPO_THROW(InputError, where << ": not valid JSON: " << e.what());
  }
}

}  // namespace

ModelConfig config_from_hf_json(const std::string& json_text, const std::string& where) {
  const json j = parse_json_unique_keys(json_text, where);
  if (!j.is_object()) GDPO_THROW(InputError, where << ": not a JSON object");
  JsonReader r(j, where);
  const std::string type = r.string("model_type", "");
  ModelConfig c;
  c.name = where;
  if (type == "gpt2") {
    c.family = Family::kGpt2;
    c.vocab_size = r.integer({"vocab_size"}, 50257);
    c.max_positions = r.integer({"n_positions", "n_ctx"}, 1024);
    c.hidden_size = r.integer({"n_embd"}, 768);
    c.n_layers = r.integer({"n_layer"}, 12);
    c.n_heads = r.integer({"n_head"}, 12);
    c.intermediate_size = r.integer({"n_inner"}, default_intermediate(c.hidden_size));
    c.layer_norm_eps = r.number({"layer_norm_epsilon"}, 1e-5);
    c.activation = r.string("activation_function", "gelu_new");
    c.tie_word_embeddings = r.boolean("tie_word_embeddings", true);
    c.bos_token_id = r.integer({"bos_token_id"}, 50256);
    c.eos_token_id = r.integer({"eos_token_id"}, 50256);
    if (!r.boolean("scale_attn_weights", true) ||
        r.boolean("scale_attn_by_inverse_layer_idx", false))
      GDPO_THROW(InputError, where << ": only GPT-2's default attention scaling 1/sqrt(head_dim) "
                                      "is supported");
  } else if (type == "gpt_neox") {
    c.family = Family::kGptNeox;
    const json* rope = r.find({"rope_parameters"});
    const json no_rope = json::object();
    const json& rope_obj = rope && rope->is_object() ? *rope : no_rope;
    JsonReader rr(rope_obj, where + " rope_parameters");
    c.vocab_size = r.integer({"vocab_size"}, std::nullopt);
    c.max_positions = r.integer({"max_position_embeddings"}, 2048);
    c.hidden_size = r.integer({"hidden_size"}, std::nullopt);
    c.n_layers = r.integer({"num_hidden_layers"}, std::nullopt);
    c.n_heads = r.integer({"num_attention_heads"}, std::nullopt);
    c.intermediate_size = r.integer({"intermediate_size"}, default_intermediate(c.hidden_size));
    c.layer_norm_eps = r.number({"layer_norm_eps"}, 1e-5);
    c.rotary_pct = r.number({"rotary_pct", "partial_rotary_factor"},
                            rr.number({"partial_rotary_factor"}, 0.25));
    c.rotary_base = r.number({"rotary_emb_base", "rope_theta"}, rr.number({"rope_theta"}, 10000.0));
    c.use_parallel_residual = r.boolean("use_parallel_residual", true);
    c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
    c.activation = r.string("hidden_act", "gelu");
    c.bos_token_id = r.integer({"bos_token_id"}, 0);
    c.eos_token_id = r.integer({"eos_token_id"}, 2);
    if (!r.boolean("attention_bias", true))
      GDPO_THROW(InputError, where << ": attention_bias = false is not supported");
    const json* scaling = r.find({"rope_scaling"});
    if (scaling && !scaling->empty())
      GDPO_THROW(InputError, where << ": rope_scaling is not supported");
    if (rope) {
      const std::string rope_type = rr.string("rope_type", "default");
      if (rope_type != "default")
        GDPO_THROW(InputError, where << ": rope_type '" << rope_type << "' is not supported");
    }
  } else {
    GDPO_THROW(InputError, where << ": model_type '" << type
                                 << "' is not supported (expected gpt2 or gpt_neox)");
  }
  try {
    check_config(c, where, c.family == Family::kGpt2 ? kGpt2JsonKeys : kNeoxJsonKeys);
  } catch (const UsageError& e) {
    throw InputError(e.what());
  }
  return c;
}

ModelConfig read_hf_config(const std::string& path) {
  const std::string where = "model config '" + path + "'";
  const std::string text = read_regular_file(path, where, kMaxConfigJsonBytes);
  return config_from_hf_json(text, path);
}

std::string hf_config_json(const ModelConfig& c, const std::string& torch_dtype) {
  json j;
  if (c.family == Family::kGpt2) {
    j = {{"architectures", {"GPT2LMHeadModel"}},
         {"model_type", "gpt2"},
         {"vocab_size", c.vocab_size},
         {"n_positions", c.max_positions},
         {"n_ctx", c.max_positions},
         {"n_embd", c.hidden_size},
         {"n_layer", c.n_layers},
         {"n_head", c.n_heads},
         {"n_inner", c.intermediate_size},
         {"activation_function", c.activation},
         {"layer_norm_epsilon", c.layer_norm_eps},
         {"resid_pdrop", 0.0},
         {"embd_pdrop", 0.0},
         {"attn_pdrop", 0.0},
         {"scale_attn_weights", true},
         {"initializer_range", 0.02}};
  } else {
    j = {{"architectures", {"GPTNeoXForCausalLM"}},
         {"model_type", "gpt_neox"},
         {"vocab_size", c.vocab_size},
         {"max_position_embeddings", c.max_positions},
         {"hidden_size", c.hidden_size},
         {"num_hidden_layers", c.n_layers},
         {"num_attention_heads", c.n_heads},
         {"intermediate_size", c.intermediate_size},
         {"hidden_act", c.activation},
         {"rotary_pct", c.rotary_pct},
         {"partial_rotary_factor", c.rotary_pct},
         {"rotary_emb_base", c.rotary_base},
         {"rope_theta", c.rotary_base},
         {"use_parallel_residual", c.use_parallel_residual},
         {"layer_norm_eps", c.layer_norm_eps},
         {"attention_bias", true},
         {"attention_dropout", 0.0},
         {"hidden_dropout", 0.0},
         {"initializer_range", 0.02}};
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  j["use_cache"] = true;
  j["torch_dtype"] = torch_dtype;
  return j.dump(2) + "\n";
}

// ------------------------------------------------------------------------------------------------
// gdpo INI files

namespace {

// The keys of [model]; the first six are required.
const std::vector<std::string>& ini_keys() {
  static const std::vector<std::string> keys = {
      "family",               // gpt2 | gpt_neox
      "vocab-size",           // vocabulary size
      "max-positions",        // maximum sequence length
      "hidden-size",          // model width
      "layers",               // transformer blocks
      "heads",                // attention heads
      "intermediate-size",    // MLP width (0: 4 x hidden-size)
      "layer-norm-eps",       // layer norm epsilon
      "rotary-pct",           // gpt_neox: rotated fraction of each head
      "rotary-base",          // gpt_neox: RoPE base
      "parallel-residual",    // gpt_neox: parallel attention + MLP
      "tie-word-embeddings",  // output = token embedding (default: gpt2 true, gpt_neox false)
      "bos-id",               // beginning-of-text id (default: gpt2 vocab-1, gpt_neox 0)
      "eos-id",               // end-of-text id (default: gpt2 vocab-1, gpt_neox 0)
      "activation"};          // gelu_new (gpt2 default) | gelu (gpt_neox default) | ...
  return keys;
}
constexpr size_t kRequiredIniKeys = 6;

std::string ini_key_list() {
  std::string list;
  for (const auto& k : ini_keys()) list += (list.empty() ? "" : ", ") + k;
  return list;
}

}  // namespace

ModelConfig read_config_ini(const std::string& path) {
  if (!fs::is_regular_file(path))
    GDPO_THROW(UsageError, "model config '" << path << "' does not exist");
  const std::string where = "model config '" + path + "'";
  ModelConfig c;
  // A model config is configuration, not input data: its mistakes are usage errors (exit code 2).
  try {
    const io::IniFile ini = io::IniFile::read(path);
    for (const auto& s : ini.sections()) {
      if (s.name.empty())
        GDPO_THROW(UsageError, ini.where(s.entries.front().line)
                                   << ": key '" << s.entries.front().key
                                   << "' outside a section (a model config has only [model])");
      if (s.name != "model")
        GDPO_THROW(UsageError, ini.where(s.line) << ": unknown section [" << s.name << "]"
                                                 << (s.entries.empty()
                                                         ? std::string()
                                                         : " (key '" + s.entries.front().key + "')")
                                                 << "; a model config has only [model]");
      for (const auto& e : s.entries)
        if (std::find(ini_keys().begin(), ini_keys().end(), e.key) == ini_keys().end())
          GDPO_THROW(UsageError, ini.where(e.line) << ": unknown key '" << e.name()
                                                   << "' (known: " << ini_key_list() << ")");
    }
    const io::IniSection* model = ini.section("model");
    if (!model)
      GDPO_THROW(UsageError, path << ": no [model] section (a model config needs model."
                                  << ini_keys()[0] << " and more)");
    for (size_t k = 0; k < kRequiredIniKeys; ++k)
      if (!model->find(ini_keys()[k]))
        GDPO_THROW(UsageError, ini.where(model->line) << ": [model] lacks the required key 'model."
                                                      << ini_keys()[k] << "'");

    auto integer = [&](const char* key, int64_t fallback) {
      const io::IniEntry* e = model->find(key);
      return e ? ini.integer(*e) : fallback;
    };
    auto number = [&](const char* key, double fallback) {
      const io::IniEntry* e = model->find(key);
      return e ? ini.number(*e) : fallback;
    };
    const io::IniEntry* family = model->find("family");
    c.family = parse_family(family->value, ini.where(family->line));
    const bool gpt2 = c.family == Family::kGpt2;
    c.vocab_size = integer("vocab-size", 0);
    c.max_positions = integer("max-positions", 0);
    c.hidden_size = integer("hidden-size", 0);
    c.n_layers = integer("layers", 0);
    c.n_heads = integer("heads", 0);
    const int64_t intermediate = integer("intermediate-size", 0);
    c.intermediate_size = intermediate > 0 ? intermediate : default_intermediate(c.hidden_size);
    c.layer_norm_eps = number("layer-norm-eps", c.layer_norm_eps);
    c.rotary_pct = number("rotary-pct", c.rotary_pct);
    c.rotary_base = number("rotary-base", c.rotary_base);
    if (const io::IniEntry* e = model->find("parallel-residual"))
      c.use_parallel_residual = ini.boolean(*e);
    const io::IniEntry* tie = model->find("tie-word-embeddings");
    c.tie_word_embeddings = tie ? ini.boolean(*tie) : gpt2;
    const int64_t bos = integer("bos-id", -1), eos = integer("eos-id", -1);
    const int64_t last_id = c.vocab_size > 0 ? c.vocab_size - 1 : 0;
    c.bos_token_id = bos >= 0 ? bos : (gpt2 ? last_id : 0);
    c.eos_token_id = eos >= 0 ? eos : (gpt2 ? last_id : 0);
    const io::IniEntry* activation = model->find("activation");
    c.activation = activation && !activation->value.empty() ? activation->value
                                                            : (gpt2 ? "gelu_new" : "gelu");
  } catch (const InputError& e) {
    throw UsageError(e.what());
  }
  c.name = path;
  c.validate(where);
  return c;
}

std::string config_ini_text(const ModelConfig& c) {
  std::ostringstream out;
  out.precision(17);
  out << "[model]\nfamily = " << family_name(c.family) << "\nvocab-size = " << c.vocab_size
      << "\nmax-positions = " << c.max_positions << "\nhidden-size = " << c.hidden_size
      << "\nlayers = " << c.n_layers << "\nheads = " << c.n_heads
      << "\nintermediate-size = " << c.intermediate_size
      << "\nlayer-norm-eps = " << shortest_text(c.layer_norm_eps);
  if (c.family == Family::kGptNeox)
    out << "\nrotary-pct = " << shortest_text(c.rotary_pct)
        << "\nrotary-base = " << shortest_text(c.rotary_base)
        << "\nparallel-residual = " << (c.use_parallel_residual ? "true" : "false");
  out << "\ntie-word-embeddings = " << (c.tie_word_embeddings ? "true" : "false")
      << "\nbos-id = " << c.bos_token_id << "\neos-id = " << c.eos_token_id
      << "\nactivation = " << c.activation << "\n";
  return out.str();
}

// ------------------------------------------------------------------------------------------------
// Finding presets

std::vector<std::string> config_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("GDPO_CONFIG_DIR"); env && *env) dirs.push_back(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path().parent_path() / "configs").string());
  dirs.push_back(GDPO_CONFIG_DIR);
  return dirs;
}

std::string find_config_file(const std::string& name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string::npos ||
                       (name_or_path.size() > 4 &&
                        name_or_path.substr(name_or_path.size() - 4) == ".ini");
  if (is_path) {
    if (!fs::is_regular_file(name_or_path))
      GDPO_THROW(UsageError, "model config '" << name_or_path << "' does not exist");
    return name_or_path;
  }
  if (name_or_path.empty()) GDPO_THROW(UsageError, "empty model config name");
  std::ostringstream searched;
  for (const auto& dir : config_search_dirs()) {
    fs::path p = fs::path(dir) / "models" / (name_or_path + ".ini");
    if (fs::is_regular_file(p)) return p.string();
    searched << " " << p.parent_path().string();
  }
  GDPO_THROW(UsageError, "no model config named '" << name_or_path << "' (looked for "
                                                   << name_or_path << ".ini in" << searched.str()
                                                   << ")");
}

ModelConfig load_model_config(const std::string& name_or_path) {
  ModelConfig c = read_config_ini(find_config_file(name_or_path));
  c.name = name_or_path;
  return c;
}

}  // namespace gdpo::model
