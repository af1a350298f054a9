// Creating causal LMs: from a ModelConfig (random weights from a seed), from a Hugging Face folder
// (config.json + model.safetensors or a sharded index), and writing a folder that Hugging Face
// transformers loads unchanged.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "gdpo/io/safetensors.hpp"
#include "gdpo/model/causal_lm.hpp"

namespace gdpo::model {

// "float32"/"fp32"/"float" or "bfloat16"/"bf16"; UsageError naming `where` otherwise.
torch::ScalarType parse_dtype(const std::string& name, const std::string& where);
std::string dtype_name(torch::ScalarType dtype);  // "float32", "bfloat16", ...

// The family's module with every parameter allocated (zeros, layer norms at identity), float32.
CausalLMPtr make_model(const ModelConfig& config);
// make_model + the family's deterministic random init from `seed`, then converted to `dtype`.
CausalLMPtr build_model(const ModelConfig& config, uint64_t seed,
                        torch::ScalarType dtype = torch::kFloat);

// True when `path` is a folder holding config.json.
bool is_hf_model_folder(const std::string& path);
// Loads `dir` (config.json + model.safetensors or model.safetensors.index.json). Accepts the original
// GPT-2 checkpoints' names without "transformer." and skips HF's non-parameter buffers (attn.bias,
// masked_bias, rotary_emb.inv_freq). Missing, unexpected or misshapen tensors: InputError naming the
// file and the tensor.
CausalLMPtr load_hf_model(const std::string& dir, torch::ScalarType dtype = torch::kFloat);
// Copies the tensors of `checkpoint` into `model` (same name rules and checks as load_hf_model).
void load_checkpoint_into(CausalLM& model, const io::SafetensorsCheckpoint& checkpoint);

// Writes config.json and model.safetensors ({"format": "pt"} metadata; shards + index when larger
// than max_shard_bytes, 0 = never) into `dir`, removing stale weight files of the other layout, and
// copies the tokenizer files (tokenizer.json, vocab.json, merges.txt, tokenizer_config.json,
// special_tokens_map.json, added_tokens.json) found in `tokenizer_source` (a folder or a file; "" =
// none).
void save_hf_model(const CausalLM& model, const std::string& dir,
                   const std::string& tokenizer_source = "", uint64_t max_shard_bytes = 0);

}  // namespace gdpo::model
