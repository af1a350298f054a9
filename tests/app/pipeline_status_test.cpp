// `gdpo inspect` on a pipeline directory of jobs/*.sh: the stages of stages.txt in its order with
// the state each stage.json last recorded, "planned" for a stage with none yet, stage directories
// of other configurations counted apart, and bad state files refused naming the file.
#include "pipeline_status.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "gdpo/core/error.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::app {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

std::string state_json(const std::string& state, const std::string& job = "77",
                       const std::string& exit_code = "null") {
  return "{\"state\": \"" + state + "\", \"job\": \"" + job + "\", \"array_task\": \"3\", " +
         "\"restarts\": 1, \"exit_code\": " + exit_code + ", \"host\": \"n1\", " +
         "\"updated\": \"2026-12-01T00:00:00Z\"}\n";
}

// A pipeline folder with `stages` (group/name -> state file text; "" = no state file).
void make_pipeline(const TempDir& dir, const std::vector<std::pair<std::string, std::string>>& stages,
                   const std::string& plan) {
  fs::create_directories(dir.path() / "tasks");
  fs::create_directories(dir.path() / "logs");
  for (const auto& [stage, json] : stages) {
    fs::create_directories(dir.path() / stage);
    if (!json.empty()) write_file((dir.path() / stage / "stage.json").string(), json);
  }
  if (!plan.empty()) write_file(dir.file("stages.txt"), plan);
}

TEST(PipelineStatus, StagesFollowThePlanWithTheirRecordedStates) {
  TempDir dir;
  make_pipeline(dir,
                {{"data/usa-1", state_json("done", "10", "0")},
                 {"sft/usa-m-2", state_json("running", "11")},
                 {"train/usa-m-gdpo-3", ""},
                 {"sft/usa-m-old", state_json("failed", "9", "2")}},  // another configuration's
                "data/usa-1\nsft/usa-m-2\ntrain/usa-m-gdpo-3\n");
  int64_t superseded = -1;
  const auto stages = read_pipeline(dir.path().string(), &superseded);
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[0].group, "data");
  EXPECT_EQ(stages[0].state, "done");
  EXPECT_EQ(stages[0].exit_code, "0");
  EXPECT_EQ(stages[1].name, "usa-m-2");
  EXPECT_EQ(stages[1].state, "running");
  EXPECT_EQ(stages[1].job, "11");
  EXPECT_EQ(stages[1].array_task, "3");
  EXPECT_EQ(stages[1].restarts, 1);
  EXPECT_EQ(stages[1].exit_code, "");
  EXPECT_EQ(stages[2].state, "planned");
  EXPECT_EQ(superseded, 1);

  const auto r = test::run_app("inspect " + dir.path().string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 stages, 1 done, 1 running, 1 planned"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 stage directories of other configurations not shown"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("sft/usa-m-2"), std::string::npos);
  EXPECT_NE(r.output.find("11_3"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("usa-m-old"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("failed"), std::string::npos) << r.output;
}

TEST(PipelineStatus, WithoutAPlanEveryStageInPipelineOrderAndFailuresSaidSo) {
  TempDir dir;
  make_pipeline(dir,
                {{"tables/t-1", state_json("waiting")},
                 {"evaluate/b", state_json("waiting")},
                 {"data/x", state_json("failed", "", "3")},
                 {"generate/a", state_json("requeued")}},
                "");
  const auto stages = read_pipeline(dir.path().string());
  ASSERT_EQ(stages.size(), 4u);
  EXPECT_EQ(stages[0].group, "data");
  EXPECT_EQ(stages[1].group, "generate");
  EXPECT_EQ(stages[2].group, "evaluate");
  EXPECT_EQ(stages[3].group, "tables");
  const auto r = test::run_app("inspect " + dir.path().string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 requeued, 2 waiting, 1 failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 stage(s) failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("local"), std::string::npos) << r.output;  // no job: run with --local
}

// Every malformed state file is an input error (exit 3) naming it.
TEST(PipelineStatus, BadStateFilesAreRefusedNamingThem) {
  const std::vector<std::string> bad = {
      "",
      "{",
      "[]",
      "{\"job\": \"1\"}",
      state_json("finished"),
      state_json("done").replace(state_json("done").find("\"restarts\": 1"), 13, "\"restarts\": -1"),
      state_json("done").replace(state_json("done").find("\"restarts\": 1"), 13, "\"restarts\": \"x\""),
      state_json("done").replace(state_json("done").find("\"job\": \"77\""), 11, "\"job\": [1]"),
  };
  for (const auto& text : bad) {
    TempDir dir;
    make_pipeline(dir, {{"sft/a", "x"}}, "sft/a\n");
    write_file(dir.file("sft/a/stage.json"), text);
    SCOPED_TRACE(text);
    EXPECT_THROW(read_pipeline(dir.path().string()), InputError);
    const auto r = test::run_app("inspect " + dir.path().string());
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_NE(r.output.find(dir.file("sft/a/stage.json")), std::string::npos) << r.output;
  }
  for (const std::string plan : {"nogroup\n", "/a\n", "sft/\n", "sft/a/b\n"}) {
    TempDir dir;
    make_pipeline(dir, {}, plan);
    const auto r = test::run_app("inspect " + dir.path().string());
    EXPECT_EQ(r.exit_code, 3) << plan << r.output;
    EXPECT_NE(r.output.find(dir.file("stages.txt") + ":1:"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace gdpo::app
