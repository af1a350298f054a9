// `gdpo inspect <path>`: describes what a path holds — a Hugging Face model folder, a .safetensors
// file or index, a run directory, a checkpoint, a pipeline directory of jobs/*.sh (each stage's
// state), or a model config (preset name or INI): architecture, parameter count, tensors per
// dtype, memory for weights and for training. Optionally runs the model on token ids from a
// safetensors file and writes the logits (--inspect.inputs/--inspect.logits; the Hugging Face
// cross-check uses it), or writes the model as a Hugging Face folder (--inspect.export).
// One function per kind of path; run directories and HDF5 checkpoints can join the dispatch.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "command.hpp"
#include "gdpo/app/options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/io/safetensors.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/checkpoint.hpp"
#include "gdpo/train/run_summary.hpp"
#include "pipeline_status.hpp"

namespace gdpo::app {
namespace {

namespace fs = std::filesystem;
using gdpo::model::CausalLMPtr;
using gdpo::model::ModelConfig;

struct InspectOptions {
  std::string path;
  std::string inputs;       // safetensors file with input_ids [batch, seq] (+ attention_mask)
  std::string logits;       // where to write logits [batch, seq, vocab] float32
  std::string export_dir;   // write the model as a Hugging Face folder
  std::string tokenizer;    // tokenizer files to copy into the exported folder
  int64_t seed = 0;         // random init of a config
  torch::ScalarType dtype = torch::kFloat32;
  bool wants_model() const { return !logits.empty() || !export_dir.empty(); }
};

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

void print_config(const ModelConfig& c, std::ostream& out) {
  const bool gpt2 = c.family == gdpo::model::Family::kGpt2;
  out << "family:        " << gdpo::model::family_name(c.family)
      << (gpt2 ? " (GPT2LMHeadModel)" : " (GPTNeoXForCausalLM)") << "\n"
      << "shape:         vocab " << c.vocab_size << ", positions " << c.max_positions
      << ", hidden " << c.hidden_size << ", layers " << c.n_layers << ", heads " << c.n_heads
      << " (head dim " << c.head_dim() << "), intermediate " << c.intermediate_size << "\n"
      << "details:       layer norm eps " << c.layer_norm_eps << ", activation " << c.activation
      << ", tied embeddings " << (c.tie_word_embeddings ? "yes" : "no") << ", bos "
      << c.bos_token_id << ", eos " << c.eos_token_id << "\n";
  if (!gpt2)
    out << "rotary:        " << c.rotary_pct * 100 << "% of each head (" << c.rotary_dim()
        << " dims), base " << c.rotary_base << "; parallel residual "
        << (c.use_parallel_residual ? "yes" : "no") << "\n";
  out << "parameters:    " << with_commas(c.parameter_count()) << "\n";
}

void print_memory(int64_t params, std::ostream& out) {
  const double p = static_cast<double>(params);
  out << "weights:       " << bytes_text(4 * p) << " in float32, " << bytes_text(2 * p)
      << " in bfloat16\n"
      << "training:      ~" << bytes_text(16 * p)
      << " for fp32 weights + grads + AdamW moments (16 B/param), plus a frozen reference model "
      << bytes_text(4 * p) << " (fp32) or " << bytes_text(2 * p)
      << " (bf16); activations not included\n";
}

void print_tensors(const gdpo::io::SafetensorsCheckpoint& ck, std::ostream& out) {
  struct Stat {
    int64_t count = 0, elements = 0;
    uint64_t bytes = 0;
  };
  std::map<std::string, Stat> by_dtype;
  for (const auto& name : ck.names()) {
    const auto& e = ck.entry(name);
    auto& s = by_dtype[e.dtype];
    ++s.count;
    s.elements += e.numel();
    s.bytes += e.bytes();
  }
  out << "tensors:       " << ck.names().size() << " in " << ck.files().size() << " file"
      << (ck.files().size() == 1 ? "" : "s") << "\n";
  for (const auto& [dtype, s] : by_dtype)
    out << "  " << dtype << std::string(dtype.size() < 12 ? 12 - dtype.size() : 1, ' ') << s.count
        << " tensors, " << with_commas(s.elements) << " elements, " << bytes_text(double(s.bytes))
        << "\n";
  if (!ck.files().empty() && !ck.files()[0]->metadata().empty()) {
    out << "metadata:     ";
    for (const auto& [k, v] : ck.files()[0]->metadata()) out << " " << k << "=" << v;
    out << "\n";
  }
}

// --inspect.export of a checkpoint, single file or per-rank shards (whatever ZeRO layout wrote
// it): the policy's weights as a Hugging Face folder.
void export_checkpoint(const InspectOptions& o) {
  const auto content = gdpo::train::read_checkpoint_info(o.path);
  auto model = gdpo::model::build_model(
      gdpo::model::config_from_hf_json(content.model_config_json, o.path), /*seed=*/0);
  gdpo::train::load_checkpoint(o.path, model.get(), nullptr);
  gdpo::model::save_hf_model(*model, o.export_dir, o.tokenizer);
  std::cout << "exported:      " << o.export_dir << "\n";
}

// Runs the model on --inspect.inputs and writes --inspect.logits; exports with --inspect.export.
void use_model(const CausalLMPtr& model, const InspectOptions& o, std::ostream& out) {
  model->eval();
  if (!o.logits.empty()) {
    gdpo::io::SafetensorsFile in(o.inputs);
    torch::Tensor ids = in.tensor("input_ids").to(torch::kLong);
    torch::Tensor mask = in.contains("attention_mask") ? in.tensor("attention_mask")
                                                       : torch::ones_like(ids);
    torch::NoGradGuard no_grad;
    torch::Tensor logits = model->logits(ids, mask).to(torch::kFloat);
    gdpo::io::write_safetensors(o.logits, {{"logits", logits}}, {{"format", "pt"}});
    out << "logits:        " << logits.sizes() << " written to " << o.logits << "\n";
  }
  if (!o.export_dir.empty()) {
    gdpo::model::save_hf_model(*model, o.export_dir, o.tokenizer);
    out << "exported:      " << o.export_dir << "\n";
  }
}

// The folder is checked exactly as loading it for training checks it (check_model_files: config
// against the weight files' headers, then every weight scanned for NaN/Inf), so inspect refuses
// (exit 3) what train refuses, with the same message, and describes only folders that load.
int inspect_model_folder(const InspectOptions& o) {
  const gdpo::model::ModelFiles files =
      gdpo::model::check_model_files(o.path, /*scan_values=*/true);
  std::cout << "model folder:  " << o.path << "\n";
  print_config(files.config, std::cout);
  print_tensors(files.checkpoint, std::cout);
  print_memory(files.config.parameter_count(), std::cout);
  if (o.wants_model()) use_model(gdpo::model::load_model_files(files, o.dtype), o, std::cout);
  return gdpo::kExitOk;
}

int inspect_safetensors(const InspectOptions& o) {
  if (o.wants_model())
    throw gdpo::UsageError("--inspect.logits/--inspect.export need a model folder "
                           "or config, not a bare safetensors file");
  auto ck = gdpo::io::SafetensorsCheckpoint::open(o.path);
  int64_t elements = 0;
  for (const auto& name : ck.names()) elements += ck.entry(name).numel();
  std::cout << "safetensors:   " << ck.path() << "\n";
  print_tensors(ck, std::cout);
  std::cout << "elements:      " << with_commas(elements) << "\n";
  print_memory(elements, std::cout);
  return gdpo::kExitOk;
}

int inspect_model_config(const InspectOptions& o) {
  const std::string file = gdpo::model::find_config_file(o.path);
  ModelConfig config = gdpo::model::load_model_config(o.path);
  std::cout << "model config:  " << o.path << " (" << file << ")\n";
  print_config(config, std::cout);
  print_memory(config.parameter_count(), std::cout);
  if (o.wants_model())
    use_model(gdpo::model::build_model(config, static_cast<uint64_t>(o.seed),
                                       o.dtype),
              o, std::cout);
  return gdpo::kExitOk;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int cmd_inspect(const Args& args) {
  OptionSet set("gdpo inspect",
                           "Describe a run directory, a checkpoint, a model folder, a .safetensors file or a model "
                           "config; several run directories are compared side by side");
  InspectOptions o;
  set.group("inspect")
      .add("path", &o.path,
           "what to inspect: model folder, .safetensors file/index, run directory, checkpoint, "
           "pipeline directory (jobs/*.sh), config name")
      .add("inputs", &o.inputs, "safetensors file with input_ids [batch, seq] (+ attention_mask)")
      .add("logits", &o.logits, "write the model's float32 logits on --inspect.inputs here")
      .add("export", &o.export_dir, "write the model (or a checkpoint's policy) as a Hugging Face folder here")
      .add("tokenizer", &o.tokenizer, "tokenizer folder/file copied into --inspect.export")
      .add("seed", &o.seed, "random init seed when inspecting a config")
      .parsed<torch::ScalarType>("dtype", &o.dtype, gdpo::model::parse_dtype,
                                 gdpo::model::dtype_name,
                                 "model dtype for --inspect.logits/--inspect.export");
  std::vector<std::string> more_runs;
  set.group("inspect").add("runs", &more_runs, "further run directories, compared side by side");
  set.positional("inspect.path", 1);
  set.positional("inspect.runs", -1);
  set.validate([&] {
    if (o.path.empty()) throw gdpo::UsageError("give a path (see --help)");
    if (o.logits.empty() != o.inputs.empty())
      throw gdpo::UsageError("--inspect.logits and --inspect.inputs go together");
  });
  if (!set.parse(args)) return gdpo::kExitOk;

  if (!more_runs.empty()) {
    std::vector<std::string> runs = {o.path};
    runs.insert(runs.end(), more_runs.begin(), more_runs.end());
    for (const auto& r : runs)
      if (!gdpo::train::is_run_directory(r))
        throw gdpo::UsageError("'" + r + "' is not a run directory (several paths: runs to compare)");
    gdpo::train::compare_runs(runs, std::cout);
    return gdpo::kExitOk;
  }
  if (gdpo::train::is_run_directory(o.path)) {
    gdpo::train::describe_run(o.path, std::cout);
    return gdpo::kExitOk;
  }
  if (is_pipeline_directory(o.path)) {
    describe_pipeline(o.path, std::cout);
    return gdpo::kExitOk;
  }
  if (ends_with(o.path, ".h5")) {
    if (!gdpo::train::is_checkpoint_file(o.path))
      throw gdpo::InputError("'" + o.path + "' is not a gdpo checkpoint");
    gdpo::train::describe_checkpoint(o.path, std::cout);
    if (!o.export_dir.empty()) export_checkpoint(o);
    return gdpo::kExitOk;
  }
  if (fs::is_directory(o.path)) {
    if (gdpo::model::is_hf_model_folder(o.path)) return inspect_model_folder(o);
    throw gdpo::UsageError("folder '" + o.path +
                           "' holds no config.json (not a model folder)");
  }
  if (ends_with(o.path, ".safetensors") || ends_with(o.path, ".safetensors.index.json"))
    return inspect_safetensors(o);
  if (o.path.find('/') != std::string::npos && !fs::exists(o.path))
    throw gdpo::UsageError("'" + o.path + "' does not exist");
  return inspect_model_config(o);
}

}  // namespace gdpo::app
