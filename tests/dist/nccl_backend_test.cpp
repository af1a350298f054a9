// make_communicator("nccl") where it cannot run: without a CUDA device (this machine) it is a
// gdpo::UsageError naming the backend and the reason, which depends on the build (no NCCL compiled
// in, or no CUDA device). In a GDPO_CUDA build also the parts of the NCCL backend that need no GPU:
// the GDPO_NCCL_TIMEOUT override and the current-stream hook. The collectives themselves are tested
// on a GPU by gpu_mpi_nccl_communicator_test.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "gdpo/core/error.hpp"
#include "gdpo/dist/communicator.hpp"
#if defined(GDPO_CUDA)
#include "gdpo/dist/nccl_communicator.hpp"
#include "support/test_support.hpp"
#endif

namespace gdpo::dist {
namespace {

using gdpo::test::contains;

TEST(NcclBackend, RefusedWithTheReasonWhereItCannotRun) {
  if (torch::cuda::device_count() > 0)
    GTEST_SKIP() << "a CUDA device is visible; the NCCL backend is tested by test_dist_gpu_mpi";
  std::string message = "(no exception)";
  try {
    make_communicator("nccl");
  } catch (const UsageError& e) {
    message = e.what();
  }
  EXPECT_TRUE(contains(message, "--dist.backend nccl")) << message;
  EXPECT_TRUE(contains(message, "use --dist.backend mpi")) << message;
#if defined(GDPO_CUDA)
  EXPECT_TRUE(contains(message, "needs a CUDA device")) << message;
  EXPECT_TRUE(contains(message, "torch::cuda::device_count() is 0")) << message;
#if !defined(GDPO_TORCH_CUDA)
  EXPECT_TRUE(contains(message, "this LibTorch has no CUDA")) << message;
#endif
#else
  EXPECT_TRUE(contains(message, "built without NCCL")) << message;
  EXPECT_TRUE(contains(message, "-DGDPO_CUDA=ON")) << message;
#endif
}

TEST(NcclBackend, UnknownBackendsListNccl) {
  std::string message;
  try {
    make_communicator("gloo");
  } catch (const UsageError& e) {
    message = e.what();
  }
  EXPECT_TRUE(contains(message, "expected auto, mpi, single or nccl")) << message;
}

#if defined(GDPO_CUDA)
// Sets an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) had_ = true, old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST(NcclBackend, TimeoutFromTheEnvironment) {
  {
    ScopedEnv env("GDPO_NCCL_TIMEOUT", "");
    EXPECT_EQ(nccl_timeout_from_env(600), 600);
  }
  {
    ScopedEnv env("GDPO_NCCL_TIMEOUT", "2.5");
    EXPECT_EQ(nccl_timeout_from_env(600), 2.5);
  }
  for (const char* bad : {"0", "-3", "ten", "5s", "nan", "inf"}) {
    ScopedEnv env("GDPO_NCCL_TIMEOUT", bad);
    std::string message;
    try {
      nccl_timeout_from_env(600);
    } catch (const UsageError& e) {
      message = e.what();
    }
    EXPECT_TRUE(contains(message, "GDPO_NCCL_TIMEOUT='" + std::string(bad) + "'")) << bad << ": "
                                                                              << message;
  }
}

void* fake_stream(int device) {
  return reinterpret_cast<void*>(static_cast<intptr_t>(0x1000 + device));
}

TEST(NcclBackend, CurrentStreamHook) {
  const CurrentStreamFn original = current_stream_fn();
  ASSERT_NE(original, nullptr);
#if !defined(GDPO_TORCH_CUDA)
  EXPECT_EQ(original(0), nullptr);  // the legacy default stream
#else
  EXPECT_EQ(original, &torch_current_cuda_stream);
#endif
  set_current_stream_fn(&fake_stream);
  EXPECT_EQ(current_stream_fn()(2), reinterpret_cast<void*>(0x1002));
  set_current_stream_fn(nullptr);
  EXPECT_EQ(current_stream_fn(), original);
}
#endif

}  // namespace
}  // namespace gdpo::dist
