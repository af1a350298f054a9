// The Slurm line the commands log at start (rank 0, beside the thread layout): the job, array task,
// restart count and rank layout from the environment a batch script gives them, and no line outside
// a job. The formatting itself is tested on hand-written environments in tests/core.
#include <gtest/gtest.h>

#include "app/train_fixture.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

TEST(SlurmContextLine, CommandsPrintTheJobTheyRunIn) {
  const std::string job =
      "SLURM_JOB_ID=4243 SLURM_ARRAY_JOB_ID=4242 SLURM_ARRAY_TASK_ID=1 SLURM_RESTART_COUNT=2 "
      "SLURM_NTASKS=1 SLURM_LOCALID=0";
  const std::string bench = "bench generate --model.config tiny-gpt2 --bench.prompt 8 "
                            "--bench.new-tokens 4 --bench.batch 2 --dist.threads 1";
  auto r = run_command_with_env(job, bench);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "threads per rank: 1")) << r.output;
  EXPECT_TRUE(contains(r.output, "slurm: job 4243 array 4242_1 restart 2")) << r.output;
  EXPECT_TRUE(contains(r.output, "tasks 1")) << r.output;
  EXPECT_TRUE(contains(r.output, "; rank 0 of 1, 1 on this node (local rank 0)")) << r.output;
  EXPECT_FALSE(contains(r.output, "not the job's")) << r.output;

  TempDir dir;
  write_synthetic_data(dir.file("pairs.jsonl"), 20);
  r = run_command_with_env(job, "generate --model.config tiny-gpt2 --tokenizer.path bytes "
                                "--data.train " + dir.file("pairs.jsonl") +
                                " --data.split 0.6,0.2,0.2 --generate.n-samples 1 "
                                "--generate.max-new-tokens 2 --dist.threads 1 --generate.output " +
                                dir.file("gen.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "slurm: job 4243 array 4242_1 restart 2")) << r.output;

  // Outside a job: no line.
  r = run_command_with_env("-u SLURM_JOB_ID", bench);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "threads per rank: 1")) << r.output;
  EXPECT_FALSE(contains(r.output, "slurm:")) << r.output;
}

}  // namespace
}  // namespace gdpo::test
