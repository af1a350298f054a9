// Where the preference data comes from and how it is read, tokenized and split (one typed struct,
// validated once), and load_data(), which turns it into tokenized train/eval pairs through the token
// cache. The app binds it to `[data]` / `--data.*`.
#pragma once
#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"
#include "gdpo/data/tokenized.hpp"

namespace gdpo::data {

struct DataConfig {
  std::vector<std::string> train_files;  // JSONL in the published schema
  std::vector<std::string> eval_files;   // none: split the train files by question (`split`)
  std::vector<std::string> test_files;   // none: the split's test share (see test_split.hpp)
  ReadOptions read;                      // kind, belief ids, p* checks, skip_invalid
  TokenizeOptions tokenize;              // pair mode, lengths, truncation, skip_invalid
  std::string cache_dir;                 // "" disables the token cache
  int64_t seed = 0;                      // of the split
  std::array<double, 3> split = {0.9, 0.1, 0.0};  // train, eval, test ratios by question
  // SFT data as the authors make it: only the last pair of each question, train and eval alike (see
  // last_pair_per_question, and its note on review data). Applied after the split and the cache.
  bool one_pair_per_question = false;
};

// Throw gdpo::UsageError naming the `--data.*` option of any invalid value.
void validate(const ReadOptions& read);
void validate(const DataConfig& config);

struct LoadedData {
  TokenizedPairs train;
  TokenizedPairs eval;  // empty (no questions) when there are no eval files and the split has no eval
};

// Reads, tokenizes (or takes from the cache), splits and (one_pair_per_question) keeps the last pair
// of each question as the config says; prints a line per file and the skip counts to `log`.
LoadedData load_data(const DataConfig& config, const tokenizer::Tokenizer& tok,
                     std::ostream* log = nullptr);

}  // namespace gdpo::data
