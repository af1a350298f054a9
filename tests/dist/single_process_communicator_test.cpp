// The one-rank communicator (identity collectives, same argument checks; reduce_scatter and
// all_gather_into also through the base class's default implementations) and make_communicator's
// choice of backend.
#include "gdpo/dist/single_process_communicator.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "gdpo/core/error.hpp"
#include "dist/communicator_fixture.hpp"

namespace gdpo::dist {
namespace {

TEST(SingleProcessCommunicator, CollectivesAreIdentities) {
  SingleProcessCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.world_size(), 1);
  EXPECT_EQ(comm.local_size(), 1);
  EXPECT_TRUE(comm.is_root());
  for (auto op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min}) {
    auto t = torch::tensor({1.5f, -2.0f});
    comm.all_reduce(t, op);
    EXPECT_TRUE(torch::equal(t, torch::tensor({1.5f, -2.0f}))) << reduce_op_name(op);
  }
  auto g = comm.all_gather(torch::arange(6).reshape({2, 3}).t());  // non-contiguous
  EXPECT_TRUE(torch::equal(g, torch::arange(6).reshape({2, 3}).t().unsqueeze(0)));
  auto b = torch::tensor({3, 4});
  comm.broadcast(b, 0);
  EXPECT_TRUE(torch::equal(b, torch::tensor({3, 4})));
  comm.barrier();
}

TEST(SingleProcessCommunicator, ScalarsAndStrings) {
  SingleProcessCommunicator comm;
  EXPECT_EQ(comm.all_reduce(2.5, ReduceOp::Mean), 2.5);
  EXPECT_EQ(comm.all_reduce(7, ReduceOp::Sum), 7);
  EXPECT_EQ(comm.broadcast(int64_t{9}), 9);
  EXPECT_EQ(comm.all_gather(4), (std::vector<int64_t>{4}));
  EXPECT_EQ(comm.all_gather(std::string("hello")), (std::vector<std::string>{"hello"}));
  std::string s = "kept";
  comm.broadcast(s, 0);
  EXPECT_EQ(s, "kept");
  EXPECT_NO_THROW(comm.require_identical("the configuration", "anything"));
}

TEST(SingleProcessCommunicator, ChecksArguments) {
  SingleProcessCommunicator comm;
  auto i = torch::tensor({1, 2});
  EXPECT_THROW(comm.all_reduce(i, ReduceOp::Mean), Error);
  auto u = torch::tensor({1, 2}, torch::kUInt8);
  EXPECT_THROW(comm.all_reduce(u, ReduceOp::Sum), Error);
  EXPECT_THROW(comm.broadcast(i, 1), Error);
  torch::Tensor undefined;
  EXPECT_THROW(comm.all_gather(undefined), Error);
}

using DefaultSharding = test::WithDefaultSharding<SingleProcessCommunicator>;

// One rank: reduce_scatter and all_gather_into copy (Mean too), and in place gathering is a no-op.
void expect_sharding_copies(Communicator& comm) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const auto input = torch::tensor({1.5, -2.0, 4.0, 8.0}, torch::kFloat64).to(dtype);
    for (auto op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min}) {
      if (op == ReduceOp::Mean && !c10::isFloatingType(dtype)) continue;
      auto output = torch::zeros({4}, dtype);
      comm.reduce_scatter(input, output, op);
      EXPECT_TRUE(torch::equal(output, input)) << reduce_op_name(op) << output;
    }
    auto gathered = torch::zeros({4}, dtype);
    comm.all_gather_into(input, gathered);
    EXPECT_TRUE(torch::equal(gathered, input)) << gathered;
    auto buffer = input.clone();
    const void* storage = buffer.data_ptr();
    comm.all_gather_into(buffer.narrow(0, 0, 4), buffer);  // in place: its own (only) slice
    EXPECT_EQ(buffer.data_ptr(), storage);
    EXPECT_TRUE(torch::equal(buffer, input)) << buffer;
  }
  auto empty = torch::empty({0});
  comm.reduce_scatter(torch::empty({0}), empty, ReduceOp::Mean);
  comm.all_gather_into(torch::empty({0}), empty);
}

TEST(SingleProcessCommunicator, ReduceScatterAndAllGatherIntoCopy) {
  SingleProcessCommunicator comm;
  expect_sharding_copies(comm);
}

TEST(SingleProcessCommunicator, DefaultReduceScatterAndAllGatherIntoCopy) {
  DefaultSharding comm;
  expect_sharding_copies(comm);
}

using test::message_of;

TEST(SingleProcessCommunicator, ShardingCollectivesCheckTheirArguments) {
  SingleProcessCommunicator comm;
  const auto input = torch::zeros({4});
  auto small = torch::zeros({3});
  auto m = message_of([&] { comm.reduce_scatter(input, small); });
  EXPECT_NE(m.find("reduce_scatter: output must have input.numel() / world_size() = 4 / 1 = 4 "
                   "elements (input float32 [4], output float32 [3])"),
            std::string::npos)
      << m;
  m = message_of([&] { comm.all_gather_into(input, small); });
  EXPECT_NE(m.find("all_gather_into: output must have world_size() * input.numel() = 1 * 4 = 4 "
                   "elements (input float32 [4], output float32 [3])"),
            std::string::npos)
      << m;

  auto out = torch::zeros({4});
  m = message_of([&] { comm.reduce_scatter(torch::zeros({2, 2}), out); });
  EXPECT_NE(m.find("reduce_scatter: input float32 [2, 2] is not 1-D"), std::string::npos) << m;
  m = message_of([&] { comm.reduce_scatter(torch::zeros({4, 2}).select(1, 1), out); });
  EXPECT_NE(m.find("reduce_scatter: input float32 [4] is not contiguous (stride 2)"),
            std::string::npos)
      << m;
  auto doubles = torch::zeros({4}, torch::kFloat64);
  m = message_of([&] { comm.reduce_scatter(input, doubles); });
  EXPECT_NE(m.find("reduce_scatter: output and input differ in dtype (input float32 [4], output "
                   "float64 [4])"),
            std::string::npos)
      << m;
  m = message_of([&] { comm.all_gather_into(input, doubles); });
  EXPECT_NE(m.find("all_gather_into: output and input differ in dtype"), std::string::npos) << m;
  auto ints = torch::zeros({4}, torch::kInt64);
  m = message_of([&] { comm.reduce_scatter(ints.clone(), ints, ReduceOp::Mean); });
  EXPECT_NE(m.find("reduce_scatter: mean of a int64 tensor"), std::string::npos) << m;
  auto bytes = torch::zeros({4}, torch::kUInt8);
  m = message_of([&] { comm.reduce_scatter(torch::zeros({4}, torch::kUInt8), bytes); });
  EXPECT_NE(m.find("reduce_scatter: unsupported dtype uint8"), std::string::npos) << m;
  comm.all_gather_into(torch::ones({4}, torch::kUInt8), bytes);  // gathering: any dtype
  EXPECT_TRUE(torch::equal(bytes, torch::ones({4}, torch::kUInt8)));
  torch::Tensor undefined;
  m = message_of([&] { comm.all_gather_into(undefined, out); });
  EXPECT_NE(m.find("all_gather_into: input is an undefined tensor"), std::string::npos) << m;

  auto same = torch::zeros({4});
  m = message_of([&] { comm.reduce_scatter(same, same); });
  EXPECT_NE(m.find("reduce_scatter: output overlaps input"), std::string::npos) << m;
  auto buffer = torch::zeros({5});
  auto head = buffer.narrow(0, 0, 4);
  m = message_of([&] { comm.all_gather_into(buffer.narrow(0, 1, 4), head); });
  EXPECT_NE(m.find("all_gather_into: input overlaps output but is not output.narrow(0, rank() * n, "
                   "n), elements [0, 4) of output"),
            std::string::npos)
      << m;
}

// Sets or clears an environment variable for the scope of a test.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~EnvVar() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(MakeCommunicator, AutoDetectsTheLauncherFromTheEnvironment) {
  EnvVar a("OMPI_COMM_WORLD_SIZE", nullptr), b("PMI_SIZE", nullptr), c("PMIX_RANK", nullptr),
      d("MPI_LOCALNRANKS", nullptr), e("SLURM_STEP_NUM_TASKS", "1");
  EXPECT_FALSE(launched_by_mpi());
  EXPECT_EQ(make_communicator("auto")->backend(), "single");
  {
    EnvVar srun("SLURM_STEP_NUM_TASKS", "4");
    EXPECT_TRUE(launched_by_mpi());
  }
  {
    EnvVar mpiexec("OMPI_COMM_WORLD_SIZE", "2");
    EXPECT_TRUE(launched_by_mpi());
  }
}

TEST(MakeCommunicator, SingleAndUnknownBackends) {
  EXPECT_EQ(make_communicator("single")->world_size(), 1);
  try {
    make_communicator("nccl2");
    ADD_FAILURE() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown distributed backend 'nccl2'"), std::string::npos);
  }
}

}  // namespace
}  // namespace gdpo::dist
