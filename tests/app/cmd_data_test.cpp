// `gdpo data ...` end to end, in-process: synthetic with a split, stats, show, cache twice, and the
// exit codes of bad input (3) and bad usage (2).
#include <gtest/gtest.h>

#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::data {
namespace {

using gdpo::test::run_app;

TEST(DataCommand, SyntheticSplitStatsShowCache) {
  gdpo::test::TempDir dir;
  auto r = run_app("data synthetic --data.questions 20 --data.pairs-per-question 2 --data.output " +
                    dir.file("syn.jsonl") + " --data.split-output --data.seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote 32 pairs of 16 questions"), std::string::npos) << r.output;
  r = run_app("data stats " + dir.file("syn_train.jsonl") + " " + dir.file("syn_eval.jsonl") + " " +
               dir.file("syn_test.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("syn "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("16         2         2        32         4         4"), std::string::npos)
      << r.output;
  r = run_app("data show " + dir.file("syn_train.jsonl") + " --data.count 1 --data.mode dpo");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("prompt:   <Q>Q"), std::string::npos) << r.output;
  const std::string tok = "data cache " + dir.file("syn_train.jsonl") + " --data.cache-dir " +
                          dir.file("cache") + " --data.split 1,0";
  r = run_app(tok);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tokenizing"), std::string::npos) << r.output;
  r = run_app(tok);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("from cache"), std::string::npos) << r.output;
}

TEST(DataCommand, ExitCodes) {
  gdpo::test::TempDir dir;
  gdpo::test::write_file(dir.file("bad.jsonl"), "{\"prompt\": 1}\n");
  auto r = run_app("data show " + dir.file("bad.jsonl"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:1: "), std::string::npos) << r.output;
  r = run_app("data synthetic --data.output " + dir.file("x.jsonl") + " --data.beliefs 12");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_app("data frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace gdpo::data
