// `gdpo train --dist.zero-stage` end to end on the tiny GPT-2: stage 3 on two MPI ranks trains as
// stage 0 does, writes a checkpoint per rank plus a manifest, resumes on one rank at stage 0 (a
// new layout) and continues as the two-rank run does; a missing shard is an error naming it (and
// --train.resume auto passes over that checkpoint with a warning naming it).
#include <gtest/gtest.h>

#include <filesystem>

#include "app/train_fixture.hpp"
#include "gdpo/io/safetensors.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {
namespace fs = std::filesystem;

std::string step_file(const std::string& run_dir, int s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08d.h5", s);
  return (fs::path(run_dir) / "checkpoints" / buf).string();
}

class TrainZero : public ::testing::Test {
 protected:
  void SetUp() override { write_synthetic_data(data()); }
  std::string data() const { return dir.file("pairs.jsonl"); }
  std::string run(const std::string& name) const { return dir.file(name); }
  TempDir dir;
};

TEST_F(TrainZero, StageThreeOnTwoRanksResumesOnOneRankAtStageZero) {
  const std::string common = "--train.optimizer rmsprop --train.lr 1e-4 --eval.every-examples 16 ";
  const std::string zero0 = run("zero0"), zero3 = run("zero3");
  // Two ranks, 4 steps, stage 0 and stage 3: the same weights.
  auto r = run_gdpo_mpi2(train_args(data(), zero0, common + "--train.max-steps 4"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_gdpo_mpi2(train_args(data(), zero3,
                               common + "--train.max-steps 2 --dist.zero-stage 3 --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(2 shards)"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(zero3) / "checkpoints" / "step-00000002.shards" /
                         "rank-00001-of-00002.h5"));
  EXPECT_LE(max_abs_diff(read_group(step_file(zero0, 2), "policy"),
                         read_group(step_file(zero3, 2), "policy")),
            1e-9);
  EXPECT_LE(max_abs_diff(read_group(step_file(zero0, 2), "optimizer"),
                         read_group(step_file(zero3, 2), "optimizer")),
            1e-9);

  // One rank at stage 0 continues the stage-3 checkpoint to step 4: as the two-rank run, up to
  // the float32 summation order of one rank's batch against two half batches (1e-5: see
  // cmd_train_test.cpp's TwoRanksEqualOneRank).
  r = run_gdpo(train_args(data(), zero3, common + "--train.max-steps 4 --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_LT(max_abs_diff(read_group(step_file(zero0, 4), "policy"),
                         read_group(step_file(zero3, 4), "policy")),
            1e-5);
  EXPECT_TRUE(fs::exists(fs::path(zero3) / "model" / "model.safetensors"));
}

// `gdpo inspect CHECKPOINT --inspect.export DIR` writes a sharded checkpoint's policy as a Hugging
// Face folder: every tensor as the checkpoint holds it.
TEST_F(TrainZero, AShardedCheckpointExportsToSafetensors) {
  const std::string zero3 = run("zero3-export"), out = run("exported");
  auto r = run_gdpo_mpi2(train_args(data(), zero3, "--train.max-steps 1 --dist.zero-stage 3"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_gdpo("inspect " + step_file(zero3, 1) + " --inspect.export " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(out) / "config.json"));
  const auto policy = read_group(step_file(zero3, 1), "policy");
  io::SafetensorsFile exported((fs::path(out) / "model.safetensors").string());
  EXPECT_EQ(exported.entries().size(), policy.size());
  for (const auto& [name, tensor] : policy) {
    const std::string hf = name.substr(std::string("policy/").size());
    ASSERT_TRUE(exported.contains(hf)) << hf;
    EXPECT_TRUE(torch::equal(exported.tensor(hf), tensor)) << hf;
  }
}

// An online reference model is sharded at stage 3 too: the same steps as stage 0's.
TEST_F(TrainZero, StageThreeShardsAnOnlineReference) {
  const std::string common = "--train.max-steps 2 --train.reference online --train.lr 1e-4 ";
  const std::string zero0 = run("online0"), zero3 = run("online3");
  auto r = run_gdpo_mpi2(train_args(data(), zero0, common));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_gdpo_mpi2(train_args(data(), zero3, common + "--dist.zero-stage 3"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_abs_diff(read_group(step_file(zero0, 2), "policy"),
                         read_group(step_file(zero3, 2), "policy")),
            1e-9);
}

TEST_F(TrainZero, AMissingShardIsAnErrorNamingIt) {
  const std::string zero2 = run("zero2");
  auto r = run_gdpo_mpi2(train_args(data(), zero2, "--train.max-steps 2 --dist.zero-stage 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto shard = fs::path(zero2) / "checkpoints" / "step-00000002.shards" /
                     "rank-00001-of-00002.h5";
  ASSERT_TRUE(fs::exists(shard));
  fs::remove(shard);
  // Asked for by name: an input error (exit 3) naming the shard.
  r = run_gdpo(train_args(data(), zero2,
                          "--train.max-steps 3 --train.resume " + step_file(zero2, 2)));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("shard 'rank-00001-of-00002.h5' is missing"), std::string::npos)
      << r.output;
  // --train.resume auto treats it as any unreadable checkpoint: a warning naming the shard, and
  // the newest complete one (step 0's evaluation checkpoint) instead.
  r = run_gdpo(train_args(data(), zero2, "--train.max-steps 3 --log.level info"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skipping unreadable checkpoint"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank-00001-of-00002.h5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step-00000000.h5 at step 0"), std::string::npos) << r.output;
}

TEST_F(TrainZero, AnUnknownStageIsAUsageError) {
  auto r = run_gdpo(train_args(data(), run("bad"), "--dist.zero-stage 4"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--dist.zero-stage"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gdpo::test
