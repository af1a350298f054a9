// Reading byte-level BPE tokenizer files into a BpeSpec: GPT-2's vocab.json + merges.txt, and a
// Hugging Face tokenizer.json (model BPE, normalizer NFC or null, pre-tokenizer and decoder ByteLevel).
// Missing or malformed files, and features this reader does not implement, are gdpo::InputError
// naming the file (and the line of merges.txt, or the JSON field).
#pragma once
#include <string>

#include "gdpo/tokenizer/bpe_tokenizer.hpp"

namespace gdpo::tokenizer {

// "<|endoftext|>", when the vocabulary has it, becomes a special added token (GPT-2's end of text).
BpeSpec read_gpt2_files(const std::string& vocab_json, const std::string& merges_txt);

BpeSpec read_tokenizer_json(const std::string& path);

}  // namespace gdpo::tokenizer
