// The offline belief judge behind belief-preference consistency: a causal LM trained (gdpo train
// --loss.type sft) on `gdpo data judge` examples reads which belief a response expresses as the
// argmax of its belief distribution after the judge prompt
// "{context}<Q>{question}<O>{id}<{option}>...<R>{response}<A>" (data/judge_data.hpp). Its accuracy on held-out judge examples is reported beside every score it
// gives, so that the judge's own error is visible.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/eval/test_rows.hpp"
#include "gdpo/model/causal_lm.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::eval {

struct JudgeQuery {
  const data::Question* question = nullptr;  // the test question the response answers
  std::string response;                      // the response text after its belief span
};

struct JudgeAccuracy {
  int64_t correct = 0, total = 0;
  double value() const { return total > 0 ? static_cast<double>(correct) / total : 0.0 / 0.0; }
};

class BeliefJudge {
 public:
  // `max_prompt_tokens` > 0: longer judge prompts keep their LAST tokens (the response's end and
  // "<A>"; the question is what goes).
  BeliefJudge(model::CausalLMPtr model, tokenizer::TokenizerPtr tok, int64_t batch_size,
              int64_t max_prompt_tokens);

  // The belief index the judge reads in each response (every rank calls it with the same queries).
  std::vector<int64_t> classify(const std::vector<JudgeQuery>& queries,
                                dist::Communicator& comm) const;
  // The share of `judge_data`'s examples (one-hot p*, as make_judge_data writes) it classifies as
  // their belief.
  JudgeAccuracy accuracy(const data::Dataset& judge_data, dist::Communicator& comm) const;

 private:
  std::vector<int64_t> argmax_beliefs(std::vector<TestRow> rows, dist::Communicator& comm) const;
  model::CausalLMPtr model_;
  tokenizer::TokenizerPtr tok_;
  int64_t batch_size_, max_prompt_tokens_;
};

}  // namespace gdpo::eval
