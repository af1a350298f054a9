// The device option (auto | cpu | cuda) resolved against hand-written GPU counts and node layouts:
// each rank takes the GPU of its local rank, and the refusals name the option and the numbers.
#include "gdpo/dist/device.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "support/test_support.hpp"

namespace gdpo::dist {
namespace {

// The UsageError message of `fn` ("" and a failure when it does not throw one).
template <class Fn>
std::string usage_error(Fn fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no UsageError";
  return "";
}

using gdpo::test::contains;

TEST(SelectDevice, AutoIsTheCpuWithoutGpus) {
  const auto d = select_device("auto", 0, 1, 0, "--train.device");
  EXPECT_TRUE(d.device.is_cpu());
  EXPECT_EQ(d.description, "cpu");
  // Many ranks on a node without GPUs share the CPU.
  EXPECT_TRUE(select_device("auto", 3, 4, 0, "--train.device").device.is_cpu());
}

TEST(SelectDevice, CpuIsTheCpuEvenWithGpus) {
  const auto d = select_device("cpu", 1, 8, 2, "--generate.device");
  EXPECT_TRUE(d.device.is_cpu());
  EXPECT_EQ(d.description, "cpu");
}

TEST(SelectDevice, EachRankTakesTheGpuOfItsLocalRank) {
  const auto d = select_device("auto", 1, 2, 2, "--train.device");
  ASSERT_TRUE(d.device.is_cuda());
  EXPECT_EQ(d.device.index(), 1);
  EXPECT_EQ(d.description, "cuda:1 (local rank 1 of 2)");
  for (int r = 0; r < 4; ++r) {
    const auto c = select_device("cuda", r, 4, 8, "--train.device");
    ASSERT_TRUE(c.device.is_cuda());
    EXPECT_EQ(c.device.index(), r);
  }
}

TEST(SelectDevice, CudaWithoutAGpuNamesTheOption) {
  const auto m = usage_error([] { select_device("cuda", 0, 1, 0, "--train.device"); });
  EXPECT_TRUE(contains(m, "--train.device cuda: no CUDA device is visible")) << m;
  EXPECT_TRUE(contains(m, "device count 0")) << m;
}

TEST(SelectDevice, MoreRanksThanGpusIsRefusedWithBothNumbers) {
  for (const char* choice : {"cuda", "auto"}) {
    const auto m = usage_error([&] { select_device(choice, 0, 4, 2, "--train.device"); });
    EXPECT_TRUE(contains(m, std::string("--train.device ") + choice +
                           ": 4 ranks on this node but 2 GPUs visible; start at most one rank "
                           "per GPU"))
        << m;
  }
  const auto one = usage_error([] { select_device("cuda", 1, 2, 1, "--bench.device"); });
  EXPECT_TRUE(contains(one, "--bench.device cuda: 2 ranks on this node but 1 GPU visible")) << one;
}

TEST(SelectDevice, SharingGivesRanksTheirLocalRankModuloTheGpus) {
  // 4 ranks on 2 GPUs: ranks 0 and 2 on cuda:0, ranks 1 and 3 on cuda:1.
  for (int r = 0; r < 4; ++r) {
    const auto c = select_device("cuda", r, 4, 2, "--train.device", /*share_gpus=*/true);
    EXPECT_EQ(c.device, torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(r % 2))) << r;
  }
  // Sharing does not conjure a GPU.
  EXPECT_FALSE(usage_error([] { select_device("cuda", 0, 2, 0, "--train.device", true); }).empty());
  EXPECT_TRUE(select_device("auto", 1, 2, 0, "--train.device", true).device.is_cpu());
}

TEST(SelectDevice, UnknownValuesAreRefused) {
  for (const char* bad : {"gpu", "CUDA", "cuda:0", ""}) {
    const auto m = usage_error([&] { select_device(bad, 0, 1, 2, "--train.device"); });
    EXPECT_EQ(m, std::string("--train.device '") + bad + "' is not auto, cpu or cuda") << m;
    EXPECT_FALSE(is_device_choice(bad)) << bad;
  }
  for (const char* good : {"auto", "cpu", "cuda"}) EXPECT_TRUE(is_device_choice(good)) << good;
}

TEST(SelectDevice, TheCommunicatorOverloadUsesThisMachinesGpus) {
  SingleProcessCommunicator comm;
  const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
  const auto d = select_device("auto", comm, "--train.device");
  EXPECT_EQ(d.device.is_cuda(), gpus > 0);
  EXPECT_TRUE(select_device("cpu", comm, "--train.device").device.is_cpu());
  if (gpus == 0) {
    const auto m = usage_error([&] { select_device("cuda", comm, "--evaluate.device"); });
    EXPECT_TRUE(contains(m, "--evaluate.device cuda: no CUDA device is visible")) << m;
  } else {
    EXPECT_EQ(d.device.index(), 0);
  }
  const auto m = usage_error([&] { select_device("gpu", comm, "--train.device"); });
  EXPECT_EQ(m, "--train.device 'gpu' is not auto, cpu or cuda");
}

TEST(MoveToDevice, LeavesAModuleThatIsThereUntouched) {
  torch::nn::Linear linear(3, 2);
  const auto* before = linear->weight.data_ptr<float>();
  move_to_device(*linear, torch::kCPU);
  EXPECT_EQ(linear->weight.data_ptr<float>(), before);
  EXPECT_TRUE(linear->weight.device().is_cpu());
}

}  // namespace
}  // namespace gdpo::dist
