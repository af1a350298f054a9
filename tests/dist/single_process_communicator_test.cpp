// The one-rank communicator (identity collectives, same argument checks) and make_communicator's
// choice of backend.
#include "gdpo/dist/single_process_communicator.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "gdpo/core/error.hpp"

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
