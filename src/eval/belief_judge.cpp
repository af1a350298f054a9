#include "gdpo/eval/belief_judge.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/data/judge_data.hpp"
#include "gdpo/eval/belief_probabilities.hpp"

namespace gdpo::eval {

BeliefJudge::BeliefJudge(model::CausalLMPtr model, tokenizer::TokenizerPtr tok, int64_t batch_size,
                         int64_t max_prompt_tokens)
    : model_(std::move(model)), tok_(std::move(tok)), batch_size_(batch_size),
      max_prompt_tokens_(max_prompt_tokens) {
  GDPO_CHECK(batch_size >= 1, "BeliefJudge: batch size " << batch_size);
}

std::vector<int64_t> BeliefJudge::argmax_beliefs(std::vector<TestRow> rows,
                                                 dist::Communicator& comm) const {
  for (auto& r : rows)
    if (max_prompt_tokens_ > 0 && static_cast<int64_t>(r.prompt_ids.size()) > max_prompt_tokens_)
      r.prompt_ids.erase(r.prompt_ids.begin(), r.prompt_ids.end() - max_prompt_tokens_);
  const torch::Tensor probs = belief_probabilities(*model_, rows, batch_size_, comm);  // [R, Kmax]
  std::vector<int64_t> out(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto k = static_cast<int64_t>(rows[r].belief_tokens.size());
    out[r] = probs[static_cast<int64_t>(r)].narrow(0, 0, k).argmax().item<int64_t>();
  }
  return out;
}

std::vector<int64_t> BeliefJudge::classify(const std::vector<JudgeQuery>& queries,
                                           dist::Communicator& comm) const {
  data::Dataset d;
  for (const auto& q : queries) {
    GDPO_CHECK(q.question != nullptr, "BeliefJudge::classify: a query without its question");
    d.questions.push_back(data::judge_question(*q.question, q.response, 0));
    data::Pair p;
    p.question = static_cast<int64_t>(d.questions.size()) - 1;
    d.pairs.push_back(p);
  }
  d.source = "the judge's prompts";
  return argmax_beliefs(make_test_rows(d, *tok_, 0), comm);
}

JudgeAccuracy BeliefJudge::accuracy(const data::Dataset& judge_data, dist::Communicator& comm) const {
  const auto rows = make_test_rows(judge_data, *tok_, 0);
  const auto judged = argmax_beliefs(rows, comm);
  JudgeAccuracy a;
  for (size_t r = 0; r < rows.size(); ++r) {
    a.correct += judged[r] == rows[r].reference_belief;
    ++a.total;
  }
  return a;
}

}  // namespace gdpo::eval
