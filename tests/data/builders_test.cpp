// The builders on small fixtures written here in the real formats (Global Opinion QA CSV/JSONL,
// SNAP movies.txt, Amazon JSON lines), the synthetic generator, and the real samples when present.
#include <gtest/gtest.h>

#include <cmath>

#include "gdpo/core/error.hpp"
#include "gdpo/data/opinion_builder.hpp"
#include "gdpo/data/review_builder.hpp"
#include "gdpo/data/synthetic.hpp"
#include "support/test_support.hpp"

namespace gdpo::data {
namespace {

// Two questions; the second has no United States; the first has an escaped quote in an option.
const char* kGoqaCsv =
    "question,selections,options,source\n"
    "\"Is it good?\nSecond line\",\"defaultdict(<class 'list'>, {'United States': [0.5, 0.3, 0.2], "
    "'Japan': [0.1, 0.1, 0.8]})\",\"['Favor', \"\"Don't know\"\", 'Oppose']\",GAS\n"
    "\"Other?\",\"defaultdict(<class 'list'>, {'Japan': [1.0, 0.0]})\",\"['Yes', 'No']\",WVS\n";

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(OpinionBuilder, ByPositionFromCsv) {
  test::TempDir dir;
  test::write_file(dir.file("g.csv"), kGoqaCsv);
  OpinionBuildConfig c;
  c.pairs_per_question = 50;
  c.seed = 3;
  const Dataset d = build_opinion(dir.file("g.csv"), c);
  ASSERT_EQ(d.questions.size(), 1u);
  EXPECT_EQ(d.skipped.count("questions without United States"), 1);
  const Question& q = d.questions[0];
  EXPECT_EQ(q.prompt, "Is it good?\nSecond line");
  EXPECT_EQ(q.options, (std::vector<std::string>{"Favor", "Don't know", "Oppose"}));
  EXPECT_EQ(q.belief_ids, (std::vector<std::string>{"0", "1", "2"}));
  ASSERT_EQ(q.probabilities.size(), 3u);
  EXPECT_NEAR(q.probabilities[0], 0.5, 1e-12);
  EXPECT_NEAR(q.probabilities[2], 0.2, 1e-12);
  ASSERT_EQ(d.pairs.size(), 50u);
  for (const auto& p : d.pairs) {
    EXPECT_NE(p.chosen, p.rejected);
    // The template answer states the chosen option.
    EXPECT_NE(p.chosen_response.find(q.options[p.chosen]), std::string::npos) << p.chosen_response;
    EXPECT_NE(p.rejected_response.find(q.options[p.rejected]), std::string::npos);
  }
  EXPECT_EQ(d.notes.count("answers from templates"), 100);
  // Same seed, same pairs.
  const Dataset again = build_opinion(dir.file("g.csv"), c);
  for (size_t i = 0; i < d.pairs.size(); ++i) {
    EXPECT_EQ(d.pairs[i].chosen, again.pairs[i].chosen);
    EXPECT_EQ(d.pairs[i].chosen_response, again.pairs[i].chosen_response);
  }
}

TEST(OpinionBuilder, OptionMapMergesBeliefsAndAnswersFileIsUsed) {
  test::TempDir dir;
  test::write_file(dir.file("g.jsonl"),
                   R"x({"question":"Q1?","selections":"defaultdict(<class 'list'>, {'Chile': [0.2, 0.3, 0.5]})",)x"
                   R"x("options":"['Favor', 'Support', 'Oppose']","source":"GAS"})x"
                   "\n");
  test::write_file(dir.file("map.json"), R"({"Favor": 4, "Support": 4, "Oppose": 2})");
  test::write_file(dir.file("answers.jsonl"),
                   R"({"question":"Q1?","option":"Oppose","text":"No way."})"
                   "\n"
                   R"({"question":"Q1?","belief":4,"texts":["Yes please."]})"
                   "\n");
  OpinionBuildConfig c;
  c.country = "Chile";
  c.option_map = dir.file("map.json");
  c.answers = dir.file("answers.jsonl");
  c.pairs_per_question = 4;
  const Dataset d = build_opinion(dir.file("g.jsonl"), c);
  ASSERT_EQ(d.questions.size(), 1u);
  const Question& q = d.questions[0];
  EXPECT_EQ(q.options, (std::vector<std::string>{"Oppose", "Favor / Support"}));
  EXPECT_EQ(q.belief_ids, (std::vector<std::string>{"2", "4"}));
  EXPECT_NEAR(q.probabilities[0], 0.5, 1e-12);
  EXPECT_NEAR(q.probabilities[1], 0.5, 1e-12);
  for (const auto& p : d.pairs) {
    EXPECT_EQ(p.chosen_response, p.chosen == 0 ? "No way." : "Yes please.");
    EXPECT_EQ(p.extra["style"], "answers");
  }
  EXPECT_EQ(d.notes.total(), 0);
}

TEST(OpinionBuilder, BadRowsNameFileLineAndColumn) {
  test::TempDir dir;
  test::write_file(dir.file("bad.csv"),
                   "question,selections,options,source\n"
                   "\"Q\",\"defaultdict(<class 'list'>, {'United States': [0.5, 0.5]})\",\"['a', 'b']\",GAS\n"
                   "\"Q2\",\"defaultdict(<class 'list'>, {'United States': [0.5, 0.5})\",\"['a', 'b']\",GAS\n"
                   "\"Q3\",\"defaultdict(<class 'list'>, {'United States': [0.5, 0.2, 0.3]})\",\"['a', 'b']\",GAS\n"
                   "\"Q4\",\"defaultdict(<class 'list'>, {'United States': [-0.5, 1.5]})\",\"['a', 'b']\",GAS\n");
  OpinionBuildConfig c;
  const std::string msg = error_of([&] { build_opinion(dir.file("bad.csv"), c); });
  EXPECT_NE(msg.find("bad.csv:3:62: Python literal: expected ',' or ']'"), std::string::npos) << msg;
  c.skip_invalid = true;
  const Dataset d = build_opinion(dir.file("bad.csv"), c);
  EXPECT_EQ(d.questions.size(), 1u);
  EXPECT_EQ(d.skipped.count("malformed rows"), 1);
  EXPECT_EQ(d.skipped.count("probabilities of the wrong length"), 1);
  EXPECT_EQ(d.skipped.count("bad probabilities"), 1);
  c.option_map = dir.file("nomap.json");
  EXPECT_THROW(build_opinion(dir.file("bad.csv"), c), InputError);
}

TEST(OpinionBuilder, LetterIds) {
  test::TempDir dir;
  test::write_file(dir.file("g.csv"), kGoqaCsv);
  OpinionBuildConfig c;
  c.belief_ids = "letters";
  c.country = "Japan";
  const Dataset d = build_opinion(dir.file("g.csv"), c);
  ASSERT_EQ(d.questions.size(), 2u);
  EXPECT_EQ(d.questions[0].belief_ids, (std::vector<std::string>{"A", "B", "C"}));
  // Japan answered "Yes" only on the second question: every chosen belief is A.
  for (const auto& p : d.pairs)
    if (p.question == 1) {
      EXPECT_EQ(p.chosen, 0);
    }
}

const char* kSnap =
    "product/productId: B001\nproduct/title: Some Film\nreview/userId: U1\nreview/score: 5.0\n"
    "review/summary: good\nreview/text: Loved it.<br />Really.\n\n"
    "product/productId: B001\nreview/score: 2.0\nreview/text: Not for me.\n\n"
    "product/productId: B001\nreview/score: 5.0\nreview/text: Great fun.\n\n"
    "product/productId: B002\nreview/score: 4.0\nreview/text: Only one review.\n";

TEST(ReviewBuilder, SnapText) {
  test::TempDir dir;
  test::write_file(dir.file("movies.txt"), kSnap);
  ReviewBuildConfig c;
  c.min_reviews = 2;
  const Dataset d = build_reviews({dir.file("movies.txt")}, c);
  EXPECT_EQ(d.kind, DatasetKind::kReview);
  ASSERT_EQ(d.questions.size(), 1u);
  EXPECT_EQ(d.skipped.count("movies with fewer than 2 reviews"), 1);
  const Question& q = d.questions[0];
  EXPECT_EQ(q.prompt, "Write a review of the movie \"Some Film\" (B001).");
  EXPECT_EQ(q.belief_ids, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_NEAR(q.probabilities[4], 2.0 / 3, 1e-12);
  EXPECT_NEAR(q.probabilities[1], 1.0 / 3, 1e-12);
  ASSERT_EQ(d.pairs.size(), 3u);
  EXPECT_EQ(d.pairs[0].chosen_response, "Loved it.\nReally.");
  EXPECT_EQ(d.pairs[0].rejected_response, "Not for me.");  // the only other rating
  EXPECT_EQ(d.pairs[1].chosen, 1);
  EXPECT_EQ(d.pairs[1].rejected, 4);
  EXPECT_EQ(render_pair(d, d.pairs[0], PairMode::kDpo).rejected(), "2Not for me.");
}

TEST(ReviewBuilder, JsonLinesAndBadRecords) {
  test::TempDir dir;
  test::write_file(dir.file("r.json"),
                   R"({"overall": 5.0, "asin": "A1", "reviewText": "Top."})" "\n"
                   R"({"overall": 1.0, "asin": "A1", "reviewText": "Bad.", "helpful": [0, 1]})" "\n"
                   R"({"overall": 3.0, "asin": "A1"})" "\n"
                   R"({"overall": 3.5, "asin": "A1", "reviewText": "Half."})" "\n");
  ReviewBuildConfig c;
  c.min_reviews = 2;
  EXPECT_NE(error_of([&] { build_reviews({dir.file("r.json")}, c); })
                .find("r.json:4: the rating 3.5"),
            std::string::npos);
  c.skip_invalid = true;
  const Dataset d = build_reviews({dir.file("r.json")}, c);
  EXPECT_EQ(d.pairs.size(), 2u);
  EXPECT_EQ(d.skipped.count("reviews without text"), 1);
  EXPECT_EQ(d.skipped.count("bad ratings"), 1);
  EXPECT_EQ(d.questions[0].prompt, "Write a review of the movie A1.");
}

TEST(ReviewBuilder, GzipGetsAClearMessage) {
  test::TempDir dir;
  test::write_file(dir.file("m.txt.gz"), std::string("\x1f\x8b\x08\x00", 4));
  EXPECT_NE(error_of([&] { build_reviews({dir.file("m.txt.gz")}, {}); }).find("gunzip -k"),
            std::string::npos);
}

TEST(Synthetic, DeterministicWithKnownPStar) {
  SyntheticConfig c;
  c.questions = 5;
  c.beliefs = 3;
  c.pairs_per_question = 400;
  c.probabilities = {0.6, 0.3, 0.1};
  c.seed = 11;
  const Dataset d = make_synthetic(c);
  ASSERT_EQ(d.pairs.size(), 2000u);
  std::vector<double> freq(3);
  for (const auto& p : d.pairs) {
    EXPECT_NE(p.chosen, p.rejected);
    const Question& q = d.questions[p.question];
    EXPECT_NE(p.chosen_response.find(q.options[p.chosen]), std::string::npos);
    freq[p.chosen] += 1.0 / 2000;
  }
  EXPECT_NEAR(freq[0], 0.6, 0.05);
  EXPECT_NEAR(freq[2], 0.1, 0.05);
  const Dataset again = make_synthetic(c);
  EXPECT_EQ(again.pairs[1234].chosen_response, d.pairs[1234].chosen_response);
  c.probabilities.clear();
  c.alpha = 0.5;
  const Dataset dir1 = make_synthetic(c);
  for (const auto& q : dir1.questions) {
    double s = 0;
    for (double p : q.probabilities) s += p;
    EXPECT_NEAR(s, 1.0, 1e-12);
  }
  EXPECT_EQ(dir1.questions[0].probabilities, make_synthetic(c).questions[0].probabilities);
  c.beliefs = 11;
  EXPECT_THROW(make_synthetic(c), UsageError);
}

// Review kind: ratings 1..K as ids and options (as the review builder writes them), responses
// `{rating}{text}` with no choice text, and the same draws of beliefs as the opinion kind. Written
// and read back, the file is detected as reviews and gives the same pairs.
TEST(Synthetic, ReviewsRateOneToKAndReadBackAsReviews) {
  test::TempDir dir;
  for (int64_t k : {2, 5, 9}) {
    SyntheticConfig c;
    c.questions = 6;
    c.beliefs = k;
    c.pairs_per_question = 20;
    c.seed = 4;
    const Dataset opinion = make_synthetic(c);
    c.kind = DatasetKind::kReview;
    const Dataset d = make_synthetic(c);
    EXPECT_EQ(d.kind, DatasetKind::kReview);
    ASSERT_EQ(d.pairs.size(), opinion.pairs.size());
    for (size_t i = 0; i < d.pairs.size(); ++i) {
      EXPECT_EQ(d.pairs[i].chosen, opinion.pairs[i].chosen);
      EXPECT_EQ(d.pairs[i].rejected, opinion.pairs[i].rejected);
    }
    const Question& q = d.questions[0];
    for (int64_t b = 0; b < k; ++b) {
      EXPECT_EQ(q.belief_ids[b], std::to_string(b + 1));
      EXPECT_EQ(q.options[b], std::to_string(b + 1));
    }
    const Pair& p = d.pairs[0];
    EXPECT_EQ(render_belief(d.kind, q, p.chosen), std::to_string(p.chosen + 1));
    EXPECT_EQ(p.chosen_response.rfind(" stars", 0), 0u) << p.chosen_response;
    write_records(dir.file("r.jsonl"), d);
    const Dataset back = read_records(dir.file("r.jsonl"));
    EXPECT_EQ(back.kind, DatasetKind::kReview);
    ASSERT_EQ(back.pairs.size(), d.pairs.size());
    for (size_t i = 0; i < d.pairs.size(); ++i) {
      EXPECT_EQ(back.pairs[i].chosen, d.pairs[i].chosen);
      EXPECT_EQ(back.pairs[i].rejected, d.pairs[i].rejected);
      EXPECT_EQ(back.pairs[i].chosen_response, d.pairs[i].chosen_response);
    }
  }
  SyntheticConfig c;
  c.kind = DatasetKind::kReview;
  c.beliefs = 10;  // "10" would be two digits
  EXPECT_THROW(make_synthetic(c), UsageError);
}

TEST(SharedData, GlobalOpinionSample) {
  GDPO_REQUIRE_SHARED_DATA(csv, "global_opinions/global_opinions_sample.csv");
  OpinionBuildConfig c;
  c.pairs_per_question = 2;
  const Dataset d = build_opinion(csv, c);
  EXPECT_EQ(d.questions.size(), 103u);  // README: 103 questions with the United States
  EXPECT_EQ(d.pairs.size(), 206u);
  EXPECT_EQ(d.skipped.count("questions without United States"), 1277 - 103);
}

TEST(SharedData, GlobalOpinionSampleWithTheAuthorsOptionMap) {
  GDPO_REQUIRE_SHARED_DATA(csv, "global_opinions/global_opinions_sample.csv");
  GDPO_REQUIRE_SHARED_DATA(map, "gdpo/option_map.json");
  OpinionBuildConfig c;
  c.option_map = map;
  c.skip_invalid = true;  // options the map does not know are counted
  const Dataset d = build_opinion(csv, c);
  EXPECT_GT(d.questions.size(), 0u);
  for (const auto& q : d.questions)
    for (const auto& id : q.belief_ids) EXPECT_TRUE(id.size() == 1 && id[0] >= '0' && id[0] <= '5');
}

TEST(SharedData, AmazonSamples) {
  GDPO_REQUIRE_SHARED_DATA(snap, "amazon/movies.sample.txt");
  GDPO_REQUIRE_SHARED_DATA(json, "amazon/Movies_and_TV_5.sample.json");
  ReviewBuildConfig c;
  c.min_reviews = 2;
  SkipCounts s1, s2;
  EXPECT_EQ(read_reviews(snap, false, s1).size() + s1.total(), 89u);
  EXPECT_EQ(read_reviews(json, false, s2).size() + s2.total(), 633u);
  const Dataset d = build_reviews({snap, json}, c);
  EXPECT_GT(d.pairs.size(), 0u);
}

}  // namespace
}  // namespace gdpo::data
