// ZeRO stages on 2 MPI ranks (run under `mpiexec -n 2`), as properties of whole runs: stages 0, 1,
// 2 and 3 take the same 5 GDPO steps, with and without accumulation, clipping and bf16 autocast
// (weights bit for bit equal, or within 1e-9 when every step is clipped; gradient norms within
// 1e-12 relative: stages 2 and 3 add the ranks' sums of squares in another order); a stage-3 rank holds about half the
// bytes of a stage-0 rank; a checkpoint written by 2 stage-3 ranks resumes on 1 rank at stage 0 and
// continues exactly as that rank would from the same state in memory; a missing shard is an error
// naming it. Every rank runs the same collectives in the same order, so a failing EXPECT never
// hangs the other.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/train/checkpoint.hpp"
#include "gdpo/train/checkpoint_shards.hpp"
#include "gdpo/train/train_step.hpp"
#include "gdpo/train/zero_state.hpp"
#include "train/rank_step_fixture.hpp"

namespace gdpo::train {
namespace {
namespace fs = std::filesystem;
using test_ranks::expect_bitwise_equal;
using test_ranks::rank0s;
using test_ranks::RankStep;
using test_ranks::world;

// A run's whole weights (gathered at stage 3).
std::vector<torch::Tensor> whole_weights(RankStep& f, TrainStep& step) {
  ZeroState::Whole whole(step.zero());
  return f.weights();
}

struct StageRun {
  std::vector<torch::Tensor> weights;
  std::vector<double> grad_norms;
  ZeroState::Memory memory;
};

StageRun train_steps(int stage, int64_t accum, int steps, double max_grad_norm = 10.0,
                     Precision precision = Precision::kFp32) {
  RankStep f(accum);
  f.train.zero_stage = stage;
  f.train.max_grad_norm = max_grad_norm;
  f.train.precision = precision;
  TrainStep step(*f.policy, f.train, f.loss, world());
  StageRun run;
  for (int s = 0; s < steps; ++s)
    run.grad_norms.push_back(step.run(f.batch, s, f.source()).metrics.at("grad_norm"));
  run.memory = step.memory();
  run.weights = whole_weights(f, step);
  return run;
}

double max_abs_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

TEST(ZeroOnTwoRanks, EveryStageTakesTheSameFiveGdpoSteps) {
  ASSERT_EQ(world()->world_size(), 2);
  // accum 2: stage 3 keeps the first micro-batch's block gradients until the second's backward.
  // max-grad-norm 1e-3 clips every step (the coefficient comes from the sharded norm).
  for (int64_t accum : {1, 2}) {
    for (double clip : {10.0, 1e-3}) {
      SCOPED_TRACE("accum " + std::to_string(accum) + ", clip " + std::to_string(clip));
      const StageRun base = train_steps(0, accum, 5, clip);
      for (int stage : {1, 2, 3}) {
        SCOPED_TRACE("stage " + std::to_string(stage));
        const StageRun run = train_steps(stage, accum, 5, clip);
        ASSERT_EQ(run.grad_norms.size(), 5u);
        for (size_t s = 0; s < 5; ++s)
          EXPECT_NEAR(run.grad_norms[s], base.grad_norms[s], 1e-12 * base.grad_norms[s]) << s;
        if (stage == 1 || clip > 1) {
          // The same gradients, the same element-wise updates: bit for bit.
          expect_bitwise_equal(run.weights, base.weights);
        } else {
          // The clip coefficient from another summation order may differ in its last bit.
          EXPECT_LE(max_abs_difference(run.weights, base.weights), 1e-9);
        }
        expect_bitwise_equal(rank0s(run.weights), run.weights);  // the ranks agree
      }
    }
  }
}

// bf16 autocast with fp32 master weights: stage 3 gathers the fp32 shards, autocast casts them
// in the forward and in the recomputation alike.
TEST(ZeroOnTwoRanks, Bf16AutocastTakesTheSameSteps) {
  const StageRun base = train_steps(0, 2, 3, 10.0, Precision::kBf16);
  for (int stage : {1, 2, 3}) {
    SCOPED_TRACE("stage " + std::to_string(stage));
    const StageRun run = train_steps(stage, 2, 3, 10.0, Precision::kBf16);
    expect_bitwise_equal(run.weights, base.weights);
    for (size_t s = 0; s < 3; ++s)
      EXPECT_NEAR(run.grad_norms[s], base.grad_norms[s], 1e-12 * base.grad_norms[s]) << s;
  }
}

TEST(ZeroOnTwoRanks, AStageThreeRankHoldsAboutHalfTheBytes) {
  const StageRun zero0 = train_steps(0, 1, 1), zero1 = train_steps(1, 1, 1),
            zero2 = train_steps(2, 1, 1), zero3 = train_steps(3, 1, 1);
  // Stage 0: parameters, their gradients and RMSprop's square averages, whole (4 bytes each).
  EXPECT_EQ(zero0.memory.parameters, zero0.memory.gradients);
  EXPECT_NEAR(static_cast<double>(zero0.memory.optimizer), zero0.memory.parameters, 8.0);
  const auto half = [&](int64_t bytes, int64_t whole) {
    EXPECT_NEAR(static_cast<double>(bytes) / static_cast<double>(whole), 0.5, 0.01);
  };
  half(zero1.memory.optimizer, zero0.memory.optimizer);
  EXPECT_EQ(zero1.memory.gradients, zero0.memory.gradients);
  half(zero2.memory.gradients, zero0.memory.gradients);
  EXPECT_GE(zero2.memory.parameters, zero0.memory.parameters);  // whole (and padded)
  half(zero3.memory.parameters, zero0.memory.parameters);
  half(zero3.memory.total(), zero0.memory.total());
}

// Rank 0's directory, on every rank.
std::string shared_temp_dir(const std::string& name) {
  std::string dir;
  if (world()->is_root()) {
    dir = (fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  world()->broadcast(dir, 0);
  return dir;
}

TEST(ZeroOnTwoRanks, AStageThreeCheckpointResumesOnOneRankAtStageZero) {
  const std::string dir = shared_temp_dir("gdpo-zero-resume");
  CheckpointDirectory checkpoints(dir);
  // Two steps at stage 3, saved the way the trainer saves; the same two steps at stage 0 (equal
  // bit for bit, see above) keep the whole state in memory.
  RankStep sharded(1), whole(1);
  sharded.train.zero_stage = 3;
  TrainStep a(*sharded.policy, sharded.train, sharded.loss, world());
  TrainStep b(*whole.policy, whole.train, whole.loss, world());
  for (int s = 0; s < 2; ++s) {
    a.run(sharded.batch, s, sharded.source());
    b.run(whole.batch, s, whole.source());
  }
  CheckpointContent content;
  content.state.step = 2;
  const std::string path = checkpoints.path_for_step(2);
  save_checkpoint_shard(path, world()->rank(), 2, a.zero()->checkpoint_pieces());
  world()->barrier();
  if (world()->is_root())
    checkpoints.commit_sharded(2, a.zero()->optimizer_kind(), a.zero()->optimizer_steps(), content,
                               false, 2);
  world()->barrier();
  EXPECT_TRUE(fs::exists(path));

  if (world()->is_root()) {
    // On one rank, at stage 0: one run loads the checkpoint, the other copies the stage-0 run's
    // state in memory; both continue 2 steps on rank 0's data.
    auto single = std::make_shared<dist::SingleProcessCommunicator>();
    RankStep resumed(1), same_state(1);
    TrainStep r(*resumed.policy, resumed.train, resumed.loss, single);
    TrainStep m(*same_state.policy, same_state.train, same_state.loss, single);
    const auto loaded = load_checkpoint(path, resumed.policy.get(), &r.optimizer());
    EXPECT_EQ(loaded.state.step, 2);
    same_state.policy->load_hf_state_dict(whole.policy->hf_state_dict());
    m.optimizer().load_state(b.optimizer().state());
    expect_bitwise_equal(resumed.weights(), same_state.weights());
    for (int s = 2; s < 4; ++s) {
      const auto x = r.run(resumed.batch, s, resumed.source());
      const auto y = m.run(same_state.batch, s, same_state.source());
      EXPECT_EQ(x.metrics.at("loss"), y.metrics.at("loss")) << s;
      EXPECT_EQ(x.metrics.at("grad_norm"), y.metrics.at("grad_norm")) << s;
    }
    expect_bitwise_equal(resumed.weights(), same_state.weights());
    EXPECT_EQ(r.optimizer().steps(), 4);

    // A shard gone: the error names it.
    fs::remove(shard_file_path(path, 1, 2));
    RankStep broken(1);
    TrainStep t(*broken.policy, broken.train, broken.loss, single);
    try {
      load_checkpoint(path, broken.policy.get(), &t.optimizer());
      ADD_FAILURE() << "a checkpoint without its rank-1 shard loaded";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("rank-00001-of-00002"), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
  }
  world()->barrier();
}

// Stage 3 at 2 ranks resumes from its own checkpoint at stage 2 (another layout of the same
// world) and continues bit for bit as the uninterrupted stage-3 run.
TEST(ZeroOnTwoRanks, ResumingAtAnotherStageContinuesTheSameRun) {
  const std::string dir = shared_temp_dir("gdpo-zero-stages");
  CheckpointDirectory checkpoints(dir);
  RankStep first(1), second(1);
  first.train.zero_stage = 3;
  second.train.zero_stage = 2;
  TrainStep a(*first.policy, first.train, first.loss, world());
  for (int s = 0; s < 2; ++s) a.run(first.batch, s, first.source());
  const std::string path = checkpoints.path_for_step(2);
  save_checkpoint_shard(path, world()->rank(), 2, a.zero()->checkpoint_pieces());
  world()->barrier();
  CheckpointContent content;
  content.state.step = 2;
  if (world()->is_root())
    checkpoints.commit_sharded(2, a.zero()->optimizer_kind(), a.zero()->optimizer_steps(), content,
                               false, 2);
  world()->barrier();
  TrainStep b(*second.policy, second.train, second.loss, world());
  b.zero()->load(CheckpointTensors(path));
  for (int s = 2; s < 4; ++s) {
    a.run(first.batch, s, first.source());
    b.run(second.batch, s, second.source());
  }
  expect_bitwise_equal(whole_weights(first, a), whole_weights(second, b));
  EXPECT_EQ(b.zero()->optimizer_steps(), 4);
  world()->barrier();
  if (world()->is_root()) fs::remove_all(dir);
}

}  // namespace
}  // namespace gdpo::train
