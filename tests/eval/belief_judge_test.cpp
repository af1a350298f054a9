// The judge reads a response's belief as the argmax of its belief distribution after the judge
// prompt: the same readout as the policy's (belief_probabilities) on the prompt gdpo data judge
// trains it with; its accuracy counts the held-out examples it gets right.
#include <gtest/gtest.h>

#include "gdpo/data/judge_data.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/eval/belief_judge.hpp"
#include "gdpo/eval/belief_probabilities.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"

namespace gdpo::eval {
namespace {

const std::string kOptions = "<O>0<red><O>1<blue><O>2<green>";

data::Question question(const std::string& prompt) {
  data::Question q;
  q.prompt = prompt;
  q.options = {"red", "blue", "green"};
  q.belief_ids = {"0", "1", "2"};
  q.probabilities = {0.2, 0.5, 0.3};
  return q;
}

TEST(BeliefJudge, ClassifiesByTheArgmaxAfterTheJudgePrompt) {
  auto model = model::build_model(model::load_model_config("tiny-gpt2"), 3, torch::kFloat32);
  auto tok = tokenizer::load_tokenizer("bytes");
  dist::SingleProcessCommunicator comm;
  const data::Question a = question("A?"), b = question("Which one, B?");
  const std::vector<JudgeQuery> queries = {{&a, "red, surely"}, {&b, "blue"}, {&a, ""}};
  const BeliefJudge judge(model, tok, /*batch_size=*/2, 0);
  const auto judged = judge.classify(queries, comm);
  ASSERT_EQ(judged.size(), 3u);
  for (size_t i = 0; i < queries.size(); ++i) {
    // By hand: the prompt "<Q>{question}<O>0<red><O>1<blue><O>2<green><R>{response}<A>", then
    // the argmax over "0", "1", "2".
    TestRow row;
    row.prompt_ids = tok->encode("<Q>" + queries[i].question->prompt + kOptions + "<R>" +
                                 queries[i].response + "<A>");
    row.belief_tokens = {'0', '1', '2'};
    row.pstar = {1, 0, 0};
    const auto p = belief_probabilities(*model, {row}, 1, comm)[0];
    EXPECT_EQ(judged[i], p.argmax().item<int64_t>()) << i;
  }
  // Accuracy on judge examples labelled with the beliefs it reads: all right; relabelled: none.
  data::Dataset d;
  d.source = "judge_test.jsonl";
  for (size_t i = 0; i < queries.size(); ++i) {
    for (int64_t shift : {0, 1}) {
      d.questions.push_back(data::judge_question(*queries[i].question, queries[i].response,
                                                 (judged[i] + shift) % 3));
      data::Pair p;
      p.question = static_cast<int64_t>(d.questions.size()) - 1;
      p.chosen = (judged[i] + shift) % 3;
      d.pairs.push_back(p);
    }
  }
  const JudgeAccuracy acc = judge.accuracy(d, comm);
  EXPECT_EQ(acc.total, 6);
  EXPECT_EQ(acc.correct, 3);
  EXPECT_DOUBLE_EQ(acc.value(), 0.5);
}

TEST(BeliefJudge, LongPromptsKeepTheirEnd) {
  auto model = model::build_model(model::load_model_config("tiny-gpt2"), 3, torch::kFloat32);
  auto tok = tokenizer::load_tokenizer("bytes");
  dist::SingleProcessCommunicator comm;
  const data::Question a = question(std::string(300, 'x'));  // beyond tiny-gpt2's 256 positions
  const BeliefJudge judge(model, tok, 1, 255);
  const auto judged = judge.classify({{&a, "blue"}}, comm);
  TestRow row;
  const auto ids = tok->encode("<Q>" + a.prompt + kOptions + "<R>blue<A>");
  row.prompt_ids.assign(ids.end() - 255, ids.end());
  row.belief_tokens = {'0', '1', '2'};
  row.pstar = {1, 0, 0};
  EXPECT_EQ(judged[0], belief_probabilities(*model, {row}, 1, comm)[0].argmax().item<int64_t>());
}

}  // namespace
}  // namespace gdpo::eval
