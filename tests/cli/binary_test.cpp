// The gdpo binary itself: help, version, unknown subcommands and options end with exit code 2.
#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

TEST(Binary, HelpListsSubcommands) {
  auto r = run_gdpo("help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Group Distributional Preference Optimization"), std::string::npos);
}

TEST(Binary, VersionPrints) {
  auto r = run_gdpo("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("LibTorch"), std::string::npos) << r.output;
}

TEST(Binary, UnknownSubcommandIsUsageError) {
  auto r = run_gdpo("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("'frobnicate'"), std::string::npos) << r.output;
}

TEST(Binary, NoArgumentsIsUsageError) {
  EXPECT_EQ(run_gdpo("").exit_code, 2);
}

}  // namespace
}  // namespace gdpo::test
