// H5File's pieces for sharded checkpoints: element ranges of the flattened dataset (every range of
// a 3-D one against torch's flatten), declared datasets that hold no data, integer array
// attributes, is_dataset, and no leaked HDF5 identifiers.
#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "io/h5_test_util.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

using test::H5IdCount;

TEST(H5FileRange, EveryRangeOfA3dDatasetIsTheFlattenedSlice) {
  gdpo::test::TempDir dir;
  const torch::Tensor t = torch::arange(24, torch::kInt).reshape({2, 3, 4});
  const torch::Tensor v = torch::tensor({1.5, -2.5, 4.0}, torch::kDouble);
  {
    H5File f = H5File::create(dir.file("t.h5"));
    f.write_tensor("g/t", t);
    f.write_tensor("v", v);
    f.write_tensor("s", torch::scalar_tensor(7, torch::kLong));
    f.close();
  }
  H5IdCount ids;
  {
    H5File f = H5File::open_read(dir.file("t.h5"));
    const torch::Tensor flat = t.reshape(-1);
    for (int64_t begin = 0; begin <= 24; ++begin)
      for (int64_t count = 0; begin + count <= 24; ++count) {
        const torch::Tensor got = f.read_tensor_range("g/t", begin, count);
        ASSERT_EQ(got.scalar_type(), torch::kInt);
        ASSERT_TRUE(torch::equal(got, flat.slice(0, begin, begin + count)))
            << "[" << begin << ", " << begin + count << "): " << got;
      }
    EXPECT_TRUE(torch::equal(f.read_tensor_range("v", 1, 2), v.slice(0, 1, 3)));
    EXPECT_TRUE(torch::equal(f.read_tensor_range("s", 0, 1), torch::tensor({int64_t{7}})));
    EXPECT_EQ(f.read_tensor_range("s", 1, 0).numel(), 0);
    EXPECT_THROW(f.read_tensor_range("g/t", 20, 5), InputError);
    EXPECT_THROW(f.read_tensor_range("g/t", -1, 2), InputError);
    EXPECT_THROW(f.read_tensor_range("none", 0, 1), InputError);
  }
  EXPECT_EQ(ids.objects_opened(), 0);
  EXPECT_EQ(ids.transient_open(), 0);
}

TEST(H5FileRange, ADeclaredTensorHasAShapeButNoData) {
  gdpo::test::TempDir dir;
  {
    H5File f = H5File::create(dir.file("d.h5"));
    f.declare_tensor("policy/w", torch::kBFloat16, {3, 4});
    f.declare_tensor("scalar", torch::kLong, {});
    f.declare_tensor("empty", torch::kFloat, {0, 2});
    f.close();
  }
  H5File f = H5File::open_read(dir.file("d.h5"));
  const TensorInfo info = f.tensor_info("policy/w");
  EXPECT_EQ(info.dtype, torch::kBFloat16);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(f.tensor_info("scalar").shape.empty());
  try {
    f.read_tensor("policy/w");
    ADD_FAILURE() << "read a declared tensor";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'policy/w' holds no data"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(f.read_tensor("scalar"), InputError);
  EXPECT_THROW(f.read_tensor_range("policy/w", 2, 3), InputError);
  EXPECT_EQ(f.read_tensor("empty").numel(), 0);  // nothing to hold
}

TEST(H5FileRange, IntegerArrayAttributesAndDatasetsVersusGroups) {
  gdpo::test::TempDir dir;
  H5IdCount ids;
  {
    H5File f = H5File::create(dir.file("a.h5"));
    f.write_tensor("g/x", torch::ones({2}));
    f.set_attr("g/x", "shape", std::vector<int64_t>{3, 4});
    f.set_attr("g/x", "none", std::vector<int64_t>{});
    f.set_attr("g/x", "one", int64_t{5});
    f.set_attr("g/x", "text", "abc");
    f.set_attr("g/x", "shape", std::vector<int64_t>{int64_t{1} << 40, -2, 0});  // replaces
    EXPECT_EQ(f.int_array_attr("g/x", "shape"), (std::vector<int64_t>{int64_t{1} << 40, -2, 0}));
    EXPECT_TRUE(f.int_array_attr("g/x", "none").empty());
    EXPECT_EQ(f.int_array_attr("g/x", "one"), (std::vector<int64_t>{5}));
    EXPECT_THROW(f.int_array_attr("g/x", "text"), InputError);
    EXPECT_THROW(f.int_array_attr("g/x", "missing"), InputError);
    EXPECT_TRUE(f.is_dataset("g/x"));
    EXPECT_FALSE(f.is_dataset("g"));
    EXPECT_FALSE(f.is_dataset("g/y"));
    EXPECT_FALSE(f.is_dataset("/"));
    f.close();
  }
  EXPECT_EQ(H5File::open_read(dir.file("a.h5")).int_array_attr("g/x", "shape").size(), 3u);
  EXPECT_EQ(ids.objects_opened(), 0);
  EXPECT_EQ(ids.transient_open(), 0);
}

}  // namespace
}  // namespace gdpo::io
