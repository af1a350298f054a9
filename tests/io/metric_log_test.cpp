// MetricLog: a series appended across reopens, NaN back-fill, a concurrent reader in another
// process, truncate_after on resume, recovery from a killed writer, and the h5py-friendly layout.
#include "gdpo/io/metric_log.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>

#include "gdpo/core/error.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "io/h5_test_util.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

using Columns = std::map<std::string, std::vector<double>>;
const double kNaN = std::nan("");

// Element-wise equality where NaN equals NaN.
::testing::AssertionResult same_columns(const Columns& got, const Columns& want) {
  auto key_list = [](const Columns& c) {
    std::string s;
    for (const auto& kv : c) s += kv.first + " ";
    return s;
  };
  if (key_list(got) != key_list(want))
    return ::testing::AssertionFailure() << "columns " << key_list(got) << "vs " << key_list(want);
  for (const auto& [name, values] : want) {
    const auto& g = got.at(name);
    bool ok = g.size() == values.size();
    for (size_t i = 0; ok && i < g.size(); ++i)
      ok = (std::isnan(g[i]) && std::isnan(values[i])) || g[i] == values[i];
    if (!ok) {
      auto out = ::testing::AssertionFailure() << name << ": got";
      for (double v : g) out << " " << v;
      return out;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(MetricLog, SeriesContinuesAcrossReopens) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("metrics.h5");
  {
    MetricLog log(path);
    log.append("train", 1, {{"loss", 1.5}, {"lr", 1e-6}});
    log.append("train", 2, {{"loss", 1.25}, {"lr", 2e-6}});
  }
  {
    MetricLog log(path);
    EXPECT_EQ(log.rows("train"), 2);
    EXPECT_EQ(log.tables(), std::vector<std::string>({"train"}));
    log.append("train", 3, {{"loss", 1.0}, {"lr", 3e-6}});
  }
  EXPECT_TRUE(
      same_columns(MetricLog::read(path, "train"),
                   {{"step", {1, 2, 3}}, {"loss", {1.5, 1.25, 1.0}}, {"lr", {1e-6, 2e-6, 3e-6}}}));
  EXPECT_FALSE(std::filesystem::exists(path + ".lock"));
}

TEST(MetricLog, MissingMetricsAreNaNAndNewOnesAreBackFilled) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("metrics.h5");
  MetricLog log(path);
  log.append("train", 10, {{"a", 1}});
  log.append("train", 20, {{"a", 2}, {"b", 20}});
  log.append("train", 30, {{"b", 30}});
  log.append("train", 40, {});
  log.append("eval", 20, {{"acc", 0.5}});
  EXPECT_TRUE(same_columns(
      MetricLog::read(path, "train"),
      {{"step", {10, 20, 30, 40}}, {"a", {1, 2, kNaN, kNaN}}, {"b", {kNaN, 20, 30, kNaN}}}));
  EXPECT_TRUE(same_columns(MetricLog::read(path, "eval"), {{"step", {20}}, {"acc", {0.5}}}));
  EXPECT_THROW(log.append("train", 50, {{"step", 1}}), Error);  // the step column is reserved
  EXPECT_THROW(log.append("a/b", 50, {}), Error);               // a table is one HDF5 name
  EXPECT_THROW(log.append("train", 50, {{"", 1}}), Error);
  EXPECT_THROW(log.append("train", 50, {{"loss/calibration", 1}}), Error);  // one name, no path
  EXPECT_EQ(log.rows("train"), 4);
}

TEST(MetricLog, DottedMetricNamesAreFlatColumns) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("metrics.h5");
  {
    MetricLog log(path);
    log.append("eval", 100, {{"belief.js_distance", 0.25}, {"belief.prob_sum", 1.0}, {"loss", 2},
                             {"loss.calibration", 3}});
    log.append("eval", 200, {{"belief.js_distance", 0.125}, {"count.pairs", 64}});
  }
  EXPECT_TRUE(same_columns(MetricLog::read(path, "eval"), {{"step", {100, 200}},
                                                           {"belief.js_distance", {0.25, 0.125}},
                                                           {"belief.prob_sum", {1, kNaN}},
                                                           {"count.pairs", {kNaN, 64}},
                                                           {"loss", {2, kNaN}},
                                                           {"loss.calibration", {3, kNaN}}}));
  {
    MetricLog log(path);  // reopened: the columns are found again
    log.append("eval", 300, {{"belief.js_distance", 0.0625}});
    log.truncate_after(250);
    EXPECT_EQ(log.rows("eval"), 2);
  }
  H5File f = H5File::open_read(path);
  EXPECT_EQ(f.list("eval"),
            std::vector<std::string>({"belief.js_distance", "belief.prob_sum", "count.pairs", "loss",
                                      "loss.calibration", "step"}));
}

TEST(MetricLog, LayoutIsPlainDatasetsOfEqualLength) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("metrics.h5");
  {
    MetricLog log(path);
    log.append("train", 5, {{"loss", 0.25}});
    log.append("train", 6, {{"kl", 0.5}});
  }
  H5File f = H5File::open_read(path);
  EXPECT_EQ(f.list(), std::vector<std::string>({"train"}));
  EXPECT_EQ(f.list("train"), std::vector<std::string>({"kl", "loss", "step"}));
  EXPECT_TRUE(torch::equal(f.read_tensor("train/step", torch::kLong, {2}),
                           torch::tensor({5, 6}, torch::kLong)));
  auto loss = f.read_tensor("train/loss", torch::kDouble, {2});
  EXPECT_EQ(loss[0].item<double>(), 0.25);
  EXPECT_TRUE(std::isnan(loss[1].item<double>()));
}

TEST(MetricLog, AnotherProcessReadsWhileTheWriterKeepsTheFileOpen) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("metrics.h5");
  int ask[2], answer[2];
  ASSERT_EQ(pipe(ask), 0);
  ASSERT_EQ(pipe(answer), 0);
  // The reader is forked before the writer opens anything (HDF5 state is not fork-safe). It reads
  // when asked and answers with the number of rows it saw, or -1 if the values were not as written.
  pid_t pid = fork();
  if (pid == 0) {
    close(ask[1]);
    close(answer[0]);
    int64_t expected;
    while (read(ask[0], &expected, sizeof expected) == sizeof expected) {
      int64_t seen = -1;
      try {
        Columns c = MetricLog::read(path, "train");
        bool ok = c.at("step").size() == static_cast<size_t>(expected);
        for (int64_t i = 0; ok && i < expected; ++i)
          ok = c.at("step")[i] == i + 1 && c.at("loss")[i] == 0.5 * (i + 1);
        if (ok) seen = expected;
        if (ok && expected > 3) ok = c.at("kl")[2] != c.at("kl")[2] && c.at("kl")[3] == 7;
        if (!ok) seen = -1;
      } catch (...) {
      }
      if (write(answer[1], &seen, sizeof seen) != sizeof seen) _exit(3);
    }
    _exit(0);
  }
  close(ask[0]);
  close(answer[1]);
  auto reader_sees = [&](int64_t rows) {
    int64_t seen = -2;
    EXPECT_EQ(write(ask[1], &rows, sizeof rows), static_cast<ssize_t>(sizeof rows));
    EXPECT_EQ(read(answer[0], &seen, sizeof seen), static_cast<ssize_t>(sizeof seen));
    return seen;
  };
  {
    MetricLog log(path);
    for (int i = 1; i <= 3; ++i) log.append("train", i, {{"loss", 0.5 * i}});
    EXPECT_EQ(reader_sees(3), 3);
    log.append("train", 4, {{"loss", 2.0}, {"kl", 7}});  // a new column while the reader waits
    EXPECT_EQ(reader_sees(4), 4);
    for (int i = 5; i <= 40; ++i) log.append("train", i, {{"loss", 0.5 * i}});
    EXPECT_EQ(reader_sees(40), 40);
  }
  close(ask[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  close(answer[0]);
}

TEST(MetricLog, TruncateAfterDropsLaterRowsSoAResumeDoesNotDuplicate) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("metrics.h5");
  {
    MetricLog log(path);
    for (int step : {10, 20, 30, 40}) log.append("train", step, {{"loss", step / 10.0}});
    log.append("eval", 20, {{"acc", 0.5}});
    log.append("eval", 40, {{"acc", 0.75}});
  }
  {
    MetricLog log(path);  // resumed from the checkpoint of step 20
    log.truncate_after("train", 20);
    EXPECT_EQ(log.rows("train"), 2);
    EXPECT_EQ(log.rows("eval"), 2);
    log.truncate_after(20);  // every table
    EXPECT_EQ(log.rows("eval"), 1);
    log.truncate_after("missing", 0);
    log.append("train", 30, {{"loss", 3.5}});
    log.truncate_after("train", 100);  // nothing to drop
  }
  EXPECT_TRUE(same_columns(MetricLog::read(path, "train"),
                           {{"step", {10, 20, 30}}, {"loss", {1, 2, 3.5}}}));
  EXPECT_TRUE(same_columns(MetricLog::read(path, "eval"), {{"step", {20}}, {"acc", {0.5}}}));
}

TEST(MetricLog, ReopensAfterTheWriterWasKilled) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("metrics.h5");
  pid_t pid = fork();
  if (pid == 0) {
    try {
      MetricLog log(path);
      log.append("train", 1, {{"loss", 1}});
      log.append("train", 2, {{"loss", 2}});
    } catch (...) {
      _exit(2);
    }
    kill(getpid(), SIGKILL);  // inside the scope above the log would be closed cleanly
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) == false && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE(same_columns(MetricLog::read(path, "train"), {{"step", {1, 2}}, {"loss", {1, 2}}}));
  MetricLog log(path);
  log.append("train", 3, {{"loss", 3}});
  EXPECT_EQ(log.rows("train"), 3);
}

TEST(MetricLog, ASecondWriterIsRefused) {
  gdpo::test::TempDir dir;
  MetricLog log(dir.file("metrics.h5"));
  try {
    MetricLog second(dir.file("metrics.h5"));
    ADD_FAILURE() << "a second writer was allowed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another process"), std::string::npos) << e.what();
  }
  log.append("train", 1, {{"loss", 1}});
  EXPECT_EQ(log.rows("train"), 1);
}

TEST(MetricLog, ReadRejectsMissingFilesAndTables) {
  gdpo::test::TempDir dir;
  EXPECT_THROW(MetricLog::read(dir.file("none.h5"), "train"), InputError);
  gdpo::test::write_file(dir.file("text.h5"), "not hdf5");
  EXPECT_THROW(MetricLog::read(dir.file("text.h5"), "train"), InputError);
  EXPECT_THROW(MetricLog log(dir.file("text.h5")), InputError);
  { MetricLog log(dir.file("m.h5")); }
  try {
    MetricLog::read(dir.file("m.h5"), "eval");
    ADD_FAILURE() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'eval'"), std::string::npos) << e.what();
  }
}

TEST(MetricLog, LeavesNoHdf5IdentifiersOpen) {
  gdpo::test::TempDir dir;
  test::H5IdCount ids;
  {
    MetricLog log(dir.file("m.h5"));
    log.append("train", 1, {{"a", 1}});
    log.append("train", 2, {{"b", 1}});
    log.truncate_after(1);
    EXPECT_THROW(log.append("train", 3, {{"step", 1}}), Error);
  }
  MetricLog::read(dir.file("m.h5"), "train");
  EXPECT_THROW(MetricLog::read(dir.file("m.h5"), "eval"), InputError);
  EXPECT_EQ(ids.objects_opened(), 0);
  EXPECT_EQ(ids.transient_open(), 0);
}

}  // namespace
}  // namespace gdpo::io
