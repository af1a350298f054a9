// gdpo::log: line format, level and rank filtering, the timestamp prefix, whole lines from many
// threads, and a status line (Progress) that log lines erase and redraw.
#include "gdpo/core/log.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "gdpo/core/error.hpp"

namespace gdpo::log {
namespace {

// Captures log output (no timestamps unless a test turns them on); restores everything after.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = settings();
    Settings s;
    s.level = Level::Info;
    s.timestamps = false;
    s.stream = &out_;
    configure(s);
    set_rank(0, 1);
  }
  void TearDown() override {
    configure(saved_);
    set_rank(0, 1);
  }
  void as_rank(int rank, int world, bool all_ranks = false) {
    set_rank(rank, world);
    Settings s = settings();
    s.all_ranks = all_ranks;
    configure(s);
  }
  std::ostringstream out_;
  Settings saved_;
};

TEST_F(LogTest, LevelsAndFormatting) {
  info("step ", 3, " loss ", 0.25);
  warn("slow");
  error("broken ", 'x');
  debug("hidden at level info");
  EXPECT_EQ(out_.str(), "step 3 loss 0.25\nwarning: slow\nerror: broken x\n");
}

TEST_F(LogTest, LevelThreshold) {
  Settings s = settings();
  s.level = Level::Debug;
  configure(s);
  debug("d");
  s.level = Level::Error;
  configure(s);
  info("i");
  warn("w");
  error("e");
  EXPECT_EQ(out_.str(), "debug: d\nerror: e\n");
  EXPECT_FALSE(enabled(Level::Warn));
}

TEST_F(LogTest, OnlyRankZeroPrintsInfoButEveryRankWarns) {
  as_rank(0, 2);
  info("from rank 0");
  warn("rank 0 warns");
  as_rank(1, 2);
  info("from rank 1");
  debug("debug from rank 1");
  warn("rank 1 warns");
  error("rank 1 fails");
  EXPECT_EQ(out_.str(),
            "from rank 0\n[rank 0] warning: rank 0 warns\n[rank 1] warning: rank 1 warns\n"
            "[rank 1] error: rank 1 fails\n");
}

TEST_F(LogTest, AllRanksSettingLetsEveryRankPrintWithItsRank) {
  as_rank(1, 4, /*all_ranks=*/true);
  info("hello");
  as_rank(0, 4, true);
  info("hello");
  EXPECT_EQ(out_.str(), "[rank 1] hello\n[rank 0] hello\n");
}

TEST_F(LogTest, TimestampPrefix) {
  Settings s = settings();
  s.timestamps = true;
  configure(s);
  info("stamped");
  EXPECT_TRUE(std::regex_match(out_.str(),
                               std::regex(R"(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] stamped\n)")))
      << out_.str();
}

TEST_F(LogTest, ParseLevel) {
  EXPECT_EQ(parse_level("debug"), Level::Debug);
  EXPECT_EQ(parse_level("INFO"), Level::Info);
  EXPECT_EQ(parse_level("warning"), Level::Warn);
  EXPECT_EQ(parse_level("warn"), Level::Warn);
  EXPECT_EQ(parse_level("error"), Level::Error);
  EXPECT_THROW(parse_level("verbose"), UsageError);
  EXPECT_THROW(set_rank(2, 2), Error);
}

TEST_F(LogTest, LinesFromManyThreadsStayWhole) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) info("thread ", t, " line ", i, " end");
    });
  for (auto& th : threads) th.join();
  std::istringstream in(out_.str());
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines)
    ASSERT_TRUE(std::regex_match(line, std::regex(R"(thread \d line \d+ end)"))) << line;
  EXPECT_EQ(lines, 800);
}

TEST_F(LogTest, LogLinesEraseAndRedrawAStatusLine) {
  detail::show_status(out_, "3/10");
  info("message");
  detail::end_status(out_, "10/10");
  info("after");
  EXPECT_EQ(out_.str(),
            "\r3/10\033[K"                // the status line
            "\r\033[Kmessage\n\r3/10\033[K"  // erased, the message, redrawn
            "\r10/10\033[K\n"              // final text, line ended
            "after\n");
}

}  // namespace
}  // namespace gdpo::log
