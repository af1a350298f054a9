// Reading byte-level BPE tokenizer files into a BpeSpec: GPT-2's vocab.json + merges.txt, and a
// Hugging Face tokenizer.json (model BPE, normalizer NFC or null, pre-tokenizer and decoder ByteLevel).
// Anything malformed (bad JSON, a field of the wrong type, a repeated id or one beyond the entry count,
// a bad merges line, a FIFO or directory as a file) is a gdpo::InputError naming the file and key/line.
#pragma once
#include <string>

#include "gdpo/tokenizer/bpe_tokenizer.hpp"

namespace gdpo::tokenizer {

// "<|endoftext|>", when the vocabulary has it, becomes a special added token (GPT-2's end of text).
BpeSpec read_gpt2_files(const std::string& vocab_json, const std::string& merges_txt);

BpeSpec read_tokenizer_json(const std::string& path);

}  // namespace gdpo::tokenizer
