// NcclCommunicator under `mpiexec -n 2` (ctest labels gpu and mpi; built only with GDPO_CUDA; every
// test skips without a CUDA device). Each collective against hand-computed values and against the
// MPI backend on the same data, host tensors, non-contiguous views, argument mismatches, ordering
// with the current stream, and make_communicator("nccl").
//
// NCCL refuses two ranks of one communicator on one GPU. With a GPU per local rank the two ranks
// share one NCCL communicator; with fewer (one GPU for the two ranks), each rank runs a one-rank NCCL
// communicator over MPI_COMM_SELF on device local_rank % device_count, and the expected values are
// those of a one-rank world (the cross-rank paths are then exercised by make_communicator's refusal
// only).
#include "gdpo/dist/nccl_communicator.hpp"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "gdpo/core/error.hpp"
#include "dist/communicator_fixture.hpp"

namespace gdpo::dist {
namespace {

int devices() {
  static const int n = static_cast<int>(torch::cuda::device_count());
  return n;
}

MpiCommunicator& world() {
  static MpiCommunicator comm(MPI_COMM_WORLD);
  return comm;
}

bool shared_world() { return devices() >= world().local_size(); }

// Built and destroyed inside RUN_ALL_TESTS (before mpi_main's MPI_Finalize).
struct Fixture {
  std::unique_ptr<MpiCommunicator> reference;  // MPI over the same ranks
  std::unique_ptr<NcclCommunicator> nccl;
  std::string setup_error;
};
Fixture& fixture() {
  static Fixture f;
  return f;
}

class NcclEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (devices() == 0) return;
    try {
      const MPI_Comm group = shared_world() ? MPI_COMM_WORLD : MPI_COMM_SELF;
      fixture().reference = std::make_unique<MpiCommunicator>(group);
      fixture().nccl = std::make_unique<NcclCommunicator>(std::make_unique<MpiCommunicator>(group),
                                                          world().local_rank() % devices(), 120);
    } catch (const std::exception& e) {
      fixture().setup_error = e.what();
    }
  }
  void TearDown() override {
    fixture().nccl.reset();
    fixture().reference.reset();
  }
};
[[maybe_unused]] ::testing::Environment* const environment =
    ::testing::AddGlobalTestEnvironment(new NcclEnvironment);

#define REQUIRE_NCCL()                                                                        \
  do {                                                                                        \
    if (devices() == 0) GTEST_SKIP() << "no CUDA device (torch::cuda::device_count() is 0)"; \
    ASSERT_TRUE(fixture().nccl) << "NcclCommunicator failed: " << fixture().setup_error;      \
  } while (0)

NcclCommunicator& comm() { return *fixture().nccl; }
MpiCommunicator& reference() { return *fixture().reference; }
torch::Device dev() { return comm().device(); }

// Rank r contributes [r + 1, 10 (r + 1)].
torch::Tensor contribution(torch::ScalarType dtype, torch::Device device) {
  const double r = comm().rank();
  return torch::tensor({r + 1, 10 * (r + 1)}, torch::kFloat64).to(dtype).to(device);
}

torch::Tensor values(std::vector<double> v, torch::ScalarType dtype) {
  return torch::tensor(v, torch::kFloat64).to(dtype);
}

// The same collective through the MPI backend, on a host copy.
torch::Tensor mpi_all_reduce(const torch::Tensor& t, ReduceOp op) {
  auto host = t.cpu().clone();
  reference().all_reduce(host, op);
  return host;
}

using test::message_of;

TEST(NcclCommunicator, Basics) {
  REQUIRE_NCCL();
  EXPECT_EQ(comm().backend(), "nccl");
  EXPECT_TRUE(comm().device().is_cuda());
  EXPECT_EQ(comm().device_index(), world().local_rank() % devices());
  EXPECT_EQ(comm().device().index(), comm().device_index());
  EXPECT_EQ(comm().world_size(), shared_world() ? world().world_size() : 1);
  EXPECT_EQ(comm().rank(), reference().rank());
  EXPECT_EQ(comm().timeout_seconds(), 120);
  if (!shared_world() && world().rank() == 0)
    std::printf("note: %d CUDA device(s) for %d local ranks: one-rank NCCL communicators\n",
                devices(), world().local_size());
  const uint64_t before = comm().collectives_enqueued();
  comm().barrier();
  EXPECT_GT(comm().collectives_enqueued(), before);
  comm().synchronize();
}

TEST(NcclCommunicator, AllReduceSumMeanMaxMinAgainstHandValuesAndMpi) {
  REQUIRE_NCCL();
  const double n = comm().world_size(), tri = n * (n + 1) / 2;
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kInt64, torch::kFloat64,
                     torch::kFloat16, torch::kInt32}) {
    SCOPED_TRACE(c10::toString(dtype));
    std::vector<std::pair<ReduceOp, std::vector<double>>> cases = {
        {ReduceOp::Sum, {tri, 10 * tri}}, {ReduceOp::Max, {n, 10 * n}}, {ReduceOp::Min, {1, 10}}};
    if (c10::isFloatingType(dtype)) cases.push_back({ReduceOp::Mean, {tri / n, 10 * tri / n}});
    for (const auto& [op, expected] : cases) {
      SCOPED_TRACE(reduce_op_name(op));
      auto t = contribution(dtype, dev());
      comm().all_reduce(t, op);
      EXPECT_EQ(t.scalar_type(), dtype);
      EXPECT_TRUE(t.is_cuda());
      const auto got = t.cpu();
      EXPECT_TRUE(torch::equal(got, values(expected, dtype))) << got;
      EXPECT_TRUE(torch::equal(got, mpi_all_reduce(contribution(dtype, torch::kCPU), op))) << got;
    }
  }
}

TEST(NcclCommunicator, HostTensorsAreStagedAndWrittenBack) {
  REQUIRE_NCCL();
  const double n = comm().world_size(), tri = n * (n + 1) / 2;
  auto t = contribution(torch::kFloat32, torch::kCPU);
  const void* storage = t.data_ptr();
  comm().all_reduce(t, ReduceOp::Sum);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(t.data_ptr(), storage);
  EXPECT_TRUE(torch::equal(t, values({tri, 10 * tri}, torch::kFloat32))) << t;

  auto b = torch::full({3}, comm().rank() + 7, torch::kInt64);
  comm().broadcast(b, 0);
  EXPECT_TRUE(b.device().is_cpu());
  EXPECT_TRUE(torch::equal(b, torch::full({3}, 7, torch::kInt64))) << b;

  auto g = comm().all_gather(torch::full({2}, comm().rank(), torch::kInt32));
  EXPECT_TRUE(g.device().is_cpu());
  EXPECT_TRUE(torch::equal(g, reference().all_gather(torch::full({2}, comm().rank(), torch::kInt32))))
      << g;
}

TEST(NcclCommunicator, BroadcastAnyDtypeFromEitherRoot) {
  REQUIRE_NCCL();
  for (int root = 0; root < comm().world_size(); ++root) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kInt64, torch::kUInt8,
                       torch::kInt8, torch::kBool, torch::kFloat64}) {
      SCOPED_TRACE(c10::toString(dtype));
      auto mine = (torch::arange(12, torch::kFloat64).reshape({3, 4}) + 5 * comm().rank())
                      .remainder(2 + comm().rank())
                      .to(dtype);
      auto t = mine.to(dev());
      comm().broadcast(t, root);
      auto expected = mine.clone();
      reference().broadcast(expected, root);
      EXPECT_TRUE(torch::equal(t.cpu(), expected)) << t;
    }
  }
}

TEST(NcclCommunicator, AllGatherStacksTheRanksLikeMpi) {
  REQUIRE_NCCL();
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kInt64, torch::kUInt8}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto mine = (torch::arange(6, torch::kFloat64).reshape({2, 3}) * (comm().rank() + 1)).to(dtype);
    auto g = comm().all_gather(mine.to(dev()));
    EXPECT_TRUE(g.is_cuda());
    ASSERT_EQ(g.dim(), 3);
    EXPECT_EQ(g.size(0), comm().world_size());
    const auto host = g.cpu();
    for (int r = 0; r < comm().world_size(); ++r) {
      const auto row = (torch::arange(6, torch::kFloat64).reshape({2, 3}) * (r + 1)).to(dtype);
      EXPECT_TRUE(torch::equal(host[r], row)) << host;
    }
    EXPECT_TRUE(torch::equal(host, reference().all_gather(mine))) << host;
  }
}

TEST(NcclCommunicator, NonContiguousViewsAndEmptyTensors) {
  REQUIRE_NCCL();
  const double n = comm().world_size(), tri = n * (n + 1) / 2;
  auto base = torch::ones({3, 4}, torch::TensorOptions(torch::kFloat32).device(dev())) *
              (comm().rank() + 1);
  auto view = base.t();
  comm().all_reduce(view, ReduceOp::Sum);
  EXPECT_TRUE(torch::equal(base.cpu(), torch::full({3, 4}, static_cast<float>(tri)))) << base;
  auto empty = torch::empty({0, 3}, torch::TensorOptions(torch::kFloat32).device(dev()));
  comm().all_reduce(empty, ReduceOp::Sum);
  comm().broadcast(empty, 0);
  EXPECT_EQ(comm().all_gather(empty).sizes(), (std::vector<int64_t>{comm().world_size(), 0, 3}));
}

TEST(NcclCommunicator, ScalarsStringsAndRequireIdentical) {
  REQUIRE_NCCL();
  const double n = comm().world_size();
  EXPECT_EQ(comm().all_reduce(comm().rank() + 1.0, ReduceOp::Sum), n * (n + 1) / 2);
  EXPECT_EQ(comm().all_reduce(comm().rank(), ReduceOp::Max), comm().world_size() - 1);
  EXPECT_EQ(comm().broadcast(int64_t{comm().rank() + 40}, 0), 40);
  const auto texts = comm().all_gather(std::string(comm().rank() + 1, 'x'));
  ASSERT_EQ(static_cast<int>(texts.size()), comm().world_size());
  for (int r = 0; r < comm().world_size(); ++r) EXPECT_EQ(texts[r], std::string(r + 1, 'x'));
  EXPECT_NO_THROW(comm().require_identical("the configuration", "a = 1\n"));
  if (comm().world_size() > 1) {
    const char* text = comm().rank() ? "a = 2\n" : "a = 1\n";
    const std::string m =
        message_of([&] { comm().require_identical("the configuration", text); });
    EXPECT_NE(m.find("rank 1 has 'a = 2' where rank 0 has 'a = 1'"), std::string::npos) << m;
  }
}

TEST(NcclCommunicator, MismatchesFailOnEveryRankOverTheHost) {
  REQUIRE_NCCL();
  if (comm().world_size() < 2) GTEST_SKIP() << "one-rank NCCL communicator";
  auto t = torch::zeros({comm().rank() + 1}, torch::TensorOptions(torch::kFloat32).device(dev()));
  const std::string m = message_of([&] { comm().all_reduce(t, ReduceOp::Sum); });
  EXPECT_NE(m.find("rank 0: float32 [1], op sum; rank 1: float32 [2], op sum"), std::string::npos)
      << m;
  comm().barrier();  // still usable
}

#if defined(GDPO_TORCH_CUDA)
void sleep_300ms(void*) { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }

// The collective waits for the work on the current stream (here: a host function that sleeps, then
// a multiply), the call returns before that, and later work on the current stream sees its result.
TEST(NcclCommunicator, OrderedWithTheCurrentStreamWithoutBlockingTheHost) {
  REQUIRE_NCCL();
  const double n = comm().world_size(), tri = n * (n + 1) / 2;
  auto t = contribution(torch::kFloat32, dev());
  comm().synchronize();
  torch::cuda::synchronize();
  world().barrier();
  const auto current = static_cast<cudaStream_t>(current_stream_fn()(comm().device_index()));
  ASSERT_EQ(cudaLaunchHostFunc(current, &sleep_300ms, nullptr), cudaSuccess);
  const auto start = std::chrono::steady_clock::now();
  t.mul_(2);
  comm().all_reduce(t, ReduceOp::Sum);
  t.add_(1);
  const double enqueue =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto host = t.cpu();
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(enqueue, 0.25) << "all_reduce waited for the GPU";
  EXPECT_GE(total, 0.29);
  EXPECT_TRUE(torch::equal(host, values({2 * tri + 1, 20 * tri + 1}, torch::kFloat32))) << host;
}
#endif

TEST(NcclCommunicator, MakeCommunicatorNeedsAGpuPerLocalRank) {
  if (devices() == 0) GTEST_SKIP() << "no CUDA device";
  if (devices() < world().local_size()) {
    std::string m = "(no exception)";
    try {
      make_communicator("nccl");
    } catch (const UsageError& e) {
      m = e.what();
    }
    EXPECT_NE(m.find("runs " + std::to_string(world().local_size()) + " ranks and LibTorch sees " +
                     std::to_string(devices()) + " CUDA device"),
              std::string::npos)
        << m;
    return;
  }
  auto c = make_communicator("nccl");
  EXPECT_EQ(c->backend(), "nccl");
  EXPECT_EQ(c->world_size(), world().world_size());
  EXPECT_EQ(c->device().index(), world().local_rank());
  EXPECT_TRUE(c->device().is_cuda());
  auto t = torch::ones({4}, torch::TensorOptions(torch::kFloat32).device(c->device()));
  c->all_reduce(t, ReduceOp::Sum);
  EXPECT_TRUE(torch::equal(t.cpu(), torch::full({4}, static_cast<float>(c->world_size()))));
}

}  // namespace
}  // namespace gdpo::dist
