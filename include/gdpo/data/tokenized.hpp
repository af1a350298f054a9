// Tokenized preference pairs with their token spans (prompt, belief, response), tokenized once and
// cached in a compact binary file keyed by a fingerprint of the data file, the tokenizer, the lengths
// and the mode, so that later epochs and runs do no tokenization. A stale or corrupt cache is
// detected and rebuilt, never silently reused.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"
#include "gdpo/data/skip_counts.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::data {

struct TokenizeOptions {
  PairMode mode = PairMode::kGdpo;
  int64_t max_length = 512;         // prompt + response tokens
  int64_t max_prompt_length = 128;  // the prompt's length after truncation (when too long)
  std::string truncation = "keep_start";  // keep_start | keep_end (of the prompt)
  bool skip_invalid = false;        // skip pairs whose belief span does not survive truncation
};

// Flat arrays: pair i has rows 2i (chosen) and 2i+1 (rejected).
struct TokenizedPairs {
  std::vector<int32_t> tokens;        // every row's ids, concatenated
  std::vector<int64_t> row_offset;    // [2N] start of the row in `tokens`
  std::vector<int32_t> row_prompt;    // [2N] prompt tokens
  std::vector<int32_t> row_belief;    // [2N] belief-span tokens (right after the prompt)
  std::vector<int32_t> row_length;    // [2N] total tokens (prompt + belief + rest + end of text)
  std::vector<int64_t> pair_question; // [N]
  std::vector<int32_t> pair_chosen;   // [N] belief index of the chosen response
  std::vector<int32_t> pair_rejected; // [N] belief index of the rejected response
  std::vector<int64_t> question_offset;  // [Q + 1] start of each question's beliefs below
  std::vector<int64_t> belief_token;     // [sum K] the single token of each belief id
  std::vector<float> belief_prob;        // [sum K] p*
  int64_t pad_id = 0;                    // the tokenizer's end-of-text id
  SkipCounts skipped;                    // reading + tokenizing

  int64_t pairs() const { return static_cast<int64_t>(pair_question.size()); }
  int64_t questions() const {
    return question_offset.empty() ? 0 : static_cast<int64_t>(question_offset.size()) - 1;
  }
  int64_t beliefs(int64_t question) const {
    return question_offset[question + 1] - question_offset[question];
  }
};

// Tokenizes every pair of `data`. Each belief id must encode to exactly one token (InputError naming
// the belief and the tokenizer otherwise). Prompt and response are tokenized separately and
// concatenated; responses end with the end-of-text id. Truncation as the DPO reference: the prompt to
// max_prompt_length first, then the responses to max_length - prompt length; a pair whose belief span
// would be cut is an InputError (file:line) or, with skip_invalid, skipped and counted.
TokenizedPairs tokenize_pairs(const Dataset& data, const tokenizer::Tokenizer& tok,
                              const TokenizeOptions& options);

// The cache key: file contents, tokenizer fingerprint, lengths, truncation and mode.
std::string tokenized_fingerprint(const std::string& data_path, const tokenizer::Tokenizer& tok,
                                  const TokenizeOptions& options, const ReadOptions& read);

// The binary cache file (magic, version, fingerprint, payload checksum).
void save_tokenized(const std::string& path, const std::string& fingerprint,
                    const TokenizedPairs& pairs);
// False (and a reason) when the file is absent, of another fingerprint, truncated or corrupt.
bool load_tokenized(const std::string& path, const std::string& fingerprint, TokenizedPairs* pairs,
                    std::string* why_not = nullptr);

// The pairs of the questions `questions` (in that order), renumbered.
TokenizedPairs select_questions(const TokenizedPairs& pairs, const std::vector<int64_t>& questions);
// Appends `src` to `dst` (questions renumbered after dst's; the pad ids must agree).
void append_pairs(TokenizedPairs& dst, const TokenizedPairs& src);

// Reads and tokenizes `data_path`, through the cache in `cache_dir` ("" disables the cache). Prints
// one line to `log` (if given) saying whether the cache was used or rebuilt, and why.
TokenizedPairs load_pairs(const std::string& data_path, const tokenizer::Tokenizer& tok,
                          const TokenizeOptions& options, const ReadOptions& read,
                          const std::string& cache_dir, std::ostream* log = nullptr);

}  // namespace gdpo::data
