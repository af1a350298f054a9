// The program: one dispatcher for every command and nested command, one help format, errors
// mapped to exit codes, run in-process with its output captured (and once as the real binary).
#include <gtest/gtest.h>

#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

bool has(const RunResult& r, const std::string& text) {
  return r.output.find(text) != std::string::npos;
}

TEST(App, HelpListsCommandsAndGroupsOnce) {
  auto r = run_app("help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "Group Distributional Preference Optimization"));
  for (const char* name : {"train", "inspect", "tokenize", "data", "bench"})
    EXPECT_TRUE(has(r, "\n  " + std::string(name) + " ")) << name << "\n" << r.output;
  EXPECT_FALSE(has(r, "build-opinion")) << "group members belong to `gdpo data --help`";
  EXPECT_FALSE(has(r, "dist-check"));
}

TEST(App, AGroupListsItsCommandsInTheSameFormat) {
  auto r = run_app("data --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "usage: gdpo data <command> [options]")) << r.output;
  for (const char* name : {"build-opinion", "build-reviews", "synthetic", "split", "stats", "show",
                           "cache"})
    EXPECT_TRUE(has(r, "\n  " + std::string(name) + " ")) << name << "\n" << r.output;
  auto bench = run_app("help bench");
  EXPECT_EQ(bench.exit_code, 0);
  for (const char* name : {"step", "model", "data", "tokenize", "dist"})
    EXPECT_TRUE(has(bench, "\n  " + std::string(name) + " ")) << name << "\n" << bench.output;
}

TEST(App, AGroupWithoutACommandIsAUsageError) {
  auto r = run_app("bench");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r, "usage: gdpo bench <command>")) << r.output;
}

TEST(App, NestedCommandHelpShowsItsOptions) {
  auto r = run_app("help data synthetic");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "--data.questions")) << r.output;
  auto same = run_app("data synthetic --help");
  EXPECT_EQ(same.output, r.output);
}

TEST(App, UnknownCommandsAreUsageErrorsNamingThem) {
  auto r = run_app("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r, "'frobnicate'")) << r.output;
  auto nested = run_app("data frobnicate");
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_TRUE(has(nested, "gdpo data: error: unknown command 'frobnicate'")) << nested.output;
  EXPECT_EQ(run_app("").exit_code, 2);
}

TEST(App, UnknownOptionIsAUsageErrorNamingIt) {
  auto r = run_app("data synthetic --data.output x.jsonl --data.qestions 3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r, "gdpo data synthetic: error:")) << r.output;
  EXPECT_TRUE(has(r, "data.qestions")) << r.output;
}

TEST(App, ReadsStdinAndCapturesStdout) {
  auto r = run_app("tokenize --tokenizer.path bytes", "AB\n");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto back = run_app("tokenize --tokenizer.path bytes --tokenizer.decode", r.output);
  ASSERT_EQ(back.exit_code, 0) << back.output;
  EXPECT_EQ(back.output, "AB\n");
}

TEST(App, TheBinaryIsTheSameProgram) {
  auto version = run_gdpo("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(has(version, "LibTorch")) << version.output;
  EXPECT_EQ(version.output, run_app("version").output);
  EXPECT_EQ(run_gdpo("frobnicate").exit_code, 2);
}

}  // namespace
}  // namespace gdpo::test
