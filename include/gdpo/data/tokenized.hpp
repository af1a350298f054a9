// Tokenized preference pairs with their token spans (prompt, belief span, preference span), made
// exactly as the GDPO authors do, tokenized once and cached in a compact binary file keyed by a
// fingerprint of the data file, the tokenizer, the lengths and the mode, so that later epochs and runs
// do no tokenization. A stale or corrupt cache is detected and rebuilt, never silently reused.
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

// Flat arrays: pair i has rows 2i (chosen) and 2i+1 (rejected). A row is the prompt's ids followed by
// the whole response's ids (tokenized apart, no BOS, end-of-text appended: see tokenize_pairs). With
// ">" the tokenizer's single-token id of the string ">" (the authors' convert_tokens_to_ids(">")):
//   [0, row_prompt)                          prompt
//   [row_prompt, row_prompt + row_belief)    belief span: the response tokens before the response's
//                                            LAST ">" token (excluded). Fallback (the authors' silent
//                                            one): the whole response, end-of-text included, when the
//                                            response has no lone ">" token (`>"` merged, review data)
//                                            or nothing before it.
//   [row_pref, row_length)                   preference span: from the last ">" token of the CHOSEN
//                                            row (included) to the end; the rejected row uses the
//                                            chosen row's offset. Clamped to row_prompt when that ">"
//                                            is in the prompt (the chosen response has no lone ">",
//                                            e.g. `>"` merged, review data: the whole response) or
//                                            when the chosen row has no ">" at all. When the rejected
//                                            row is not longer than that offset, its span is its whole
//                                            response (the authors keep the labels when the cut would
//                                            leave none).
//   [row_prompt, row_length)                 the whole response, end-of-text included
// Always 1 <= row_prompt, row_prompt + row_belief <= row_length, row_prompt <= row_pref <= row_length.
struct TokenizedPairs {
  std::vector<int32_t> tokens;        // every row's ids, concatenated
  std::vector<int64_t> row_offset;    // [2N] start of the row in `tokens`
  std::vector<int32_t> row_prompt;    // [2N] prompt tokens
  std::vector<int32_t> row_belief;    // [2N] belief-span tokens, counted from the end of the prompt
  std::vector<int32_t> row_pref;      // [2N] offset in the row where the preference span begins
  std::vector<int32_t> row_length;    // [2N] total tokens (prompt + response, end-of-text included)
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

// Tokenizes every pair of `data` as the authors do (preference_datasets.py tokenize_batch_element):
// the prompt `{context}<Q>{prompt}<A>` alone and each WHOLE response alone (`{id}<{option}>{text}`,
// reviews `{id}{text}`; the rejected response carries the chosen belief in PairMode::kGdpo, its own in
// kDpo), no BOS, the end-of-text id appended to each response, the id lists concatenated. BPE merges
// across ">" therefore happen as in the authors' runs (GPT-2's `>"` is one token). Spans as described
// at TokenizedPairs.
// Each belief id must encode to exactly one token (InputError naming the belief and the tokenizer
// otherwise), and each response's first token must be its belief id's token (InputError file:line, or
// skipped with skip_invalid). Truncation (gdpo's): the prompt to max_prompt_length first (only when
// prompt + longer response > max_length), then the responses to max_length - prompt length. A pair
// whose belief span or preference-span ">" (a response's last lone ">") would be cut is an InputError
// (file:line) or, with skip_invalid, skipped and counted; a fallback span (no lone ">") is the whole
// kept response. In PairMode::kDpo a pair whose rejected belief is its chosen one is an InputError
// (file:line) or skipped and counted: the rejected response must carry another belief.
TokenizedPairs tokenize_pairs(const Dataset& data, const tokenizer::Tokenizer& tok,
                              const TokenizeOptions& options);

// The tokenizer's id of the single token ">" (token_to_id(">"), else encode(">") when that is one
// token), or -1 when it has none (then every span takes its fallback).
int64_t gt_token_id(const tokenizer::Tokenizer& tok);

// The cache key: file contents, tokenizer fingerprint and its ">" id, lengths, truncation, mode and
// the read options.
std::string tokenized_fingerprint(const std::string& data_path, const tokenizer::Tokenizer& tok,
                                  const TokenizeOptions& options, const ReadOptions& read);

// The binary cache file (magic, version, fingerprint, payload checksum).
void save_tokenized(const std::string& path, const std::string& fingerprint,
                    const TokenizedPairs& pairs);
// False (and a reason) when the file is absent, of another fingerprint, truncated or corrupt.
bool load_tokenized(const std::string& path, const std::string& fingerprint, TokenizedPairs* pairs,
                    std::string* why_not = nullptr);

// SFT data as the authors make it (get_batch_iterator with sft_mode; preference_datasets.py keys the
// records by prompt and keeps the LAST one's chosen response and p*): one pair per question, the last
// one in file order, the questions kept in their order (first appearance). Only the chosen row (and
// p*) is meant to be used. Note: the authors group opinion data by prompt, but their review loader
// (get_movie_reviews) is a plain list, one SFT example per record; gdpo groups both by context,
// prompt and options (Question::key), so on review data with repeated prompts this keeps fewer
// examples than they do.
TokenizedPairs last_pair_per_question(const TokenizedPairs& pairs);

// The pairs of the questions `questions` (in that order), renumbered.
TokenizedPairs select_questions(const TokenizedPairs& pairs, const std::vector<int64_t>& questions);
// Appends `src` to `dst` (questions renumbered after dst's; the pad ids must agree).
void append_pairs(TokenizedPairs& dst, const TokenizedPairs& src);

// Reads and tokenizes `data_path`, through the cache in `cache_dir` ("" disables the cache). Prints
// one line to `log` (if given) saying whether the cache was used or rebuilt, and why. In
// PairMode::kDpo the file is read with ReadOptions::rejected_own_belief set.
TokenizedPairs load_pairs(const std::string& data_path, const tokenizer::Tokenizer& tok,
                          const TokenizeOptions& options, const ReadOptions& read,
                          const std::string& cache_dir, std::ostream* log = nullptr);

}  // namespace gdpo::data
