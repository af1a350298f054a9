// Sampled belief distribution, majority bias, class-belief consistency and the authors' reference
// rows (evaluate.py, commit 4d6a59e), on hand-computed values.
#include "gdpo/eval/belief_metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"
#include "eval/parse_fixture.hpp"

namespace gdpo::eval {
namespace {

using fixture::opinion;

TEST(BeliefMetrics, SampledDistributionBinsUnparsableAndOutOfRangeToZero) {
  // ids {0, 1, 1, 5, -1 (unparsable), 9 (out of range)} over 6 bins: bin 0 gets 0, -1, 9 (3),
  // bin 1 gets 2, bin 5 gets 1; divided by 6 samples.
  const auto q = sampled_distribution({0, 1, 1, 5, -1, 9}, 6);
  ASSERT_EQ(q.size(), 6u);
  EXPECT_DOUBLE_EQ(q[0], 3.0 / 6);
  EXPECT_DOUBLE_EQ(q[1], 2.0 / 6);
  EXPECT_EQ(q[2], 0.0);
  EXPECT_EQ(q[3], 0.0);
  EXPECT_EQ(q[4], 0.0);
  EXPECT_DOUBLE_EQ(q[5], 1.0 / 6);
  // K = 4: id 5 is out of range there.
  const auto q4 = sampled_distribution({5, 3}, 4);
  EXPECT_EQ(q4, (std::vector<double>{0.5, 0, 0, 0.5}));
  EXPECT_THROW(sampled_distribution({}, 6), Error);
  EXPECT_THROW(sampled_distribution({1}, 0), Error);
}

TEST(BeliefMetrics, MajorityBiasReadsTheFirstArgmaxOfPstar) {
  // argmax p* = 1 (0.5): 0.25 / 0.5 = 0.5.
  EXPECT_DOUBLE_EQ(majority_bias({0.1, 0.25, 0.65}, {0.2, 0.5, 0.3}), 0.5);
  // Tie at 0.4: the first (index 0): 0.6 / 0.4 = 1.5.
  EXPECT_DOUBLE_EQ(majority_bias({0.6, 0.0, 0.4}, {0.4, 0.4, 0.2}), 1.5);
  EXPECT_TRUE(std::isnan(majority_bias({1, 0}, {0, 0})));
  EXPECT_THROW(majority_bias({1}, {0.5, 0.5}), Error);
}

TEST(BeliefMetrics, OptionMapLoadsTheAuthorsFormat) {
  test::TempDir dir;
  const std::string path = dir.file("option_map.json");
  test::write_file(path, R"({"Yes": 4, "No": 2, "Not a moral issue": 0, "Tr\u00e8s bien": 5,
                             "No": 1})");
  const OptionMap map = OptionMap::load(path);
  EXPECT_EQ(map.size(), 4u);
  ASSERT_NE(map.find("Yes"), nullptr);
  EXPECT_EQ(*map.find("Yes"), "4");
  EXPECT_EQ(*map.find("No"), "1");  // duplicate key: the last value, as json.load
  EXPECT_EQ(*map.find("Tr\u00e8s bien"), "5");
  EXPECT_EQ(map.find("yes"), nullptr);
}

TEST(BeliefMetrics, OptionMapLoadsTheAuthorsFile) {
  GDPO_REQUIRE_SHARED_DATA(path, "gdpo/option_map.json");
  const OptionMap map = OptionMap::load(path);
  EXPECT_EQ(map.size(), 373u);
  ASSERT_NE(map.find("Better"), nullptr);
  EXPECT_EQ(*map.find("Better"), "4");
  EXPECT_EQ(*map.find("Not a moral issue"), "0");
}

TEST(BeliefMetrics, OptionMapLoadErrorsNameTheFile) {
  test::TempDir dir;
  const auto expect_input_error = [&](const std::string& name, const std::string& text,
                                      const std::string& needle) {
    const std::string path = dir.file(name);
    if (!text.empty()) test::write_file(path, text);
    try {
      OptionMap::load(path);
      FAIL() << "expected InputError for " << name;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  };
  expect_input_error("bad.json", R"({"Yes": 4,)", "not valid JSON");
  expect_input_error("array.json", "[1, 2]", "JSON object");
  expect_input_error("float.json", R"({"Yes": 4.5})", "\"Yes\"");
  expect_input_error("string.json", R"({"Yes": "4"})", "\"Yes\"");
  expect_input_error("bool.json", R"({"Yes": true})", "\"Yes\"");
  expect_input_error("missing.json", "", "cannot open");
}

TEST(BeliefMetrics, ClassBeliefConsistencyComparesTheMappedIdWithOp) {
  test::TempDir dir;
  const std::string path = dir.file("map.json");
  test::write_file(path, R"({"Yes": 4, "Not a moral issue": 0})");
  const OptionMap map = OptionMap::load(path);
  EXPECT_TRUE(class_belief_consistent(opinion("4<Yes> sure"), map));
  EXPECT_FALSE(class_belief_consistent(opinion("2<Yes> sure"), map));   // 4 != 2
  EXPECT_FALSE(class_belief_consistent(opinion("4<yes> sure"), map));   // exact text only
  EXPECT_FALSE(class_belief_consistent(opinion("4< Yes> sure"), map));  // no strip
  EXPECT_FALSE(class_belief_consistent(opinion("4 Yes"), map));         // no brackets
  EXPECT_FALSE(class_belief_consistent(opinion("4<Maybe> x"), map));    // not in the map
  // Unparsable first character: op = 0 in theirs, so a text mapped to 0 counts.
  EXPECT_TRUE(class_belief_consistent(opinion("x<Not a moral issue> y"), map));
  EXPECT_FALSE(class_belief_consistent(opinion("x<Yes> y"), map));
}

TEST(BeliefMetrics, OptionMapFromAQuestion) {
  const OptionMap map = OptionMap::from_question({"Very good", "Bad", ""}, {"5", "1", "3"});
  EXPECT_EQ(map.size(), 2u);  // the empty option text is left out
  EXPECT_TRUE(class_belief_consistent(opinion("5<Very good> yes"), map));
  EXPECT_FALSE(class_belief_consistent(opinion("1<Very good> yes"), map));
  EXPECT_FALSE(class_belief_consistent(opinion("3<> meh"), map));
  // Letter ids never equal a digit op.
  const OptionMap letters = OptionMap::from_question({"Agree", "Disagree"}, {"A", "B"});
  EXPECT_FALSE(class_belief_consistent(opinion("0<Agree> x"), letters));
  EXPECT_THROW(OptionMap::from_question({"Yes", "Yes"}, {"1", "2"}), InputError);
  EXPECT_THROW(OptionMap::from_question({"Yes"}, {"1", "2"}), Error);
}

TEST(BeliefMetrics, ReferenceDistributions) {
  // p* = [0.1, 0.5, 0.15, 0.25]: max 0.5 at 1, min 0.1 at 0.
  const std::vector<double> pstar{0.1, 0.5, 0.15, 0.25};
  const auto rows = reference_distributions(pstar);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].first, "uniform");
  EXPECT_EQ(rows[0].second, (std::vector<double>{0.25, 0.25, 0.25, 0.25}));
  EXPECT_EQ(rows[1].first, "majority");
  EXPECT_EQ(rows[1].second, (std::vector<double>{0, 1, 0, 0}));
  // Sorted descending, position by position.
  EXPECT_EQ(rows[2].first, "reversed");
  EXPECT_EQ(rows[2].second, (std::vector<double>{0.5, 0.25, 0.15, 0.1}));
  // max - noise, min + noise, same arithmetic as Python.
  EXPECT_EQ(rows[3].first, "noise_0.05");
  EXPECT_EQ(rows[3].second, (std::vector<double>{0.1 + 0.05, 0.5 - 0.05, 0.15, 0.25}));
  EXPECT_EQ(rows[4].first, "noise_0.1");
  EXPECT_EQ(rows[4].second, (std::vector<double>{0.1 + 0.1, 0.5 - 0.1, 0.15, 0.25}));
  EXPECT_THROW(reference_distributions({}), Error);
}

TEST(BeliefMetrics, ReferenceDistributionQuirksKeptFromTheAuthors) {
  // Uniform p*: the first index gets -noise, then the first index still equal to min (index 1)
  // gets +noise.
  auto rows = reference_distributions({0.25, 0.25, 0.25, 0.25});
  EXPECT_EQ(rows[0].second, (std::vector<double>{0.25, 0.25, 0.25, 0.25}));
  EXPECT_EQ(rows[1].second, (std::vector<double>{1, 0, 0, 0}));  // first argmax
  EXPECT_EQ(rows[3].second, (std::vector<double>{0.25 - 0.05, 0.25 + 0.05, 0.25, 0.25}));
  // max - noise == min: 0.1 - 0.1 == 0.0, so the +0.1 lands back on index 0.
  rows = reference_distributions({0.1, 0.05, 0.0});
  EXPECT_EQ(rows[4].second, (std::vector<double>{0.1, 0.05, 0.0}));
  rows = reference_distributions({0.1, 0.0});
  EXPECT_EQ(rows[4].second, (std::vector<double>{0.1, 0.0}));
  // No clipping: K = 12 uniform-ish p* has max 1/12 < 0.1.
  rows = reference_distributions(std::vector<double>(12, 1.0 / 12));
  EXPECT_LT(rows[4].second[0], 0.0);
}

}  // namespace
}  // namespace gdpo::eval
