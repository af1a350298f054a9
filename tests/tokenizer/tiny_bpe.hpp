// A tiny byte-level BPE for tests, written as GPT-2 files (vocab.json + merges.txt) or as a Hugging
// Face tokenizer.json. Ids 0..255 are the bytes (id = byte value); then, by merge rank:
//   256 "he" (h e), 257 "ll" (l l), 258 "hell" (he ll), 259 "hello" (hell o), 260 " w" (Ġ w),
//   261 "aa" (a a), 262 "aaaa" (aa aa); and 263 "<|endoftext|>" (special).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "gdpo/tokenizer/byte_level.hpp"
#include "support/test_support.hpp"

namespace gdpo::tokenizer::testing {

inline std::vector<std::pair<std::string, std::string>> tiny_merges() {
  return {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\xc4\xa0", "w"}, {"a", "a"},
          {"aa", "aa"}};
}

inline nlohmann::json tiny_vocab() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level_chars()[b]] = b;
  int id = 256;
  for (const auto& [l, r] : tiny_merges()) vocab[l + r] = id++;
  vocab["<|endoftext|>"] = id;
  return vocab;
}

// vocab.json + merges.txt in `dir`.
inline void write_tiny_gpt2_files(const std::string& dir) {
  std::string merges = "#version: 0.2\n";
  for (const auto& [l, r] : tiny_merges()) merges += l + " " + r + "\n";
  test::write_file(dir + "/vocab.json", tiny_vocab().dump());
  test::write_file(dir + "/merges.txt", merges);
}

// The same tokenizer as a tokenizer.json object (merges as "a b" strings).
inline nlohmann::json tiny_tokenizer_json() {
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [l, r] : tiny_merges()) merges.push_back(l + " " + r);
  return {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 263}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false},
         {"lstrip", false}, {"rstrip", false}, {"single_word", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", tiny_vocab()},
        {"merges", merges}}}};
}

}  // namespace gdpo::tokenizer::testing
