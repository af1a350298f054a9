// Test rows as the authors iterate the test split: one per question with a pair, the LAST pair's
// chosen belief as the reference, reference answers from `answers` or else chosen responses; and the
// test share of a split is disjoint from the questions training sees.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/data/data_config.hpp"
#include "gdpo/data/record.hpp"
#include "gdpo/data/split.hpp"
#include "gdpo/data/synthetic.hpp"
#include "gdpo/data/test_split.hpp"
#include "gdpo/eval/test_rows.hpp"
#include "support/test_support.hpp"

namespace gdpo::eval {
namespace {

std::string line(const std::string& prompt, int accept, int reject, const std::string& response,
                 const std::string& answers = "") {
  const char* opts[] = {"red", "blue", "green"};
  std::ostringstream os;
  os << R"({"prompt":")" << prompt << R"(","options":["red","blue","green"],)"
     << R"("probabilities":[0.2,0.5,0.3],"accept_choice_id":)" << accept << R"(,"accept_choice":")"
     << opts[accept] << R"(","accept_response":")" << response << R"(","reject_choice_id":)"
     << reject << R"(,"reject_choice":")" << opts[reject] << R"(","reject_response":"no")"
     << (answers.empty() ? "" : ",\"answers\":" + answers) << "}\n";
  return os.str();
}

TEST(TestRows, OneRowPerQuestionWithTheLastPairsBeliefAndReferenceAnswers) {
  std::istringstream in(line("A?", 0, 1, "first red") + line("B?", 2, 0, "green b") +
                        line("A?", 1, 0, "blue a") +
                        line("C?", 0, 2, "c", R"(["ans red","ans blue",""])"));
  const auto data = data::parse_records(in, "t.jsonl");
  const auto tok = tokenizer::load_tokenizer("bytes");
  const auto rows = make_test_rows(data, *tok, 0);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].prompt, "<Q>A?<A>");
  EXPECT_EQ(rows[0].prompt_ids, tok->encode("<Q>A?<A>"));
  EXPECT_EQ(rows[0].belief_tokens, (std::vector<int64_t>{'0', '1', '2'}));
  EXPECT_EQ(rows[0].reference_belief, 1);  // A's last pair chose blue
  EXPECT_EQ(rows[1].reference_belief, 2);
  EXPECT_EQ(rows[0].majority(), 1);
  EXPECT_EQ(rows[0].reference_answers, (std::vector<std::string>{"first red", "blue a", ""}));
  EXPECT_EQ(rows[1].reference_answers, (std::vector<std::string>{"", "", "green b"}));
  // `answers` first; a belief it leaves empty falls back to a chosen response.
  EXPECT_EQ(rows[2].reference_answers, (std::vector<std::string>{"ans red", "ans blue", ""}));
}

TEST(TestRows, ATooLongPromptNamesTheFileAndLine) {
  std::istringstream in(line("short", 0, 1, "x") + line("a much longer question?", 0, 1, "y"));
  const auto data = data::parse_records(in, "t.jsonl");
  try {
    make_test_rows(data, *tokenizer::load_tokenizer("bytes"), 12);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("t.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(TestSplit, TheTestShareIsDisjointFromTrainingsQuestionsAndCoversTheRest) {
  test::TempDir dir;
  data::SyntheticConfig sc;
  sc.questions = 40;
  data::write_records(dir.file("d.jsonl"), data::make_synthetic(sc));
  data::DataConfig c;
  c.train_files = {dir.file("d.jsonl")};
  c.split = {0.6, 0.2, 0.2};
  c.seed = 9;
  c.tokenize.max_length = 200;
  c.tokenize.max_prompt_length = 100;
  const auto tok = tokenizer::load_tokenizer("bytes");
  const auto loaded = data::load_data(c, *tok);
  const auto test = data::load_test_data(c);
  ASSERT_EQ(test.size(), 1u);
  EXPECT_EQ(loaded.train.questions() + loaded.eval.questions() +
                static_cast<int64_t>(test[0].questions.size()),
            40);
  // The test questions are exactly those the training run's split (same count, ratios, seed) left
  // out of train and eval.
  const auto all = data::read_records(dir.file("d.jsonl"));
  const auto split = data::assign_splits(40, c.split, 9, "d");
  std::set<std::string> expected, got;
  for (size_t q = 0; q < all.questions.size(); ++q)
    if (split[q] == data::kTest) expected.insert(all.questions[q].prompt);
  for (const auto& q : test[0].questions) got.insert(q.prompt);
  EXPECT_EQ(got.size(), 8u);  // 0.2 x 40
  EXPECT_EQ(got, expected);
  // Without a test share, and with --data.eval, there is no test data: a usage error.
  c.split = {0.8, 0.2, 0.0};
  EXPECT_THROW(data::load_test_data(c), UsageError);
  c.split = {0.6, 0.2, 0.2};
  c.eval_files = {dir.file("d.jsonl")};
  EXPECT_THROW(data::load_test_data(c), UsageError);
}

}  // namespace
}  // namespace gdpo::eval
