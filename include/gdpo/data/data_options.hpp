// The "data" option group (`--data.train`, `--data.mode`, `[data] max-length = ...`) shared by every
// subcommand that reads preference data, and load_data(), which turns those options into tokenized
// train/eval pairs (through the token cache).
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "gdpo/cli/options.hpp"
#include "gdpo/data/record.hpp"
#include "gdpo/data/tokenized.hpp"

namespace gdpo::data {

struct DataOptions {
  std::vector<std::string> train_files;  // JSONL in the published schema
  std::vector<std::string> eval_files;   // none: split the train files by question (--data.split)
  std::string kind = "auto";             // opinion | review | auto
  std::string mode = "gdpo";             // gdpo | dpo: the belief of the rejected response
  int64_t max_length = 512;
  int64_t max_prompt_length = 128;
  std::string truncation = "keep_start";  // keep_start | keep_end
  bool skip_invalid = false;
  bool renormalize = false;
  double tolerance = 1e-3;
  std::string belief_ids = "auto";       // auto | index0 | index1 | letters
  std::string cache_dir;                 // "" disables the token cache
  int64_t seed = 0;                      // splits and shuffling
  std::string split = "0.9,0.1,0";       // train,eval[,test] ratios when no eval files are given

  // Registers the group "data" on `set` (and checks the values after parsing).
  void add_to(cli::OptionSet& set);
  ReadOptions read_options() const;
  TokenizeOptions tokenize_options() const;
};

struct LoadedData {
  TokenizedPairs train;
  TokenizedPairs eval;  // empty (no questions) when there are no eval files and the split has no eval
};

// Reads, tokenizes (or takes from the cache) and splits as the options say; prints a line per file
// and the skip counts to `log`.
LoadedData load_data(const DataOptions& options, const tokenizer::Tokenizer& tok,
                     std::ostream* log = nullptr);

}  // namespace gdpo::data
