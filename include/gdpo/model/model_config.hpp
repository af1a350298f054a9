// The shape of a causal LM (GPT-2 or GPT-NeoX/Pythia): read from a Hugging Face config.json or from a
// gdpo INI file configs/models/<name>.ini ([model] family = gpt2, vocab-size = ..., ...), written back
// as a config.json that transformers loads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gdpo::model {

enum class Family { kGpt2, kGptNeox };

// Upper bounds on a config's sizes, far above every GPT-2 and Pythia model (the largest real
// vocabularies are ~256k, widths 16k, depths ~100), so that a config from a stranger is refused
// with a message naming the key before gdpo allocates anything for it.
constexpr int64_t kMaxVocabSize = int64_t{1} << 22;   // 4,194,304 token ids
constexpr int64_t kMaxPositions = int64_t{1} << 20;   // 1,048,576 positions
constexpr int64_t kMaxHiddenSize = int64_t{1} << 16;  // 65,536
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxIntermediateSize = int64_t{1} << 20;  // 1,048,576
constexpr int64_t kMaxParameters = 100000000000;            // 100 billion parameters in all

// "gpt2" / "gpt_neox"; parse_family throws UsageError naming `where` for anything else.
std::string family_name(Family family);
Family parse_family(const std::string& name, const std::string& where);

struct ModelConfig {
  Family family = Family::kGpt2;
  int64_t vocab_size = 0;
  int64_t max_positions = 0;      // GPT-2: learned position table size; NeoX: informational
  int64_t hidden_size = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t intermediate_size = 0;  // MLP width (GPT-2 n_inner, default 4 * hidden)
  double layer_norm_eps = 1e-5;
  double rotary_pct = 0.25;       // NeoX: fraction of each head's dims that are rotated
  double rotary_base = 10000.0;   // NeoX: RoPE base
  bool use_parallel_residual = true;  // NeoX: x + attn(ln1(x)) + mlp(ln2(x))
  bool tie_word_embeddings = true;    // output projection = token embedding
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 0;
  std::string activation = "gelu_new";  // gelu_new | gelu_pytorch_tanh | gelu_fast (tanh), gelu, relu
  std::string name;                      // where it came from (a preset name or a path), for logs

  int64_t head_dim() const { return hidden_size / n_heads; }
  // int(head_dim * rotary_pct), as Hugging Face computes it.
  int64_t rotary_dim() const;
  // Trainable parameters (tied weights counted once). Cannot overflow once validate() passed.
  int64_t parameter_count() const;
  // Throws UsageError naming `where` and the (INI) key when a value is out of range (including the
  // kMax* bounds above) or inconsistent.
  void validate(const std::string& where) const;
};

bool operator==(const ModelConfig& a, const ModelConfig& b);  // ignores `name`

// From the text of a Hugging Face config.json (model_type "gpt2" or "gpt_neox"); `where` names the
// file in errors (InputError naming the file and the JSON key: a wrong type, a duplicate key, a
// value out of range or past the kMax* bounds).
ModelConfig config_from_hf_json(const std::string& json_text, const std::string& where);
// The same from a file, which must be a regular file (a FIFO is refused, not waited on) of at most
// kMaxConfigJsonBytes.
ModelConfig read_hf_config(const std::string& config_json_path);
constexpr uint64_t kMaxConfigJsonBytes = uint64_t{16} << 20;
// A config.json for transformers: model_type, architectures, the family's keys and `torch_dtype`
// (the weights' dtype as transformers names it: "float32", "bfloat16", "float16").
std::string hf_config_json(const ModelConfig& config, const std::string& torch_dtype = "float32");

// From a gdpo INI file with a [model] section; errors are UsageErrors naming the file and key.
ModelConfig read_config_ini(const std::string& path);
std::string config_ini_text(const ModelConfig& config);

// Directories searched for models/<name>.ini, in order: $GDPO_CONFIG_DIR, <dir of the running
// binary>/../configs, the source tree's configs/ (compile-time GDPO_CONFIG_DIR).
std::vector<std::string> config_search_dirs();
// A path to an INI file (anything containing '/' or ending in ".ini") or a preset name; throws
// UsageError listing the searched directories when not found.
std::string find_config_file(const std::string& name_or_path);
ModelConfig load_model_config(const std::string& name_or_path);

}  // namespace gdpo::model
