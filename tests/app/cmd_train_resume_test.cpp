// Resume and preemption as a cluster produces them: a finished job resubmitted, a kill before every
// atomic rename, a signal during set-up, checkpoints every N pairs, two CPU bindings, a world-size
// change. Each test states a property of the run directory or the weights, not of the internals.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "app/train_fixture.hpp"
#include "gdpo/io/atomic_file.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

namespace fs = std::filesystem;

class Resume : public ::testing::Test {
 protected:
  void SetUp() override { write_synthetic_data(data_path()); }
  std::string data_path() const { return dir.file("pairs.jsonl"); }
  std::string run(const std::string& name) const { return dir.file(name); }
  static std::string step(const std::string& run_dir, int s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "step-%08d.h5", s);
    return (fs::path(run_dir) / "checkpoints" / buf).string();
  }
  TempDir dir;
};

// Every file or folder under `root` named as a temporary of the atomic writers.
std::vector<std::string> temporaries(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (io::temporary_target(e.path().filename().string())) out.push_back(e.path().string());
  return out;
}

// The checkpoint files of a run, by step.
std::vector<std::string> checkpoint_names(const std::string& run_dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "checkpoints"))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A finished job submitted again (a requeue after the end, a pipeline rerun) changes nothing: no
// second evaluation of the last step (with patience 1 that used to report a false early stop),
// the same summary; it says the run is complete. Killed before its summary was written, it writes
// the same summary, still without a second evaluation.
TEST_F(Resume, AResubmittedFinishedRunChangesNothing) {
  const std::string a = run("finished");
  const std::string args = train_args(data_path(), a, "--train.max-steps 4 --eval.patience 1");
  auto r = run_app(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto eval_steps = column(a, "eval", "step");
  const auto eval_loss = column(a, "eval", "loss");
  const std::string summary = read_file((fs::path(a) / "summary.json").string());
  const std::string config = read_file((fs::path(a) / "config.ini").string());
  const auto checkpoints = checkpoint_names(a);
  ASSERT_NE(summary.find("\"stopped_early\": false"), std::string::npos) << summary;

  r = run_app(train_args(data_path(), a,
                         "--train.max-steps 4 --eval.patience 1 --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("is complete"), std::string::npos) << r.output;
  EXPECT_EQ(column(a, "eval", "step"), eval_steps);
  EXPECT_EQ(column(a, "eval", "loss"), eval_loss);
  EXPECT_EQ(read_file((fs::path(a) / "summary.json").string()), summary);
  EXPECT_EQ(read_file((fs::path(a) / "config.ini").string()), config);
  EXPECT_EQ(checkpoint_names(a), checkpoints);

  fs::remove(fs::path(a) / "summary.json");
  r = run_app(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(column(a, "eval", "step"), eval_steps);
  EXPECT_EQ(read_file((fs::path(a) / "summary.json").string()), summary);
}

// A kill -9 just before each atomic rename the run makes (config, reference caches, checkpoints,
// pointers, the model folder and the files in it, the summary), one run per rename: the resumed run
// leaves no temporary anywhere and ends bit for bit where an uninterrupted run ends.
TEST_F(Resume, AKillBeforeAnyRenameLeavesNoTemporaryAfterTheResume) {
  const std::string extra = "--train.max-steps 4";
  const std::string straight = run("straight");
  ASSERT_EQ(run_app(train_args(data_path(), straight, extra)).exit_code, 0);
  int renames = 0;
  for (int n = 1; n < 100; ++n) {
    const std::string a = run("kill-" + std::to_string(n));
    auto r = run_command_with_env("GDPO_FAULT_INJECT=kill-before-rename:" + std::to_string(n),
                                  train_args(data_path(), a, extra));
    if (r.exit_code == 0) break;  // the run makes fewer than n renames
    ASSERT_EQ(r.exit_code, 128 + 9) << "rename " << n << "\n" << r.output;
    renames = n;
    r = run_app(train_args(data_path(), a, extra));
    ASSERT_EQ(r.exit_code, 0) << "rename " << n << "\n" << r.output;
    EXPECT_EQ(temporaries(a), std::vector<std::string>{}) << "rename " << n;
    EXPECT_EQ(max_abs_diff(read_group(step(straight, 4), "policy"), read_group(step(a, 4), "policy")),
              0.0)
        << "rename " << n;
    EXPECT_EQ(column(a, "eval", "step"), column(straight, "eval", "step")) << "rename " << n;
    EXPECT_EQ(read_file((fs::path(a) / "summary.json").string()),
              read_file((fs::path(straight) / "summary.json").string()))
        << "rename " << n;
  }
  // config 1, reference caches 2, checkpoints at steps 0, 2, 4 (file, latest, best) 9, the model
  // folder (config.json, weights, the swap) 3, summary 1.
  EXPECT_GE(renames, 16);
}

// The clean-up runs once, on rank 0, removes the temporaries of the run's own files (wherever they
// are) and nothing else.
TEST_F(Resume, StaleTemporariesAreRemovedOnceAndOnlyTheRunsOwn) {
  const std::string a = run("stale");
  ASSERT_EQ(run_app(train_args(data_path(), a, "--train.max-steps 2")).exit_code, 0);
  const std::vector<std::string> stale = {
      a + "/.config.ini.tmp.11.0", a + "/.latest.tmp.11.1", a + "/.summary.json.tmp.11.2",
      a + "/.reference_train.h5.tmp.11.3", a + "/checkpoints/.step-00000004.h5.tmp.11.4",
      a + "/model/.model.safetensors.tmp.11.5", a + "/.model.tmp.11.6/config.json"};
  for (const auto& p : stale) write_file(p, "partial");
  write_file(a + "/.notes.tmp.11.7", "the user's");  // not a file of the run
  auto r = run_gdpo_mpi2(train_args(data_path(), a, "--train.max-steps 4 --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& p : stale) {
    const std::string removed = fs::path(p).parent_path().filename().string() == ".model.tmp.11.6"
                                    ? fs::path(p).parent_path().string()
                                    : p;
    EXPECT_EQ(count(r.output, "removed '" + removed + "'"), 1u) << removed << "\n" << r.output;
    EXPECT_FALSE(fs::exists(removed)) << removed;
  }
  EXPECT_TRUE(fs::exists(a + "/.notes.tmp.11.7"));
  EXPECT_EQ(column(a, "train", "step"), (std::vector<double>{1, 2, 3, 4}));
}

// SIGUSR1 (Slurm's --signal) during the reference log-prob pass, on one rank and on two: exit 75
// at once, no reference cache, checkpoint or temporary written; the resubmitted run ends bit for
// bit where an uninterrupted one ends.
TEST_F(Resume, ASignalDuringTheReferencePassExits75AndResumesExactly) {
  const std::string extra = "--train.max-steps 4 --log.level info";
  const std::string straight = run("straight");
  ASSERT_EQ(run_app(train_args(data_path(), straight, extra)).exit_code, 0);
  for (int ranks : {1, 2}) {
    const std::string a = run("signal-" + std::to_string(ranks));
    const std::string fault = "GDPO_FAULT_INJECT=sigusr1-during-reference:2";
    auto r = ranks == 1 ? run_command_with_env(fault, train_args(data_path(), a, extra))
                        : run_gdpo_mpi2(train_args(data_path(), a, extra), 120, "-x " + fault);
    ASSERT_EQ(r.exit_code, 75) << ranks << " rank(s)\n" << r.output;
    EXPECT_NE(r.output.find("stopped by a signal during the reference log-prob pass"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(fs::path(a) / "reference_train.h5"));
    EXPECT_FALSE(fs::exists(fs::path(a) / "checkpoints"));
    EXPECT_EQ(temporaries(a), std::vector<std::string>{});
    r = ranks == 1 ? run_app(train_args(data_path(), a, extra))
                   : run_gdpo_mpi2(train_args(data_path(), a, extra));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string reference_run = ranks == 1 ? straight : run("straight-2");
    if (ranks == 2) {
      ASSERT_EQ(run_gdpo_mpi2(train_args(data_path(), reference_run, extra)).exit_code, 0);
    }
    EXPECT_EQ(max_abs_diff(read_group(step(reference_run, 4), "policy"),
                           read_group(step(a, 4), "policy")),
              0.0)
        << ranks << " rank(s)";
  }
}

// --train.save-every-examples 16 with evaluations every 64 pairs (batch 8): a checkpoint every
// 2 steps, the evaluation steps included although their evaluation is not the best (count.pairs
// never improves after step 0), plus the best (step 0) and the last.
TEST_F(Resume, SaveEveryWritesEveryPromisedCheckpoint) {
  const std::string a = run("every");
  auto r = run_app(train_args(data_path(), a,
                              "--train.max-steps 12 --train.save-every-examples 16 "
                              "--eval.every-examples 64 --train.keep-last 100 "
                              "--eval.metric count.pairs --eval.mode max"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(column(a, "eval", "step"), (std::vector<double>{0, 8, 12}));
  std::vector<std::string> expected;
  for (int s : {0, 2, 4, 6, 8, 10, 12}) expected.push_back(fs::path(step(a, s)).filename().string());
  EXPECT_EQ(checkpoint_names(a), expected);
  EXPECT_EQ(read_file((fs::path(a) / "best").string()), "step-00000000.h5\n");
}

// The same 2-rank run bound to one core per rank and unbound: bit-for-bit equal weights (OpenBLAS
// used to size its thread pool from the affinity mask, so the sums' order followed the launcher).
TEST_F(Resume, CpuBindingDoesNotChangeTheResult) {
  const std::string a = run("bound"), b = run("unbound");
  const std::string extra = "--train.max-steps 4 --log.level info";
  auto r = run_gdpo_mpi2(train_args(data_path(), a, extra), 120, "--bind-to core:overload-allowed");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("threads per rank: 1 (LibTorch 1, OpenBLAS"), std::string::npos)
      << r.output;
  r = run_gdpo_mpi2(train_args(data_path(), b, extra), 120, "--bind-to none");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(max_abs_diff(read_group(step(a, 4), "policy"), read_group(step(b, 4), "policy")), 0.0);
}

// A checkpoint of 2 ranks resumed on 1: a warning that the continuation is not bitwise, the same
// data order (the cursor is global: each example once per epoch) and the same loss curve as an
// uninterrupted 1-rank run, up to float32 summation order.
TEST_F(Resume, AWorldSizeChangeWarnsAndContinuesTheSameCurve) {
  const std::string a = run("one"), b = run("two-then-one");
  const std::string common = "--train.optimizer rmsprop --train.lr 1e-4 --train.max-steps ";
  ASSERT_EQ(run_app(train_args(data_path(), a, common + "6")).exit_code, 0);
  auto r = run_gdpo_mpi2(train_args(data_path(), b, common + "3"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_app(train_args(data_path(), b, common + "6 --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("was written by 2 rank(s) x 1 thread(s); this run has 1 x 1"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("not bit for bit"), std::string::npos) << r.output;
  // 36 pairs, batch 8: 4 steps per epoch, so steps 5 and 6 are the second epoch's.
  EXPECT_EQ(column(b, "train", "epoch"), column(a, "train", "epoch"));
  EXPECT_EQ(column(b, "train", "epoch"), (std::vector<double>{0, 0, 0, 0, 1, 1}));
  const auto la = column(a, "train", "loss"), lb = column(b, "train", "loss");
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(la[i], lb[i], 1e-5 * std::abs(la[i])) << i;
  EXPECT_LT(max_abs_diff(read_group(step(a, 6), "policy"), read_group(step(b, 6), "policy")), 1e-5);
  for (const char* cursor : {"epoch", "position"}) {
    auto fa = io::H5File::open_read(step(a, 6)), fb = io::H5File::open_read(step(b, 6));
    EXPECT_EQ(fa.int_attr("/", cursor), fb.int_attr("/", cursor)) << cursor;
  }
}

}  // namespace
}  // namespace gdpo::test
