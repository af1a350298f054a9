// Creating causal LMs: from a ModelConfig (random weights from a seed), from a Hugging Face folder
// (config.json + model.safetensors or a sharded index), and writing a folder that Hugging Face
// transformers loads unchanged.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gdpo/io/safetensors.hpp"
#include "gdpo/model/causal_lm.hpp"

namespace gdpo::model {

// "float32"/"fp32"/"float" or "bfloat16"/"bf16"; UsageError naming `where` otherwise.
torch::ScalarType parse_dtype(const std::string& name, const std::string& where);
std::string dtype_name(torch::ScalarType dtype);  // "float32", "bfloat16", ...

// The family's module with every parameter allocated (zeros, layer norms at identity), float32.
// Validates the config first; a model whose float32 weights exceed this machine's memory is refused
// (gdpo::Error) before any allocation instead of failing inside LibTorch.
CausalLMPtr make_model(const ModelConfig& config);
// make_model + the family's deterministic random init from `seed`, then converted to `dtype`.
CausalLMPtr build_model(const ModelConfig& config, uint64_t seed,
                        torch::ScalarType dtype = torch::kFloat);

// One parameter of a family's model for a config, computed from the config alone (nothing
// allocated): its name (as named_parameters() and Hugging Face checkpoints spell it) and shape.
struct ParameterSpec {
  std::string name;
  std::vector<int64_t> shape;
};
// Every parameter of make_model(config), in the model's order.
std::vector<ParameterSpec> expected_parameters(const ModelConfig& config);

// True when `path` is a folder holding config.json (which read_hf_config then checks).
bool is_hf_model_folder(const std::string& path);

// A model folder whose config.json and weight files were checked against each other by
// check_model_files: the config, the opened checkpoint and, for each parameter in the model's
// order, the name of the checkpoint tensor that holds it. Nothing of the model is allocated.
struct ModelFiles {
  std::string dir;
  ModelConfig config;
  io::SafetensorsCheckpoint checkpoint;
  std::vector<std::pair<std::string, std::string>> weights;  // parameter -> checkpoint tensor
};

// Everything that loading `dir` checks, from config.json and the safetensors headers only, before
// anything is allocated (`train`, `eval` and `inspect` share it, so they accept and refuse the same
// folders with the same messages). The rules:
//  - config.json is a valid config (a regular file, no duplicate key, values within kMax* bounds);
//  - model.safetensors or model.safetensors.index.json and its shards are valid (SafetensorsFile);
//  - size budget: the config's parameters at 2 bytes each (the narrowest float dtype) fit in the
//    tensor bytes the files hold, else the config is refused naming config.json;
//  - every parameter the config implies is present once (across all shards), with the expected
//    shape and a floating dtype (F32, F16, BF16, F64); no other tensor is left over, except the
//    buffers Hugging Face saves (attn.bias, masked_bias, rotary_emb.inv_freq) and GPT-2's tied
//    lm_head.weight. GPT-2 names without "transformer." (the original checkpoints) are accepted.
//  - with scan_values, every weight is also read (one at a time) and refused when it holds NaN or
//    infinite values (loading checks that as it copies each weight).
// Each failure is an InputError naming the file and the tensor (or config.json and the key).
ModelFiles check_model_files(const std::string& dir, bool scan_values = false);
// The model of checked files in `dtype`; each weight is refused when it holds NaN or Inf (message
// naming the file, the tensor and how many values).
CausalLMPtr load_model_files(const ModelFiles& files, torch::ScalarType dtype = torch::kFloat);
// load_model_files(check_model_files(dir), dtype); config.name is `dir`.
CausalLMPtr load_hf_model(const std::string& dir, torch::ScalarType dtype = torch::kFloat);
// Copies the tensors of `checkpoint` into `model` (the checks of check_model_files against the
// model's config, then NaN/Inf as each weight is copied).
void load_checkpoint_into(CausalLM& model, const io::SafetensorsCheckpoint& checkpoint);

// Writes config.json and model.safetensors ({"format": "pt"} metadata; shards + index when larger
// than max_shard_bytes, 0 = never) into `dir`, removing stale weight files of the other layout, and
// copies the tokenizer files (tokenizer.json, vocab.json, merges.txt, tokenizer_config.json,
// special_tokens_map.json, added_tokens.json) found in `tokenizer_source` (a folder or a file; "" =
// none).
void save_hf_model(const CausalLM& model, const std::string& dir,
                   const std::string& tokenizer_source = "", uint64_t max_shard_bytes = 0);

}  // namespace gdpo::model
