// gdpo::Progress with an injected clock and stream: the line's counters, rate, ETA and fields, the
// plain mode (a line every interval and at the end), the terminal mode (one redrawn line) and the
// rank filtering.
#include "gdpo/core/progress.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/log.hpp"

namespace gdpo {
namespace {

class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = log::settings();
    log::Settings s = saved_;
    s.timestamps = false;
    log::configure(s);
    log::set_rank(0, 1);
  }
  void TearDown() override {
    log::configure(saved_);
    log::set_rank(0, 1);
  }
  ProgressOptions options(bool terminal, const std::string& label = "train") {
    ProgressOptions o;
    o.label = label;
    o.out = &out_;
    o.terminal = terminal;
    o.clock = [this] { return now_; };
    return o;
  }
  double now_ = 0;
  std::ostringstream out_;
  log::Settings saved_;
};

TEST_F(ProgressTest, LineShowsCountsRateEtaAndFields) {
  Progress p(100, options(false));
  now_ = 10;
  p.update(25, {{"loss", 0.52314}, {"phase", "gdpo"}});
  EXPECT_EQ(p.line(), "train 25/100 (25.0%) 2.50 it/s elapsed 10s ETA 30s loss 0.5231 phase gdpo");
  EXPECT_DOUBLE_EQ(p.rate(), 2.5);
}

TEST_F(ProgressTest, FieldsAreMergedByName) {
  Progress p(10, options(false, ""));
  now_ = 1;
  p.update(1, {{"loss", 1.0}, {"lr", 1e-6}});
  p.update(2, {{"loss", 0.5}});
  p.advance(2);
  EXPECT_EQ(p.done(), 4);
  EXPECT_EQ(p.line(), "4/10 (40.0%) 4.00 it/s elapsed 1s ETA 2s loss 0.5 lr 1e-06");
}

TEST_F(ProgressTest, UnknownTotalSlowRatesAndNoTimeYet) {
  ProgressOptions o = options(false, "");
  o.unit = "batch";
  Progress p(0, o);
  EXPECT_EQ(p.line(), "0 batch ? batch/s elapsed 0s");
  now_ = 2;
  p.update(7);
  EXPECT_EQ(p.line(), "7 batch 3.50 batch/s elapsed 2s");
  now_ = 28;
  p.update(7);
  EXPECT_EQ(p.line(), "7 batch 4.00 s/batch elapsed 28s");
}

TEST_F(ProgressTest, ResumedRunCountsTheRateFromItsStart) {
  ProgressOptions o = options(false);
  o.initial = 50;
  Progress p(100, o);
  now_ = 10;
  p.update(60);
  EXPECT_EQ(p.line(), "train 60/100 (60.0%) 1.00 it/s elapsed 10s ETA 40s");
}

TEST_F(ProgressTest, PlainModePrintsOncePerIntervalAndAtTheEnd) {
  ProgressOptions o = options(false);
  o.interval_s = 5;
  {
    Progress p(100, o);
    for (int t = 1; t <= 12; ++t) {
      now_ = t;
      p.update(t);
    }
    p.finish({{"loss", 0.25}});
    p.finish();  // once only
  }  // nor again from the destructor
  EXPECT_EQ(out_.str(),
            "train 5/100 (5.0%) 1.00 it/s elapsed 5s ETA 1m35s\n"
            "train 10/100 (10.0%) 1.00 it/s elapsed 10s ETA 1m30s\n"
            "train 12/100 (12.0%) 1.00 it/s elapsed 12s loss 0.25\n");
}

TEST_F(ProgressTest, TerminalModeRedrawsOneLine) {
  ProgressOptions o = options(true, "");
  o.redraw_s = 1;
  Progress p(10, o);
  now_ = 1;
  p.update(1);  // the first update always draws
  now_ = 1.5;
  p.update(2);  // too soon after the last redraw
  now_ = 2;
  p.update(4);
  now_ = 5;
  p.update(10);
  p.finish();
  EXPECT_EQ(out_.str(),
            "\r1/10 (10.0%) 1.00 it/s elapsed 1s ETA 9s\033[K"
            "\r4/10 (40.0%) 2.00 it/s elapsed 2s ETA 3s\033[K"
            "\r10/10 (100.0%) 2.00 it/s elapsed 5s\033[K"
            "\r10/10 (100.0%) 2.00 it/s elapsed 5s\033[K\n");
}

TEST_F(ProgressTest, DestructorEndsTheLine) {
  {
    Progress p(3, options(true, ""));
    now_ = 1;
    p.update(1);
  }
  EXPECT_EQ(out_.str(), "\r1/3 (33.3%) 1.00 it/s elapsed 1s ETA 2s\033[K"
                        "\r1/3 (33.3%) 1.00 it/s elapsed 1s\033[K\n");
}

TEST_F(ProgressTest, OnlyRankZeroPrintsUnlessEveryRankIsAsked) {
  log::set_rank(1, 2);
  ProgressOptions o = options(false);
  o.interval_s = 1;
  {
    Progress quiet(4, o);
    now_ = 2;
    quiet.update(2);
  }
  EXPECT_EQ(out_.str(), "");
  o.every_rank = true;
  now_ = 0;
  {
    Progress loud(4, o);
    now_ = 2;
    loud.update(2);
  }
  EXPECT_EQ(out_.str(), "[rank 1] train 2/4 (50.0%) 1.00 it/s elapsed 2s ETA 2s\n"
                        "[rank 1] train 2/4 (50.0%) 1.00 it/s elapsed 2s\n");
}

TEST_F(ProgressTest, FormatDuration) {
  EXPECT_EQ(Progress::format_duration(0), "0s");
  EXPECT_EQ(Progress::format_duration(59.4), "59s");
  EXPECT_EQ(Progress::format_duration(61), "1m01s");
  EXPECT_EQ(Progress::format_duration(3600), "1h00m");
  EXPECT_EQ(Progress::format_duration(3725), "1h02m");
  EXPECT_EQ(Progress::format_duration(90000), "1d01h");
  EXPECT_EQ(Progress::format_duration(-1), "?");
}

}  // namespace
}  // namespace gdpo
