// `gdpo bench dist` end to end: it passes on 2 MPI ranks (the binary under mpiexec) and without MPI
// (in-process), and a rank that fails (an exception caught by app::run, or std::terminate) ends the
// whole job with a non-zero exit code instead of leaving the other rank waiting in a collective
// (124 would be the timeout's).
#include <gtest/gtest.h>

#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

TEST(BenchDist, PassesOnTwoRanks) {
  auto r = run_gdpo_mpi2("bench dist --dist.size-mb 1 --dist.iters 2", 120);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "backend mpi, 2 ranks on 1 host")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1: local rank 1")) << r.output;
  EXPECT_TRUE(contains(r.output, "all_reduce bfloat16 sum/mean/max/min: ok")) << r.output;
  EXPECT_TRUE(contains(r.output, "all checks passed")) << r.output;
  EXPECT_FALSE(contains(r.output, "FAILED")) << r.output;
}

TEST(BenchDist, AFailingRankAbortsEveryRank) {
  auto r = run_gdpo_mpi2("bench dist --dist.fail-rank 1 --dist.size-mb 1", 60);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung:\n" << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1 fails on purpose")) << r.output;
  EXPECT_FALSE(contains(r.output, "all checks passed")) << r.output;
}

TEST(BenchDist, TerminateOnOneRankAbortsEveryRank) {
  auto r = run_gdpo_mpi2("bench dist --dist.fail-rank 0 --dist.fail-how terminate", 60);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung:\n" << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] fatal: uncaught exception: bench dist: rank 0 fails"))
      << r.output;
}

TEST(BenchDist, RunsWithoutMpi) {
  auto r = run_app("bench dist --dist.backend single --dist.size-mb 1 --dist.iters 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "backend single, 1 rank on 1 host")) << r.output;
  EXPECT_TRUE(contains(r.output, "all checks passed")) << r.output;
}

TEST(BenchDist, BadOptionsAreUsageErrors) {
  auto r = run_app("bench dist --dist.backend nccl2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--dist.backend 'nccl2'")) << r.output;
  r = run_app("bench dist --dist.backend single --dist.fail-rank 1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "not a rank of the 1-rank world")) << r.output;
}

}  // namespace
}  // namespace gdpo::test
