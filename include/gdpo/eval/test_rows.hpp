// The rows the authors' evaluation iterates over: one per distinct question of the test data, in file
// order (their `get_batch_iterator(split='test', sft_mode)`), each with its tokenized prompt, belief
// tokens, p*, the belief of its reference answer and a reference answer text for every belief.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::eval {

struct TestRow {
  int64_t question = 0;                     // index into the dataset's questions
  std::string prompt;                       // `{context}<Q>{question}<A>`
  std::vector<int64_t> prompt_ids;          // tokenized alone, no BOS (as in training)
  std::vector<int64_t> belief_tokens;       // [K] the single token of each belief id
  std::vector<std::string> belief_ids;      // [K] "0", "1", ... (what a generation starts with)
  std::vector<std::string> options;         // [K] belief texts
  std::vector<double> pstar;                // [K] p*(b|x)
  int64_t reference_belief = 0;             // chosen belief of the question's LAST pair (the
                                            // authors' label: sft mode keeps the last record)
  std::vector<std::string> reference_answers;  // [K] the answer for each belief: the record's
                                               // `answers[k]` when present, else the chosen
                                               // response of the first pair choosing k; "" if none
  data::Question source;                    // the question as read (for the judge's prompt)
  std::string dataset;                      // the file it came from (its stem), for breakdowns
  int64_t majority() const;                 // argmax p* (the first maximum)
};

// Every question of `test` that has at least one pair. A belief id that is not one token, or a
// prompt longer than `max_prompt_tokens` (> 0), is an InputError naming the file and line.
std::vector<TestRow> make_test_rows(const data::Dataset& test, const tokenizer::Tokenizer& tok,
                                    int64_t max_prompt_tokens);

}  // namespace gdpo::eval
