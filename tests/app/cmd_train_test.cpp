// The trainer end to end on a tiny model: exact resume, data-parallel and accumulation
// equivalences, crash safety of checkpoints, graceful stop, and error paths. `gdpo train` runs
// in-process (run_app) except where a process of its own is the point: resuming in a new process,
// two MPI ranks, a kill -9, a signal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/io/metric_log.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"
#include "app/train_fixture.hpp"

namespace gdpo::test {
namespace {

namespace fs = std::filesystem;

class Trainer : public ::testing::Test {
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

// Equal element by element within `rel` of the first's magnitude (and as long).
void expect_close(const std::vector<double>& a, const std::vector<double>& b, double rel,
                  const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(std::isfinite(a[i]) && std::isfinite(b[i])) << what << " row " << i;
    EXPECT_NEAR(a[i], b[i], rel * std::abs(a[i])) << what << " row " << i;
  }
}

// The objectives whose equivalences are checked: SFT (its own loss), DPO, GDPO.
const std::vector<std::string> kLosses = {"sft", "dpo", "gdpo"};

// Training 2N steps equals N steps, a checkpoint, a new process resuming, N more: bit for bit.
TEST_F(Trainer, ResumeIsBitwiseIdentical) {
  for (std::string loss : {"gdpo", "dpo"}) {
    const std::string a = run("straight-" + loss), b = run("resumed-" + loss);
    auto r = run_gdpo(train_args(data_path(), a, "--loss.type " + loss + " --train.max-steps 6"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_gdpo(train_args(data_path(), b, "--loss.type " + loss + " --train.max-steps 3"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_gdpo(train_args(data_path(), b,
                            "--loss.type " + loss + " --train.max-steps 6 --log.level info"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
    EXPECT_EQ(max_abs_diff(read_group(step(a, 6), "policy"), read_group(step(b, 6), "policy")), 0.0)
        << loss;
    EXPECT_EQ(
        max_abs_diff(read_group(step(a, 6), "optimizer"), read_group(step(b, 6), "optimizer")),
        0.0)
        << loss;
    // The metric history has each step once, as if the run had never stopped.
    auto rows = io::MetricLog::read((fs::path(b) / "metrics.h5").string(), "train");
    EXPECT_EQ(rows.at("step"), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  }
}

// The gradient-norm tolerance of the equivalences below. The weights after RMSprop steps cannot see
// a gradient scaled by a constant (RMSprop divides it out), so each step's logged grad_norm (the
// norm before clipping of the averaged gradient) is compared too. Both runs compute the same
// gradient up to float32 summation order (per micro-batch / per rank partial sums), and from the
// second step on at weights that differ by that rounding (~1e-6): measured on this setup, the norms
// agree within 5e-7 relative for dpo and gdpo. 1e-5 relative leaves a 20x margin, while a gradient
// scaled by a wrong factor (1/grad_accum or 1/world_size missing or applied twice) is off by >= 2x,
// and a batch-pooled token mean instead of per-example means (SFT) by ~1e-3.
constexpr double kGradNormRel = 1e-5;

// Micro-batch 8 with one accumulation step equals micro-batch 1 with eight, for each objective:
// the same weights and the same gradient norm at every step.
TEST_F(Trainer, AccumulationEqualsOneLargeMicroBatch) {
  for (const auto& loss : kLosses) {
    const std::string a = run("mb8-" + loss), b = run("mb1x8-" + loss);
    const std::string common =
        "--loss.type " + loss + " --train.max-steps 3 --train.optimizer rmsprop --train.lr 1e-4 ";
    auto r = run_app(train_args(data_path(), a, common + "--train.grad-accum 1"));
    ASSERT_EQ(r.exit_code, 0) << loss << "\n" << r.output;
    r = run_app(train_args(data_path(), b, common + "--train.grad-accum 8"));
    ASSERT_EQ(r.exit_code, 0) << loss << "\n" << r.output;
    // Equal up to float32 summation order. RMSprop's first steps move every weight by about
    // 10 x lr = 1e-3 whatever its gradient's size, so rounding noise in tiny gradients shows at the
    // 1e-6 level: the stated tolerance is 1e-5 (1% of one step).
    EXPECT_LT(max_abs_diff(read_group(step(a, 3), "policy"), read_group(step(b, 3), "policy")),
              1e-5)
        << loss;
    const auto norms = column(a, "train", "grad_norm");
    EXPECT_EQ(norms.size(), 3u) << loss;
    for (double g : norms) EXPECT_GT(g, 0) << loss;
    expect_close(norms, column(b, "train", "grad_norm"), kGradNormRel, loss + " grad_norm");
  }
}

// One rank and two ranks (mpiexec -n 2) give the same weights after 5 steps and the same gradient
// norm at every step, for each objective, and the same evaluations.
TEST_F(Trainer, TwoRanksEqualOneRank) {
  for (const auto& loss : kLosses) {
    const std::string a = run("one-" + loss), b = run("two-" + loss);
    const std::string common =
        "--loss.type " + loss + " --train.max-steps 5 --train.optimizer rmsprop --train.lr 1e-4 ";
    auto r = run_app(train_args(data_path(), a, common));
    ASSERT_EQ(r.exit_code, 0) << loss << "\n" << r.output;
    r = run_gdpo_mpi2(train_args(data_path(), b, common));
    ASSERT_EQ(r.exit_code, 0) << loss << "\n" << r.output;
    // Equal up to float32 summation order (the ranks' half-batch gradients are averaged); the
    // tolerance is 1e-5, 1% of one RMSprop step (see above).
    EXPECT_LT(max_abs_diff(read_group(step(a, 5), "policy"), read_group(step(b, 5), "policy")),
              1e-5)
        << loss;
    const auto norms = column(a, "train", "grad_norm");
    EXPECT_EQ(norms.size(), 5u) << loss;
    for (double g : norms) EXPECT_GT(g, 0) << loss;
    expect_close(norms, column(b, "train", "grad_norm"), kGradNormRel, loss + " grad_norm");
    // The evaluations (steps 0, 2, 4, 5) average the same pairs and questions over one rank or
    // two: equal up to the float32 forward of differently padded batches and the weights' rounding
    // (measured within 2e-8 relative), here within 1e-5.
    EXPECT_EQ(column(a, "eval", "step"), column(b, "eval", "step")) << loss;
    for (const char* m : {"count.pairs", "belief.js_distance", "belief.js_distance_per_question"})
      expect_close(column(a, "eval", m), column(b, "eval", m), 1e-5, loss + " eval " + m);
  }
}

// Fewer eval pairs than ranks: rank 1 evaluates nothing, yet every evaluation completes (it used to
// fail or hang in the metric reduction) and equals the one-rank run's.
TEST_F(Trainer, FewerEvalPairsThanRanks) {
  const std::string a = run("eval1-one"), b = run("eval1-two");
  const std::string common = "--train.max-steps 2 --eval.n-examples 1 ";
  auto r = run_gdpo_mpi2(train_args(data_path(), b, common));
  ASSERT_EQ(r.exit_code, 0) << "(124: timed out, hung)\n" << r.output;
  r = run_app(train_args(data_path(), a, common));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(b) / "summary.json"));
  EXPECT_EQ(column(b, "eval", "step"), (std::vector<double>{0, 2}));
  EXPECT_EQ(column(b, "eval", "count.pairs"), (std::vector<double>{1, 1}));
  // One pair of one question: the per-question mean is that pair's distance.
  const auto js = column(b, "eval", "belief.js_distance");
  ASSERT_EQ(js.size(), 2u);
  for (double v : js) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(column(b, "eval", "belief.js_distance_per_question"), js);
  // Before training (step 0, the same weights) the one-rank run evaluates the same pair, alone in
  // its batch either way: the same values up to float32 rounding.
  for (const char* m : {"belief.js_distance", "loss"}) {
    const auto one = column(a, "eval", m), two = column(b, "eval", m);
    ASSERT_FALSE(one.empty() || two.empty()) << m;
    EXPECT_NEAR(one[0], two[0], 1e-5 * std::abs(one[0])) << m;
  }
}

// A kill -9 in the middle of writing a checkpoint leaves the previous one, which resume auto uses.
TEST_F(Trainer, KillDuringCheckpointWriteKeepsThePreviousOne) {
  const std::string a = run("killed");
  auto r = run_gdpo(train_args(data_path(), a, "--train.max-steps 6"));
  ASSERT_EQ(r.exit_code, 0);
  const std::string b = run("killed2");
  r = run_command_with_env("GDPO_FAULT_INJECT=kill-during-checkpoint:2",
                           train_args(data_path(), b, "--train.max-steps 6"));
  EXPECT_EQ(r.exit_code, 128 + 9) << r.output;
  // The first checkpoint (step 0, after the first evaluation) is complete; the second never landed.
  EXPECT_TRUE(fs::exists(step(b, 0)));
  EXPECT_FALSE(fs::exists(step(b, 2)));
  r = run_gdpo(train_args(data_path(), b, "--train.max-steps 6 --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from " + step(b, 0)), std::string::npos) << r.output;
  EXPECT_EQ(max_abs_diff(read_group(step(a, 6), "policy"), read_group(step(b, 6), "policy")), 0.0);
}

// SIGTERM (Slurm preemption) finishes the step, checkpoints and exits with 75 for a requeue.
TEST_F(Trainer, SigtermCheckpointsAndExitsForRequeue) {
  const std::string a = run("term");
  auto r = run_command_with_env("GDPO_FAULT_INJECT=sigterm-after-step:3",
                                train_args(data_path(), a, "--train.max-steps 6"));
  EXPECT_EQ(r.exit_code, 75) << r.output;
  EXPECT_TRUE(fs::exists(step(a, 3)));
  EXPECT_EQ(read_file((fs::path(a) / "latest").string()), "step-00000003.h5\n");
}

TEST_F(Trainer, ARunDirectoryIsNotOverwrittenWithoutResume) {
  const std::string a = run("once");
  ASSERT_EQ(run_app(train_args(data_path(), a, "--train.max-steps 1")).exit_code, 0);
  auto r = run_app(train_args(data_path(), a, "--train.max-steps 2 --train.resume none"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--train.resume"), std::string::npos) << r.output;
}

TEST_F(Trainer, IndivisibleBatchIsAUsageError) {
  auto r = run_app(train_args(data_path(), run("x"), "--train.batch-size 6 --train.grad-accum 4"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--train.batch-size"), std::string::npos) << r.output;
}

TEST_F(Trainer, WritesMetricsConfigAndAHuggingFaceModel) {
  const std::string a = run("outputs");
  ASSERT_EQ(run_app(train_args(data_path(), a, "--train.max-steps 4")).exit_code, 0);
  EXPECT_TRUE(fs::exists(fs::path(a) / "config.ini"));
  EXPECT_TRUE(fs::exists(fs::path(a) / "model" / "config.json"));
  EXPECT_TRUE(fs::exists(fs::path(a) / "model" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fs::path(a) / "summary.json"));
  auto train = io::MetricLog::read((fs::path(a) / "metrics.h5").string(), "train");
  for (const char* k : {"loss", "loss.calibration", "loss.belief_nll", "loss.preference",
                        "rewards.margin", "rewards.accuracy", "grad_norm", "lr",
                        "examples_per_second", "tokens_per_second", "belief.js_distance"})
    EXPECT_EQ(train.count(k), 1u) << k;
  EXPECT_EQ(train.at("step").size(), 4u);
  auto eval = io::MetricLog::read((fs::path(a) / "metrics.h5").string(), "eval");
  EXPECT_EQ(eval.at("step"), (std::vector<double>{0, 2, 4}));
  EXPECT_EQ(eval.count("belief.js_distance"), 1u);
  // The eval split (3 questions of 4 pairs, all evaluated: 12 < --eval.n-examples 16) has equal
  // questions, so the mean over questions of their means is the mean over pairs (to rounding).
  ASSERT_EQ(eval.count("belief.js_distance_per_question"), 1u);
  EXPECT_EQ(eval.at("count.pairs"), (std::vector<double>{12, 12, 12}));
  expect_close(eval.at("belief.js_distance"), eval.at("belief.js_distance_per_question"), 1e-9,
               "per question");
  const auto summary = read_file((fs::path(a) / "summary.json").string());
  EXPECT_NE(summary.find("belief.js_distance_per_question"), std::string::npos) << summary;
}

// Reference log-probs computed on the fly each step equal the cached ones (up to the padding of
// differently composed batches): the same weights after 3 steps, within 1e-5.
TEST_F(Trainer, OnlineReferenceEqualsCachedReference) {
  const std::string a = run("cached"), b = run("online");
  const std::string common = "--train.max-steps 3 --train.optimizer rmsprop --train.lr 1e-4 ";
  ASSERT_EQ(run_app(train_args(data_path(), a, common + "--train.reference cache")).exit_code, 0);
  auto r = run_app(train_args(data_path(), b, common + "--train.reference online"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(fs::path(b) / "reference_train.h5"));
  EXPECT_LT(max_abs_diff(read_group(step(a, 3), "policy"), read_group(step(b, 3), "policy")), 1e-5);
}

// bf16 autocast for the policy and a bf16 reference model train to finite losses.
TEST_F(Trainer, Bf16AutocastAndBf16Reference) {
  const std::string a = run("bf16");
  auto r = run_app(train_args(data_path(), a,
                               "--train.max-steps 2 --train.precision bf16 "
                               "--train.reference-dtype bf16"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto train = io::MetricLog::read((fs::path(a) / "metrics.h5").string(), "train");
  for (double loss : train.at("loss")) EXPECT_TRUE(std::isfinite(loss));
  // The master weights stay float32.
  for (const auto& [name, t] : read_group(step(a, 2), "policy"))
    EXPECT_EQ(t.scalar_type(), torch::kFloat) << name;
}

// Early stopping: a metric that never improves after the first evaluation stops the run after
// `patience` more evaluations, and the best checkpoint is the first one.
TEST_F(Trainer, EarlyStoppingAfterPatienceEvaluations) {
  const std::string a = run("early");
  auto r = run_app(train_args(data_path(), a,
                               "--train.max-steps 20 --eval.metric count.pairs --eval.mode max "
                               "--eval.patience 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto summary = read_file((fs::path(a) / "summary.json").string());
  EXPECT_NE(summary.find("\"stopped_early\": true"), std::string::npos) << summary;
  // Evaluations at steps 0 (best), 2 and 4: the second without improvement stops at step 4.
  auto eval = io::MetricLog::read((fs::path(a) / "metrics.h5").string(), "eval");
  EXPECT_EQ(eval.at("step"), (std::vector<double>{0, 2, 4}));
  EXPECT_EQ(read_file((fs::path(a) / "best").string()), "step-00000000.h5\n");
}

// Only the newest --train.keep-last checkpoints survive, besides the best one.
TEST_F(Trainer, OldCheckpointsArePrunedButTheBestIsKept) {
  const std::string a = run("prune");
  auto r = run_app(train_args(data_path(), a,
                               "--train.max-steps 8 --train.keep-last 2 --eval.metric count.pairs "
                               "--eval.mode max"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(a) / "checkpoints"))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step-00000000.h5", "step-00000006.h5",
                                             "step-00000008.h5"}));
}

// A corrupt newest checkpoint is reported and skipped; resume auto takes the one before it.
TEST_F(Trainer, ResumeSkipsACorruptCheckpoint) {
  const std::string a = run("corrupt");
  ASSERT_EQ(run_app(train_args(data_path(), a, "--train.max-steps 4")).exit_code, 0);
  // Truncate the newest checkpoint (step 4) to half its size.
  const auto newest = fs::path(step(a, 4));
  fs::resize_file(newest, fs::file_size(newest) / 2);
  auto r = run_app(train_args(data_path(), a, "--train.max-steps 6 --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skipping unreadable checkpoint"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resumed from " + step(a, 2)), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gdpo::test
