// The device options (--train.device, --generate.device, --evaluate.device, --bench.device): a GPU
// asked for on a machine without one is a usage error naming the option before any work, an
// unknown value is refused, and --train.device cpu trains exactly as the default did before the
// option existed (on a machine without GPUs, auto is the CPU: the weights are bitwise equal).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <filesystem>

#include "app/train_fixture.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

namespace fs = std::filesystem;

bool gpus_visible() { return torch::cuda::device_count() > 0; }

std::string checkpoint(const std::string& run_dir, int step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08d.h5", step);
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

// Every command with a device option, with what it needs to get past its required options. The
// data does not exist: the device is refused before anything is read.
struct DeviceCommand {
  std::string name, option, base;
};

std::vector<DeviceCommand> device_commands(const TempDir& dir) {
  const std::string missing = " /nonexistent-device-test.jsonl";
  return {
      {"train", "--train.device",
       "--dist.threads 1 --model.config tiny-gpt2 --data.train" + missing + " --train.run-dir '" +
           dir.file("run") + "'"},
      {"generate", "--generate.device",
       "--dist.threads 1 --model.config tiny-gpt2 --data.test" + missing + " --generate.output '" +
           dir.file("gen.h5") + "'"},
      {"evaluate", "--evaluate.device",
       "--dist.threads 1 --model.config tiny-gpt2 --data.test" + missing + " --evaluate.output '" +
           dir.file("eval.h5") + "'"},
      {"bench model", "--bench.device", "--model.config tiny-gpt2 --bench.steps 1"},
      {"bench generate", "--bench.device",
       "--dist.threads 1 --model.config tiny-gpt2 --bench.new-tokens 2"},
  };
}

TEST(DeviceOption, CudaWithoutAGpuIsAUsageErrorNamingTheOption) {
  if (gpus_visible()) GTEST_SKIP() << "this machine has a GPU";
  TempDir dir;
  for (const auto& c : device_commands(dir)) {
    const auto r = run_app(c.name + " " + c.base + " " + c.option + " cuda");
    EXPECT_EQ(r.exit_code, 2) << c.name << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.option + " cuda: no CUDA device is visible")) << c.name << "\n"
                                                                             << r.output;
    EXPECT_FALSE(contains(r.output, "cannot open")) << c.name << ": the data was read first\n"
                                               << r.output;
  }
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoints")));
}

TEST(DeviceOption, UnknownValuesAreRefused) {
  TempDir dir;
  for (const auto& c : device_commands(dir)) {
    const auto r = run_app(c.name + " " + c.base + " " + c.option + " gpu");
    EXPECT_EQ(r.exit_code, 2) << c.name << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.option + " 'gpu' is not auto, cpu or cuda")) << c.name << "\n"
                                                                            << r.output;
  }
}

TEST(DeviceOption, TheCommandsSayWhichDeviceTheyUse) {
  // bench generate sets the log level (bench model has no [log] options and follows the process's).
  const auto r = run_app("bench generate --model.config tiny-gpt2 --bench.prompt 4 "
                         "--bench.new-tokens 2 --bench.batch 2 --bench.device cpu --dist.threads 1 "
                         "--log.level info");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "device: cpu (--bench.device cpu)")) << r.output;
  EXPECT_TRUE(contains(r.output, " parameters, cpu, 1 threads)")) << r.output;
  const auto m = run_app("bench model --model.config tiny-gpt2 --bench.steps 1 --bench.batch 1 "
                         "--bench.seq 8 --bench.device cpu");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_TRUE(contains(m.output, " parameters, float32, cpu, ")) << m.output;
}

TEST(DeviceOption, TrainOnTheCpuIsBitwiseTheDefault) {
  if (gpus_visible()) GTEST_SKIP() << "auto is a GPU on this machine";
  TempDir dir;
  write_synthetic_data(dir.file("pairs.jsonl"));
  const std::string common = "--loss.type gdpo --train.max-steps 3";
  const std::string a = dir.file("auto"), b = dir.file("cpu");
  auto r = run_app(train_args(dir.file("pairs.jsonl"), a, common));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_app(train_args(dir.file("pairs.jsonl"), b, common + " --train.device cpu --log.level info"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "device: cpu (--train.device cpu)")) << r.output;
  EXPECT_TRUE(contains(read_file(b + "/config.ini"), "device = cpu")) << read_file(b + "/config.ini");
  for (const char* group : {"policy", "optimizer"})
    EXPECT_EQ(max_abs_diff(read_group(checkpoint(a, 3), group), read_group(checkpoint(b, 3), group)),
              0.0)
        << group;
}

// Recomputing each block's activations in the backward pass changes memory, not results.
TEST(DeviceOption, ActivationCheckpointingTrainsTheSameWeights) {
  TempDir dir;
  write_synthetic_data(dir.file("pairs.jsonl"));
  const std::string common = "--loss.type gdpo --train.max-steps 2 --train.device cpu";
  const std::string a = dir.file("plain"), b = dir.file("checkpointed");
  auto r = run_app(train_args(dir.file("pairs.jsonl"), a, common));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_app(train_args(dir.file("pairs.jsonl"), b, common) + " --train.activation-checkpointing");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(max_abs_diff(read_group(checkpoint(a, 2), "policy"),
                         read_group(checkpoint(b, 2), "policy")),
            0.0);
}

}  // namespace
}  // namespace gdpo::test
