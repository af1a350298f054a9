// Records: the exact rendered texts (opinion, review; GDPO vs DPO), grouping by question, ids, the
// JSONL round trip, and every bad-input case with its message (and its count with skip-invalid).
#include "gdpo/data/record.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"

namespace gdpo::data {
namespace {

const char* kOpinionLine =
    R"({"context":"Ctx. ","prompt":"Is tea good?","options":["Yes","No"],"probabilities":[0.7,0.3],)"
    R"("accept_choice_id":0,"accept_choice":"Yes","accept_response":" I like tea.",)"
    R"("reject_choice_id":1,"reject_choice":"No","reject_response":" Tea is bad."})";

Dataset parse(const std::string& text, ReadOptions o = {}) {
  std::istringstream in(text);
  return parse_records(in, "f.jsonl", o);
}

std::string record_error(const std::string& text, ReadOptions o = {}) {
  try {
    parse(text, o);
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Records, OpinionRenderingGdpoAndDpo) {
  const Dataset d = parse(std::string(kOpinionLine) + "\n");
  ASSERT_EQ(d.kind, DatasetKind::kOpinion);
  ASSERT_EQ(d.pairs.size(), 1u);
  const auto g = render_pair(d, d.pairs[0], PairMode::kGdpo);
  EXPECT_EQ(g.prompt, "Ctx. <Q>Is tea good?<A>");
  EXPECT_EQ(g.chosen(), "0<Yes> I like tea.");
  EXPECT_EQ(g.rejected(), "0<Yes> Tea is bad.");  // GDPO: the chosen belief, the rejected text
  const auto p = render_pair(d, d.pairs[0], PairMode::kDpo);
  EXPECT_EQ(p.chosen(), "0<Yes> I like tea.");
  EXPECT_EQ(p.rejected(), "1<No> Tea is bad.");
  EXPECT_EQ(d.questions[0].belief_ids, (std::vector<std::string>{"0", "1"}));
}

TEST(Records, ReviewRenderingAndDetection) {
  const Dataset d = parse(
      R"({"prompt":"Review B01.","options":["1","2","3","4","5"],"probabilities":[0,0,0.5,0,0.5],)"
      R"("accept_choice_id":5,"accept_response":"Great.","reject_choice_id":3,"reject_response":"Meh."})"
      "\n");
  ASSERT_EQ(d.kind, DatasetKind::kReview);
  const auto g = render_pair(d, d.pairs[0], PairMode::kGdpo);
  EXPECT_EQ(g.prompt, "<Q>Review B01.<A>");
  EXPECT_EQ(g.chosen(), "5Great.");
  EXPECT_EQ(g.rejected(), "5Meh.");
  EXPECT_EQ(render_pair(d, d.pairs[0], PairMode::kDpo).rejected(), "3Meh.");
  EXPECT_EQ(d.pairs[0].chosen, 4);
  EXPECT_EQ(d.pairs[0].rejected, 2);
}

TEST(Records, OneBasedIdsFromTheChoiceText) {
  const Dataset d = parse(
      R"({"prompt":"Q","options":["a","b","c"],"probabilities":[0.2,0.3,0.5],"accept_choice_id":3,)"
      R"("accept_choice":"c","accept_response":"x","reject_choice_id":1,"reject_choice":"a","reject_response":"y"})"
      "\n");
  EXPECT_EQ(d.questions[0].belief_ids, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(d.pairs[0].chosen, 2);
  EXPECT_EQ(d.pairs[0].rejected, 0);
}

TEST(Records, OptionsMapGivesTheIdsAndRoundTrips) {
  gdpo::test::TempDir dir;
  const Dataset d = parse(
      R"({"prompt":"Q","options":["Oppose","Favor"],"probabilities":[0.4,0.6],"options_map":{"Favor":4,"Oppose":2},)"
      R"("accept_choice_id":4,"accept_choice":"Favor","accept_response":"x","reject_choice_id":2,)"
      R"("reject_choice":"Oppose","reject_response":"y","style":"casual"})"
      "\n");
  EXPECT_EQ(d.questions[0].belief_ids, (std::vector<std::string>{"2", "4"}));
  EXPECT_EQ(render_pair(d, d.pairs[0], PairMode::kDpo).rejected(), "2<Oppose>y");
  write_records(dir.file("o.jsonl"), d);
  const Dataset back = read_records(dir.file("o.jsonl"));
  EXPECT_EQ(back.questions[0].belief_ids, d.questions[0].belief_ids);
  EXPECT_EQ(back.pairs[0].extra["style"], "casual");
  EXPECT_EQ(gdpo::test::read_file(dir.file("o.jsonl")), [&] {
    write_records(dir.file("o2.jsonl"), back);
    return gdpo::test::read_file(dir.file("o2.jsonl"));
  }());
}

TEST(Records, PairsGroupByQuestion) {
  std::string two = std::string(kOpinionLine) + "\n" + kOpinionLine + "\n";
  const Dataset d = parse(two);
  EXPECT_EQ(d.questions.size(), 1u);
  EXPECT_EQ(d.pairs.size(), 2u);
  EXPECT_EQ(d.pairs[1].question, 0);
  EXPECT_EQ(d.pairs[1].line, 2);
}

TEST(Records, DisagreeingQuestionNamesBothLines) {
  std::string other = kOpinionLine;
  other.replace(other.find("[0.7,0.3]"), 9, "[0.6,0.4]");
  const std::string msg = record_error(std::string(kOpinionLine) + "\n\n" + other + "\n");
  EXPECT_NE(msg.find("f.jsonl:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at line 1"), std::string::npos) << msg;
}

struct BadCase {
  std::string from, to;  // replace in kOpinionLine
  std::string message;   // expected in the error
  std::string reason;    // skip reason
};

TEST(Records, EveryBadInputIsAnInputErrorNamingTheLineOrACountedSkip) {
  const std::vector<BadCase> cases = {
      {"{\"context\"", "{\"context\" x", "malformed JSON", "malformed JSON"},
      {"\"prompt\":\"Is tea good?\",", "", "missing field 'prompt'", "missing field"},
      {"[0.7,0.3]", "[0.7,-0.3]", "must be finite and >= 0", "bad probabilities"},
      {"[0.7,0.3]", "[0.7]", "has 1 entries for 2 options", "probabilities of the wrong length"},
      {"[0.7,0.3]", "[0.7,0.2]", "sum to 0.9, not 1 within 0.001", "probabilities do not sum to 1"},
      {"\"accept_choice_id\":0", "\"accept_choice_id\":7", "accept_choice_id '7' is not one of",
       "choice id outside the options"},
      {"\"accept_choice\":\"Yes\"", "\"accept_choice\":\"No\"", "accept_choice 'No' is not option 0",
       "choice text does not match its id"},
      {"\"reject_choice\":\"No\",", "", "missing field 'reject_choice'", "missing field"},
      {"I like tea.", "I like t\xff" "a.", "invalid UTF-8 at byte", "invalid UTF-8"},
      {"[\"Yes\",\"No\"]", "[\"Yes\",2]", "'options' holds a non-string", "bad options"},
  };
  for (const auto& c : cases) {
    std::string line = kOpinionLine;
    ASSERT_NE(line.find(c.from), std::string::npos) << c.from;
    line.replace(line.find(c.from), c.from.size(), c.to);
    const std::string text = std::string(kOpinionLine) + "\n" + line + "\n";
    const std::string msg = record_error(text);
    EXPECT_NE(msg.find("f.jsonl:2: "), std::string::npos) << c.message << " -> " << msg;
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.message << " -> " << msg;
    ReadOptions skip;
    skip.skip_invalid = true;
    const Dataset d = parse(text, skip);
    EXPECT_EQ(d.pairs.size(), 1u) << c.message;
    EXPECT_EQ(d.skipped.count(c.reason), 1) << c.message << ": " << d.skipped.summary();
  }
}

TEST(Records, NanProbabilityIsRejected) {
  // JSON has no NaN literal, so a NaN can only arrive as a malformed number.
  std::string line = kOpinionLine;
  line.replace(line.find("[0.7,0.3]"), 9, "[NaN,0.3]");
  EXPECT_NE(record_error(line).find("f.jsonl:1: malformed JSON"), std::string::npos);
}

TEST(Records, RenormalizeOnlyWhenAsked) {
  std::string line = kOpinionLine;
  line.replace(line.find("[0.7,0.3]"), 9, "[1.4,0.6]");
  EXPECT_NE(record_error(line).find("--data.renormalize"), std::string::npos);
  ReadOptions o;
  o.renormalize = true;
  const Dataset d = parse(line, o);
  EXPECT_DOUBLE_EQ(d.questions[0].probabilities[0], 0.7);
}

TEST(Records, ProbabilitiesWithinTheToleranceAreUsedAsGiven) {
  // 0.7 + 0.2995 = 0.9995: within the default 1e-3, kept exactly (not rescaled to 0.7004, 0.2996).
  std::string line = kOpinionLine;
  line.replace(line.find("[0.7,0.3]"), 9, "[0.7,0.2995]");
  Dataset d = parse(line);
  EXPECT_EQ(d.questions[0].probabilities, (std::vector<double>{0.7, 0.2995}));
  ReadOptions o;
  o.renormalize = true;  // rescales only sums off by more than the tolerance
  d = parse(line, o);
  EXPECT_EQ(d.questions[0].probabilities, (std::vector<double>{0.7, 0.2995}));
  // 0.7 + 0.298 = 0.998: off by 2e-3, an InputError naming the file and line.
  line = kOpinionLine;
  line.replace(line.find("[0.7,0.3]"), 9, "[0.7,0.298]");
  EXPECT_NE(record_error(line).find("f.jsonl:1: 'probabilities' sum to 0.998, not 1 within 0.001"),
            std::string::npos)
      << record_error(line);
  o.renormalize = false;
  o.tolerance = 0.01;  // accepted as given under a looser tolerance
  EXPECT_EQ(parse(line, o).questions[0].probabilities, (std::vector<double>{0.7, 0.298}));
}

TEST(Records, MissingFileIsAnInputError) {
  EXPECT_THROW(read_records("/nonexistent/x.jsonl"), InputError);
}

}  // namespace
}  // namespace gdpo::data
