// The belief judge's examples: one per distinct (question, belief, response), each response with
// the belief it was written for, the judge prompt "{question}<O>{id}<{option}>...<R>{response}" and a
// one-hot p*.
#include <gtest/gtest.h>

#include <sstream>

#include "gdpo/data/judge_data.hpp"
#include "gdpo/data/record.hpp"

namespace gdpo::data {
namespace {

TEST(JudgeData, EveryResponseWithItsOwnBeliefOnce) {
  std::istringstream in(
      R"({"prompt":"Q?","options":["red","blue","green"],"probabilities":[0.2,0.5,0.3],"accept_choice_id":0,"accept_choice":"red","accept_response":"I like red","reject_choice_id":2,"reject_choice":"green","reject_response":"green it is"})"
      "\n"
      R"({"prompt":"Q?","options":["red","blue","green"],"probabilities":[0.2,0.5,0.3],"accept_choice_id":0,"accept_choice":"red","accept_response":"I like red","reject_choice_id":1,"reject_choice":"blue","reject_response":""})"
      "\n");
  const Dataset d = parse_records(in, "p.jsonl");
  const Dataset j = make_judge_data(d);
  // "I like red" (0) once, "green it is" (2); the empty rejected response is left out and counted.
  ASSERT_EQ(j.pairs.size(), 2u);
  ASSERT_EQ(j.questions.size(), 2u);
  EXPECT_EQ(render_prompt(j.questions[0]), "<Q>Q?<O>0<red><O>1<blue><O>2<green><R>I like red<A>");
  EXPECT_EQ(j.pairs[0].chosen, 0);
  EXPECT_EQ(j.questions[0].probabilities, (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(render_prompt(j.questions[1]), "<Q>Q?<O>0<red><O>1<blue><O>2<green><R>green it is<A>");
  EXPECT_EQ(j.pairs[1].chosen, 2);
  EXPECT_EQ(j.pairs[1].rejected, 0);  // the next belief, wrapping
  EXPECT_EQ(j.questions[1].options, d.questions[0].options);
  EXPECT_EQ(j.skipped.total(), 1);
  // The SFT target is the belief span alone: "{id}<{option}>" and an empty response.
  const RenderedPair r = render_pair(j, j.pairs[1], PairMode::kGdpo);
  EXPECT_EQ(r.chosen(), "2<green>");
}

}  // namespace
}  // namespace gdpo::data
