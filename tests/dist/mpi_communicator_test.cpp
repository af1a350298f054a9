// MpiCommunicator on 2 ranks (run under `mpiexec -n 2`): every collective against hand-computed
// values, non-contiguous inputs, the chunked paths, and argument mismatches reported on every rank
// (each rank runs the same collectives in the same order, so a failing EXPECT never hangs the other).
// The sharding collectives (reduce_scatter, all_gather_into) also through the base class's default
// implementations, over the same MPI ranks.
#include "gdpo/dist/mpi_communicator.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/log.hpp"
#include "dist/communicator_fixture.hpp"

namespace gdpo::dist {
namespace {

MpiCommunicator& world() {
  static MpiCommunicator comm;
  return comm;
}

// Rank r contributes [r + 1, 10 (r + 1)]: rank 0 [1, 10], rank 1 [2, 20].
torch::Tensor contribution(torch::ScalarType dtype) {
  const double r = world().rank();
  return torch::tensor({r + 1, 10 * (r + 1)}, torch::kFloat64).to(dtype);
}

torch::Tensor values(std::vector<double> v, torch::ScalarType dtype) {
  return torch::tensor(v, torch::kFloat64).to(dtype);
}

using test::message_of;

TEST(MpiCommunicator, TwoRanksOnOneNode) {
  EXPECT_EQ(world().world_size(), 2);
  EXPECT_EQ(world().local_size(), 2);
  EXPECT_EQ(world().local_rank(), world().rank());
  EXPECT_EQ(world().backend(), "mpi");
  EXPECT_EQ(log::rank(), world().rank());
  EXPECT_EQ(log::world_size(), 2);
  world().barrier();
}

TEST(MpiCommunicator, AllReduceSumMeanMaxMinFloat32) {
  auto sum = contribution(torch::kFloat32), mean = sum.clone(), max = sum.clone(),
       min = sum.clone();
  world().all_reduce(sum, ReduceOp::Sum);
  world().all_reduce(mean, ReduceOp::Mean);
  world().all_reduce(max, ReduceOp::Max);
  world().all_reduce(min, ReduceOp::Min);
  EXPECT_TRUE(torch::equal(sum, values({3, 30}, torch::kFloat32))) << sum;
  EXPECT_TRUE(torch::equal(mean, values({1.5, 15}, torch::kFloat32))) << mean;
  EXPECT_TRUE(torch::equal(max, values({2, 20}, torch::kFloat32))) << max;
  EXPECT_TRUE(torch::equal(min, values({1, 10}, torch::kFloat32))) << min;
}

TEST(MpiCommunicator, AllReduceEveryDtype) {
  for (auto dtype : {torch::kFloat64, torch::kBFloat16, torch::kFloat16, torch::kInt32,
                     torch::kInt64}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto sum = contribution(dtype), max = sum.clone(), min = sum.clone();
    world().all_reduce(sum, ReduceOp::Sum);
    world().all_reduce(max, ReduceOp::Max);
    world().all_reduce(min, ReduceOp::Min);
    EXPECT_EQ(sum.scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(sum, values({3, 30}, dtype))) << sum;
    EXPECT_TRUE(torch::equal(max, values({2, 20}, dtype))) << max;
    EXPECT_TRUE(torch::equal(min, values({1, 10}, dtype))) << min;
    if (c10::isFloatingType(dtype)) {
      auto mean = contribution(dtype);
      world().all_reduce(mean, ReduceOp::Mean);
      EXPECT_TRUE(torch::equal(mean, values({1.5, 15}, dtype))) << mean;
    }
  }
}

TEST(MpiCommunicator, ContiguousFloat32IsReducedInPlace) {
  auto t = contribution(torch::kFloat32);
  const void* before = t.data_ptr();
  world().all_reduce(t, ReduceOp::Sum);
  EXPECT_EQ(t.data_ptr(), before);
  EXPECT_TRUE(torch::equal(t, values({3, 30}, torch::kFloat32)));
}

TEST(MpiCommunicator, MeanOfIntegersAndUnsupportedDtypesAreRejected) {
  auto i = contribution(torch::kInt64);
  EXPECT_NE(message_of([&] { world().all_reduce(i, ReduceOp::Mean); }).find("mean of a int64"),
            std::string::npos);
  auto u = contribution(torch::kUInt8);
  EXPECT_NE(message_of([&] { world().all_reduce(u, ReduceOp::Sum); }).find("unsupported dtype"),
            std::string::npos);
  EXPECT_THROW(world().all_reduce(int64_t{1}, ReduceOp::Mean), Error);
  EXPECT_EQ(world().all_reduce(1, ReduceOp::Sum), 2);  // still in step
}

TEST(MpiCommunicator, AllGatherStacksTheRanksOnANewLeadingDim) {
  const float r = world().rank();
  auto out = world().all_gather(torch::tensor({{r, r + 0.5f}}));  // [1, 2] per rank
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 1, 2}));
  EXPECT_TRUE(torch::equal(out, torch::tensor({{{0.0f, 0.5f}}, {{1.0f, 1.5f}}})));
  auto flags = world().all_gather(torch::tensor({r == 0, r == 1}));
  EXPECT_TRUE(torch::equal(flags, torch::tensor({{true, false}, {false, true}})));
  auto empty = world().all_gather(torch::zeros({0, 3}));
  EXPECT_EQ(empty.sizes(), (std::vector<int64_t>{2, 0, 3}));
}

TEST(MpiCommunicator, BroadcastFromEitherRoot) {
  for (int root : {0, 1}) {
    const auto sent = torch::tensor({7.0, 8.0, 9.0}, torch::kFloat64) * (root + 1);
    auto t = world().rank() == root ? sent.clone() : torch::zeros({3}, torch::kFloat64);
    world().broadcast(t, root);
    EXPECT_TRUE(torch::equal(t, sent)) << t;
  }
}

TEST(MpiCommunicator, NonContiguousTensorsAreWrittenBackThroughTheView) {
  const double r = world().rank();
  auto grid = torch::arange(6, torch::kFloat64).reshape({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  auto base = grid + 10 * r;
  auto view = base.t();  // [3, 2], strides (1, 3)
  ASSERT_FALSE(view.is_contiguous());
  world().all_reduce(view, ReduceOp::Sum);
  EXPECT_TRUE(torch::equal(base, 2 * grid + 10)) << base;

  auto column = (grid + 10 * r).select(1, 0);  // [0 + 10r, 3 + 10r], stride 3
  ASSERT_FALSE(column.is_contiguous());
  auto gathered = world().all_gather(column);
  EXPECT_TRUE(torch::equal(gathered, torch::tensor({{0.0, 3.0}, {10.0, 13.0}}))) << gathered;

  auto mine = grid + 10 * r;
  auto strided = mine.select(1, 2);  // [2 + 10r, 5 + 10r]
  world().broadcast(strided, 1);
  EXPECT_TRUE(torch::equal(mine.select(1, 2), torch::tensor({12.0, 15.0})));
  EXPECT_TRUE(torch::equal(mine.select(1, 0), grid.select(1, 0) + 10 * r));  // untouched
}

TEST(MpiCommunicator, ShapeMismatchInAllGatherFailsOnEveryRank) {
  auto t = torch::zeros({2 + world().rank()});  // rank 0: [2], rank 1: [3]
  const std::string m = message_of([&] { world().all_gather(t); });
  EXPECT_NE(m.find("all_gather: the ranks passed different arguments"), std::string::npos) << m;
  EXPECT_NE(m.find("rank 0: float32 [2]"), std::string::npos) << m;
  EXPECT_NE(m.find("rank 1: float32 [3]"), std::string::npos) << m;
  EXPECT_EQ(world().all_reduce(1, ReduceOp::Sum), 2);  // and the ranks are still in step
}

TEST(MpiCommunicator, SameNumelButDifferentShapeIsAMismatch) {
  auto t = world().rank() == 0 ? torch::zeros({2, 3}) : torch::zeros({3, 2});
  const std::string m = message_of([&] { world().all_gather(t); });
  EXPECT_NE(m.find("rank 1: float32 [3, 2]"), std::string::npos) << m;
}

TEST(MpiCommunicator, DtypeOpAndRootMismatchesFailOnEveryRank) {
  const bool zero = world().rank() == 0;
  auto t = zero ? torch::zeros({2}, torch::kFloat32) : torch::zeros({2}, torch::kFloat64);
  std::string m = message_of([&] { world().all_reduce(t, ReduceOp::Sum); });
  EXPECT_NE(m.find("rank 0: float32 [2], op sum; rank 1: float64 [2], op sum"), std::string::npos)
      << m;
  auto u = torch::zeros({2});
  m = message_of([&] { world().all_reduce(u, zero ? ReduceOp::Sum : ReduceOp::Max); });
  EXPECT_NE(m.find("rank 1: float32 [2], op max"), std::string::npos) << m;
  m = message_of([&] { world().broadcast(u, zero ? 0 : 1); });
  EXPECT_NE(m.find("rank 1: float32 [2], root 1"), std::string::npos) << m;
  m = message_of([&] { world().broadcast(u, 2); });
  EXPECT_NE(m.find("root 2 is not a rank of the 2-rank world"), std::string::npos) << m;
  EXPECT_EQ(world().all_reduce(1, ReduceOp::Sum), 2);
}

TEST(MpiCommunicator, ChunkedCallsGiveTheSameResults) {
  MpiCommunicator comm;
  comm.set_max_chunk_bytes(16);  // 2 float64 / 4 float32 / 16 bytes per MPI call
  const double r = comm.rank();
  auto ramp = torch::arange(37, torch::kFloat64);
  auto sum = ramp + 100 * r;  // 296 bytes: 19 calls, the last one with 1 element
  comm.all_reduce(sum, ReduceOp::Sum);
  EXPECT_TRUE(torch::equal(sum, 2 * ramp + 100));
  auto half = (ramp + r).to(torch::kBFloat16);  // through float32: 148 bytes
  comm.all_reduce(half, ReduceOp::Max);
  EXPECT_TRUE(torch::equal(half, (ramp + 1).to(torch::kBFloat16)));

  auto mine = (ramp + 1000 * r).to(torch::kInt32).reshape({37, 1});  // 148 bytes: 10 pieces
  auto gathered = comm.all_gather(mine);
  EXPECT_TRUE(torch::equal(gathered, torch::stack({ramp, ramp + 1000}).to(torch::kInt32)
                                         .reshape({2, 37, 1})));

  auto b = (ramp * (r + 1)).to(torch::kFloat32);
  comm.broadcast(b, 1);
  EXPECT_TRUE(torch::equal(b, (2 * ramp).to(torch::kFloat32)));
  std::string text = comm.rank() == 1 ? std::string(100, 'z') : "";
  comm.broadcast(text, 1);
  EXPECT_EQ(text, std::string(100, 'z'));
}

// Rank r's flat buffer: [offset, offset + 1, ..., offset + n - 1] + 10 r.
torch::Tensor ramp(int64_t n, torch::ScalarType dtype, double offset = 0) {
  return (torch::arange(n, torch::kFloat64) + offset + 10 * world().rank()).to(dtype);
}

using DefaultShardingOverMpi = test::WithDefaultSharding<MpiCommunicator>;

// Rank 0 inputs [0, 1, 2, 3], rank 1 [10, 11, 12, 13]; rank 0 reduces elements 0-1, rank 1 2-3.
void expect_reduce_scatter_hand_values(Communicator& comm) {
  const bool zero = comm.rank() == 0;
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    std::vector<std::pair<ReduceOp, std::vector<double>>> cases = {
        {ReduceOp::Sum, zero ? std::vector<double>{10, 12} : std::vector<double>{14, 16}},
        {ReduceOp::Max, zero ? std::vector<double>{10, 11} : std::vector<double>{12, 13}},
        {ReduceOp::Min, zero ? std::vector<double>{0, 1} : std::vector<double>{2, 3}}};
    if (c10::isFloatingType(dtype)) {
      cases.push_back(
          {ReduceOp::Mean, zero ? std::vector<double>{5, 6} : std::vector<double>{7, 8}});
    }
    for (const auto& [op, expected] : cases) {
      SCOPED_TRACE(reduce_op_name(op));
      const auto input = ramp(4, dtype);
      auto output = torch::full({2}, -1, dtype);
      comm.reduce_scatter(input, output, op);
      EXPECT_TRUE(torch::equal(output, values(expected, dtype))) << output;
      EXPECT_TRUE(torch::equal(input, ramp(4, dtype))) << "input changed: " << input;
    }
  }
}

TEST(MpiCommunicator, ReduceScatterSumMeanMaxMinByHand) {
  expect_reduce_scatter_hand_values(world());
}

// Rank 0 contributes [0, 1, 2], rank 1 [10, 11, 12]: both gather [0, 1, 2, 10, 11, 12].
void expect_all_gather_into_hand_values(Communicator& comm) {
  const int r = comm.rank();
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const auto expected = values({0, 1, 2, 10, 11, 12}, dtype);
    auto output = torch::full({6}, -1, dtype);
    const auto input = ramp(3, dtype);
    comm.all_gather_into(input, output);
    EXPECT_TRUE(torch::equal(output, expected)) << "out of place: " << output;

    auto buffer = torch::full({6}, -1, dtype);
    auto mine = buffer.narrow(0, 3 * r, 3);
    mine.copy_(ramp(3, dtype));
    const void* storage = buffer.data_ptr();
    comm.all_gather_into(mine, buffer);
    EXPECT_EQ(buffer.data_ptr(), storage);
    EXPECT_TRUE(torch::equal(buffer, expected)) << "in place: " << buffer;
  }
  auto flags = torch::zeros({4}, torch::kBool);  // any dtype: bytes
  comm.all_gather_into(torch::tensor({r == 0, r == 1}), flags);
  EXPECT_TRUE(torch::equal(flags, torch::tensor({true, false, false, true}))) << flags;
}

TEST(MpiCommunicator, AllGatherIntoInPlaceAndOutOfPlaceByHand) {
  expect_all_gather_into_hand_values(world());
}

TEST(MpiCommunicator, ReduceScatterMeanIsAllReduceMeansSliceBitForBit) {
  const int r = world().rank();
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    // Values whose sum and halving round (thirds, sines), different on each rank.
    const auto input =
        ((torch::arange(64, torch::kFloat64) * 0.37 + r / 3.0).sin() * 7.1 + 1.0 / 3).to(dtype);
    auto reduced = input.clone();
    world().all_reduce(reduced, ReduceOp::Mean);
    auto output = torch::empty({32}, dtype);
    world().reduce_scatter(input, output, ReduceOp::Mean);
    EXPECT_TRUE(torch::equal(output, reduced.narrow(0, 32 * r, 32)))
        << (output - reduced.narrow(0, 32 * r, 32)).abs().max();
    auto summed = input.clone();
    world().all_reduce(summed, ReduceOp::Sum);
    world().reduce_scatter(input, output, ReduceOp::Sum);
    EXPECT_TRUE(torch::equal(output, summed.narrow(0, 32 * r, 32)));
  }
}

TEST(MpiCommunicator, ShardingCollectivesOfEmptyBuffers) {
  auto output = torch::empty({0});
  world().reduce_scatter(torch::empty({0}), output, ReduceOp::Mean);
  world().all_gather_into(torch::empty({0}), output);
  EXPECT_EQ(output.numel(), 0);
  EXPECT_EQ(world().all_reduce(1, ReduceOp::Sum), 2);
}

TEST(MpiCommunicator, ChunkedShardingCollectivesGiveTheSameResults) {
  MpiCommunicator comm;
  comm.set_max_chunk_bytes(16);  // per call: 2 float64 / 4 float32 of one rank's part
  const int r = comm.rank();
  const auto all = torch::arange(74, torch::kFloat64);
  const auto mine = all + 100 * r;  // parts of 37: 296 bytes of float64, packed 1 element at a time
  for (auto dtype : {torch::kFloat64, torch::kFloat32, torch::kBFloat16, torch::kInt32}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto output = torch::empty({37}, dtype);
    comm.reduce_scatter(mine.to(dtype), output, ReduceOp::Sum);
    EXPECT_TRUE(torch::equal(output, (2 * all.narrow(0, 37 * r, 37) + 100).to(dtype))) << output;
    comm.reduce_scatter(mine.to(dtype), output, ReduceOp::Max);
    EXPECT_TRUE(torch::equal(output, (all.narrow(0, 37 * r, 37) + 100).to(dtype))) << output;
  }
  auto part = (torch::arange(37, torch::kFloat64) + 1000 * r).to(torch::kInt32);  // 148 bytes
  const auto expected =
      torch::cat({torch::arange(37, torch::kFloat64), torch::arange(37, torch::kFloat64) + 1000})
          .to(torch::kInt32);
  auto gathered = torch::zeros({74}, torch::kInt32);
  comm.all_gather_into(part, gathered);
  EXPECT_TRUE(torch::equal(gathered, expected)) << gathered;
  auto buffer = torch::zeros({74}, torch::kInt32);
  buffer.narrow(0, 37 * r, 37).copy_(part);
  comm.all_gather_into(buffer.narrow(0, 37 * r, 37), buffer);
  EXPECT_TRUE(torch::equal(buffer, expected)) << buffer;
}

TEST(MpiCommunicator, DefaultShardingImplementationsOverMpi) {
  DefaultShardingOverMpi comm;
  expect_reduce_scatter_hand_values(comm);
  expect_all_gather_into_hand_values(comm);
  // Bit for bit the MPI backend's own reduce-scatter (both reduce in float32, then halve).
  const auto input = ((torch::arange(16, torch::kFloat64) * 0.37 + comm.rank() / 3.0).sin() * 7.1)
                         .to(torch::kBFloat16);
  auto by_default = torch::empty({8}, torch::kBFloat16), by_mpi = by_default.clone();
  comm.reduce_scatter(input, by_default, ReduceOp::Mean);
  world().reduce_scatter(input, by_mpi, ReduceOp::Mean);
  EXPECT_TRUE(torch::equal(by_default, by_mpi)) << by_default << by_mpi;
}

TEST(MpiCommunicator, ShardingNumelMismatchFailsOnEveryRank) {
  const int r = world().rank();
  // Each rank's output fits its own input: only the agreement check can tell.
  auto output = torch::empty({2 + r});
  std::string m = message_of([&] { world().reduce_scatter(torch::zeros({4 + 2 * r}), output); });
  EXPECT_NE(m.find("reduce_scatter: the ranks passed different arguments"), std::string::npos) << m;
  EXPECT_NE(m.find("rank 0: float32 [4], op sum; rank 1: float32 [6], op sum"), std::string::npos)
      << m;
  auto gathered = torch::empty({4 + 2 * r});
  m = message_of([&] { world().all_gather_into(torch::zeros({2 + r}), gathered); });
  EXPECT_NE(m.find("all_gather_into: the ranks passed different arguments"), std::string::npos)
      << m;
  EXPECT_NE(m.find("rank 0: float32 [2]; rank 1: float32 [3]"), std::string::npos) << m;
  EXPECT_EQ(world().all_reduce(1, ReduceOp::Sum), 2);  // and the ranks are still in step
}

TEST(MpiCommunicator, ShardingArgumentErrorsOfOneRankFailOnEveryRank) {
  const bool one = world().rank() == 1;
  const auto input = torch::zeros({4});
  auto output = torch::empty({one ? 3 : 2});  // rank 1's is wrong
  std::string m = message_of([&] { world().reduce_scatter(input, output); });
  EXPECT_NE(m.find("reduce_scatter: rank 1: output must have input.numel() / world_size() = 4 / 2 "
                   "= 2 elements (input float32 [4], output float32 [3])"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("rank 0:"), std::string::npos) << m;

  auto gathered = torch::zeros({4});  // rank 0's part is [0, 2); it passes [1, 3)
  const auto in = one ? gathered.narrow(0, 2, 2) : gathered.narrow(0, 1, 2);
  m = message_of([&] { world().all_gather_into(in, gathered); });
  EXPECT_NE(m.find("all_gather_into: rank 0: input overlaps output but is not "
                   "output.narrow(0, rank() * n, n), elements [0, 2) of output"),
            std::string::npos)
      << m;

  auto buffer = torch::zeros({4});
  auto aliased = one ? buffer.narrow(0, 2, 2) : torch::empty({2});
  m = message_of([&] { world().reduce_scatter(buffer, aliased); });
  EXPECT_NE(m.find("reduce_scatter: rank 1: output overlaps input"), std::string::npos) << m;

  auto grid = torch::zeros({4, 2});
  const auto strided = one ? grid.select(1, 0) : torch::zeros({4});
  auto two = torch::empty({2});
  m = message_of([&] { world().reduce_scatter(strided, two); });
  EXPECT_NE(m.find("rank 1: input float32 [4] is not contiguous (stride 2)"), std::string::npos)
      << m;

  auto ints = torch::zeros({4}, torch::kInt64), half_ints = torch::zeros({2}, torch::kInt64);
  m = message_of([&] { world().reduce_scatter(ints, half_ints, ReduceOp::Mean); });
  EXPECT_NE(m.find("reduce_scatter: rank 0: mean of a int64 tensor"), std::string::npos) << m;
  EXPECT_NE(m.find("; rank 1: mean of a int64 tensor"), std::string::npos) << m;
  EXPECT_EQ(world().all_reduce(1, ReduceOp::Sum), 2);
}

TEST(MpiCommunicator, Scalars) {
  const int r = world().rank();
  EXPECT_EQ(world().all_reduce(r + 1.0, ReduceOp::Sum), 3.0);
  EXPECT_EQ(world().all_reduce(r + 1.0, ReduceOp::Mean), 1.5);
  EXPECT_EQ(world().all_reduce(r + 1.0, ReduceOp::Max), 2.0);
  EXPECT_EQ(world().all_reduce(int64_t{r + 1}, ReduceOp::Min), 1);
  EXPECT_EQ(world().all_reduce(r + 1, ReduceOp::Sum), 3);  // int: as int64
  EXPECT_EQ(world().broadcast(r == 1 ? 2.5 : 0.0, 1), 2.5);
  EXPECT_EQ(world().broadcast(int64_t{r == 0 ? 42 : 0}), 42);
  EXPECT_EQ(world().all_gather(10 * r), (std::vector<int64_t>{0, 10}));
  EXPECT_EQ(world().all_gather(r + 0.25), (std::vector<double>{0.25, 1.25}));
}

TEST(MpiCommunicator, StringsOfDifferentLengths) {
  const int r = world().rank();
  const std::string mine = "rank-" + std::to_string(r) + std::string(5 * r, 'x');
  EXPECT_EQ(world().all_gather(mine), (std::vector<std::string>{"rank-0", "rank-1xxxxx"}));
  EXPECT_EQ(world().all_gather(r == 0 ? "" : "only one"),
            (std::vector<std::string>{"", "only one"}));
  std::string text = mine;
  world().broadcast(text, 1);
  EXPECT_EQ(text, "rank-1xxxxx");
  std::string empty = r == 0 ? "" : "overwritten";
  world().broadcast(empty, 0);
  EXPECT_EQ(empty, "");
}

TEST(MpiCommunicator, RequireIdenticalNamesTheFirstDifference) {
  EXPECT_NO_THROW(world().require_identical("the configuration", "a = 1\nb = 2\n"));
  const std::string text = world().rank() == 0 ? "a = 1\nb = 2\n" : "a = 1\nb = 3\n";
  try {
    world().require_identical("the configuration", text);
    ADD_FAILURE() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the configuration differs across ranks: rank 1 has 'b = 3' where rank 0 has "
              "'b = 2' (line 2)");
  }
}

TEST(MpiCommunicator, MpiErrorsBecomeGdpoErrorsWithTheMpiMessage) {
  int value = 0;
  char expected[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(MPI_ERR_ROOT, expected, &length);
  const std::string m = message_of(
      [&] { GDPO_MPI_CHECK(MPI_Bcast(&value, 1, MPI_INT, 5, world().mpi_comm())); });
  EXPECT_NE(m.find("tests/dist/mpi_communicator_test.cpp:"), std::string::npos) << m;
  EXPECT_NE(m.find(std::string("MPI_Bcast failed: ") + expected), std::string::npos) << m;
}

TEST(MpiCommunicator, MakeCommunicatorUsesMpiWhenLaunchedByMpiexec) {
  EXPECT_TRUE(launched_by_mpi());
  auto comm = make_communicator("auto");
  EXPECT_EQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->world_size(), 2);
  EXPECT_EQ(comm->all_reduce(comm->rank() + 1, ReduceOp::Sum), 3);
}

}  // namespace
}  // namespace gdpo::dist
