// H5File: tensor round trips for every dtype (bfloat16 bit-exact), empty and 0-d tensors, dtype and
// shape checks, names and groups, attributes, strings and bytes, bad files, error messages, no
// leaks.
#include "gdpo/io/hdf5_file.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "gdpo/core/error.hpp"
#include "io/h5_test_util.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

using test::H5IdCount;

// The message of the exception `fn` throws as E ("" and a failed expectation if it throws nothing).
template <class E, class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && torch::equal(a, b);
}

TEST(H5File, RoundTripsEveryDtype) {
  gdpo::test::TempDir dir;
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"f32", torch::tensor({1.5f, -2.25f, 0.0f, 1e-30f})},
      {"f64", torch::tensor({1.0 / 3.0, -1e300, 2.5}, torch::kDouble)},
      {"f16", torch::tensor({1.0f, -0.5f, 65504.0f}).to(torch::kHalf)},
      {"bf16", torch::tensor({1.0f, -2.0f, 3.140625f}).to(torch::kBFloat16)},
      {"i8", torch::tensor({-128, 0, 127}, torch::kChar)},
      {"i16", torch::tensor({-32768, 7, 32767}, torch::kShort)},
      {"i32", torch::tensor({-2147483647 - 1, 2147483647}, torch::kInt)},
      {"i64", torch::tensor({int64_t{-9223372036854775807LL - 1}, int64_t{1} << 62}, torch::kLong)},
      {"u8", torch::tensor({0, 200, 255}, torch::kByte)},
      {"b", torch::tensor({true, false, true})},
      {"model/h.0/attn.weight", torch::arange(6, torch::kFloat).reshape({2, 3})},
  };
  {
    H5File f = H5File::create(dir.file("t.h5"));
    for (auto& [name, t] : tensors) f.write_tensor(name, t);
    f.close();
  }
  H5File f = H5File::open_read(dir.file("t.h5"));
  for (auto& [name, t] : tensors) {
    EXPECT_TRUE(same(f.read_tensor(name), t)) << name << ": " << f.read_tensor(name);
    EXPECT_EQ(f.tensor_info(name).dtype, t.scalar_type()) << name;
  }
  EXPECT_EQ(f.read_tensor("model/h.0/attn.weight").sizes(), torch::IntArrayRef({2, 3}));
  EXPECT_EQ(f.read_tensor("i64")[0].item<int64_t>(), std::numeric_limits<int64_t>::min());
}

TEST(H5File, BFloat16IsBitExactAndStoredAsAFloatHdf5Understands) {
  gdpo::test::TempDir dir;
  // 1.0, -2.0, 0.5, +inf, a NaN with payload, -0.0, the smallest subnormal, 3.140625.
  auto bits = torch::tensor(
      {0x3F80, 0xC000 - 0x10000, 0x3F00, 0x7F80, 0x7FC1, -0x8000, 0x0001, 0x4049}, torch::kShort);
  H5File f = H5File::create(dir.file("bf.h5"));
  f.write_tensor("x", bits.view(torch::kBFloat16));
  f.write_tensor("h", torch::tensor({1.0f, -2.0f, 0.5f}).to(torch::kHalf));
  EXPECT_TRUE(same(f.read_tensor("x").view(torch::kShort), bits));

  // Another reader (h5py, h5dump) sees a float type: HDF5 itself converts it to native float.
  H5Handle ds(H5Dopen2(f.id(), "x", H5P_DEFAULT));
  H5Handle type(H5Dget_type(ds.get()));
  size_t spos, epos, esize, mpos, msize;
  ASSERT_GE(H5Tget_fields(type.get(), &spos, &epos, &esize, &mpos, &msize), 0);
  EXPECT_EQ(H5Tget_class(type.get()), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(type.get()), 2u);
  EXPECT_EQ(std::vector<size_t>({spos, epos, esize, mpos, msize}),
            std::vector<size_t>({15, 7, 8, 0, 7}));
  EXPECT_EQ(H5Tget_ebias(type.get()), 127u);
  float as_float[8];
  ASSERT_GE(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, as_float), 0);
  EXPECT_EQ(as_float[0], 1.0f);
  EXPECT_EQ(as_float[1], -2.0f);
  EXPECT_EQ(as_float[2], 0.5f);
  EXPECT_EQ(as_float[3], INFINITY);
  EXPECT_TRUE(std::isnan(as_float[4]));
  EXPECT_EQ(as_float[7], 3.140625f);

  H5Handle half(H5Dopen2(f.id(), "h", H5P_DEFAULT));
  ASSERT_GE(H5Dread(half.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, as_float), 0);
  EXPECT_EQ(std::vector<float>(as_float, as_float + 3), std::vector<float>({1.0f, -2.0f, 0.5f}));
}

TEST(H5File, WritesNonContiguousTensorsAsTheirValues) {
  gdpo::test::TempDir dir;
  H5File f = H5File::create(dir.file("t.h5"));
  auto m = torch::arange(12, torch::kLong).reshape({3, 4});
  f.write_tensor("transposed", m.t());            // [[0, 4, 8], [1, 5, 9], ...]
  f.write_tensor("every_other", m.select(1, 1));  // [1, 5, 9]
  f.write_tensor("expanded", torch::tensor({7}).expand({2, 3}));
  EXPECT_TRUE(same(f.read_tensor("transposed"), m.t().contiguous()));
  EXPECT_TRUE(same(f.read_tensor("every_other"), torch::tensor({1, 5, 9}, torch::kLong)));
  EXPECT_TRUE(same(f.read_tensor("expanded"), torch::full({2, 3}, 7, torch::kLong)));
}

TEST(H5File, EmptyAndZeroDimensionalTensors) {
  gdpo::test::TempDir dir;
  H5File f = H5File::create(dir.file("t.h5"));
  f.write_tensor("empty", torch::zeros({0, 3}));
  f.write_tensor("scalar", torch::tensor(42, torch::kLong).reshape({}));
  f.write_tensor("empty_bf16", torch::zeros({0}, torch::kBFloat16));
  auto empty = f.read_tensor("empty");
  EXPECT_EQ(empty.sizes(), torch::IntArrayRef({0, 3}));
  EXPECT_EQ(empty.scalar_type(), torch::kFloat);
  auto scalar = f.read_tensor("scalar", torch::kLong, {});
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<int64_t>(), 42);
  EXPECT_EQ(f.read_tensor("empty_bf16").numel(), 0);
  EXPECT_TRUE(f.tensor_info("scalar").shape.empty());
}

TEST(H5File, RejectsWrongDtypeShapeAndMissingTensorsNamingThem) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("ckpt.h5");
  H5File f = H5File::create(path);
  f.write_tensor("model/w", torch::zeros({2, 3}));
  EXPECT_TRUE(same(f.read_tensor("model/w", torch::kFloat, {2, 3}), torch::zeros({2, 3})));

  std::string shape = error_of<InputError>([&] {
    f.read_tensor("model/w", torch::kFloat, {3, 2});
  });
  EXPECT_NE(shape.find(path), std::string::npos) << shape;
  EXPECT_NE(shape.find("'model/w'"), std::string::npos) << shape;
  EXPECT_NE(shape.find("shape [2, 3], expected dtype Float and shape [3, 2]"), std::string::npos)
      << shape;
  std::string dtype = error_of<InputError>([&] {
    f.read_tensor("model/w", torch::kBFloat16, {2, 3});
  });
  EXPECT_NE(dtype.find("has dtype Float and shape [2, 3], expected dtype BFloat16"),
            std::string::npos)
      << dtype;
  std::string missing = error_of<InputError>([&] { f.read_tensor("model/v"); });
  EXPECT_NE(missing.find(path), std::string::npos) << missing;
  EXPECT_NE(missing.find("'model/v'"), std::string::npos) << missing;
  EXPECT_THROW(f.read_tensor("nope/deeper"), InputError);
  EXPECT_THROW(f.write_tensor("c", torch::zeros({2}, torch::kComplexFloat)), Error);
  EXPECT_THROW(f.write_tensor("u", torch::Tensor()), Error);
}

TEST(H5File, NamesGroupsAndReplacement) {
  gdpo::test::TempDir dir;
  H5File f = H5File::create(dir.file("t.h5"));
  f.write_tensor("a/b/c", torch::ones({1}));
  f.write_tensor("/a/d", torch::ones({1}));
  f.write_tensor("e", torch::ones({1}));
  EXPECT_TRUE(f.exists("/"));
  EXPECT_TRUE(f.exists("a"));
  EXPECT_TRUE(f.exists("a/b/c"));
  EXPECT_TRUE(f.exists("/a/b/c"));
  EXPECT_FALSE(f.exists("a/x"));
  EXPECT_FALSE(f.exists("x/y"));
  EXPECT_FALSE(f.exists("e/x"));  // e is a dataset
  EXPECT_EQ(f.list(), std::vector<std::string>({"a", "e"}));
  EXPECT_EQ(f.list("a"), std::vector<std::string>({"b", "d"}));
  EXPECT_EQ(f.list("a/b"), std::vector<std::string>({"c"}));
  EXPECT_THROW(f.list("e"), Error);
  EXPECT_THROW(f.list("missing"), InputError);
  // Writing an existing name replaces it, whatever its dtype and shape.
  f.write_tensor("e", torch::tensor({1, 2, 3}, torch::kInt));
  EXPECT_TRUE(same(f.read_tensor("e"), torch::tensor({1, 2, 3}, torch::kInt)));
}

TEST(H5File, AttributesOnTheFileAndOnObjects) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("t.h5");
  {
    H5File f = H5File::create(path);
    f.write_tensor("model/w", torch::zeros({2}));
    f.set_attr("/", "format", "gdpo-checkpoint");
    f.set_attr("/", "step", int64_t{1234567890123});
    f.set_attr("/", "epoch", 3);  // an int converts to int64
    f.set_attr("/", "lr", 5e-7);
    f.set_attr("model/w", "note", std::string("tied"));
    f.set_attr("model", "layers", 12);
    f.set_attr("/", "lr", 1e-6);  // replaces
    f.close();
  }
  H5File f = H5File::open_read(path);
  EXPECT_EQ(f.string_attr("/", "format"), "gdpo-checkpoint");
  EXPECT_EQ(f.int_attr("/", "step"), 1234567890123);
  EXPECT_EQ(f.int_attr("/", "epoch"), 3);
  EXPECT_EQ(f.double_attr("/", "lr"), 1e-6);
  EXPECT_EQ(f.double_attr("/", "epoch"), 3.0);  // numeric attributes convert
  EXPECT_EQ(f.string_attr("model/w", "note"), "tied");
  EXPECT_EQ(f.int_attr("model", "layers"), 12);
  EXPECT_TRUE(f.has_attr("/", "step"));
  EXPECT_FALSE(f.has_attr("/", "steps"));

  std::string missing = error_of<InputError>([&] { f.int_attr("/", "steps"); });
  EXPECT_NE(missing.find("'steps'"), std::string::npos) << missing;
  EXPECT_NE(missing.find(path), std::string::npos) << missing;
  EXPECT_THROW(f.double_attr("/", "format"), InputError);  // a string is not a number
  EXPECT_THROW(f.string_attr("/", "step"), InputError);    // nor a number a string
  EXPECT_THROW(f.int_attr("/", "lr"), InputError);         // 1e-6 is not an integer
  EXPECT_THROW(f.string_attr("no/such", "x"), InputError);
}

TEST(H5File, StringsAndBytes) {
  gdpo::test::TempDir dir;
  std::string json = "{\n  \"lr\": 5e-07,\n  \"name\": \"na\xc3\xafve\"\n}\n";
  std::string big(3 << 20, 'x');  // 3 MiB of text
  for (size_t i = 0; i < big.size(); i += 97) big[i] = '\n';
  std::string rng;
  for (int i = 0; i < 256; ++i) rng.push_back(static_cast<char>(i));  // NULs and 0xFF included
  {
    H5File f = H5File::create(dir.file("t.h5"));
    f.write_string("config/json", json);
    f.write_string("config/big", big);
    f.write_string("empty", "");
    f.write_bytes("rng/cpu", rng);
    f.write_bytes("rng/none", "");
    EXPECT_THROW(f.write_string("nul", std::string("a\0b", 3)), Error);
    f.close();
  }
  H5File f = H5File::open_read(dir.file("t.h5"));
  EXPECT_EQ(f.read_string("config/json"), json);
  EXPECT_EQ(f.read_string("config/big"), big);
  EXPECT_EQ(f.read_string("empty"), "");
  EXPECT_EQ(f.read_bytes("rng/cpu"), rng);
  EXPECT_EQ(f.read_bytes("rng/none"), "");
  EXPECT_EQ(f.read_tensor("rng/cpu")[255].item<uint8_t>(), 255);  // bytes are a uint8 tensor
  EXPECT_THROW(f.read_string("rng/cpu"), InputError);
  EXPECT_THROW(f.read_bytes("config/json"), InputError);
}

TEST(H5File, RejectsMissingNonHdf5AndTruncatedFilesNamingThem) {
  gdpo::test::TempDir dir;
  std::string missing = error_of<InputError>([&] { H5File::open_read(dir.file("none.h5")); });
  EXPECT_NE(missing.find(dir.file("none.h5")), std::string::npos) << missing;
  EXPECT_NE(missing.find("no such file"), std::string::npos) << missing;

  gdpo::test::write_file(dir.file("text.h5"), "step,loss\n1,2.5\n");
  std::string text = error_of<InputError>([&] { H5File::open_read(dir.file("text.h5")); });
  EXPECT_NE(text.find(dir.file("text.h5")), std::string::npos) << text;
  EXPECT_NE(text.find("not an HDF5 file"), std::string::npos) << text;
  gdpo::test::write_file(dir.file("zero.h5"), "");
  EXPECT_THROW(H5File::open_rw(dir.file("zero.h5")), InputError);
  EXPECT_THROW(H5File::open_read(dir.path().string()), InputError);  // a directory

  {
    H5File f = H5File::create(dir.file("whole.h5"));
    f.write_tensor("w", torch::ones({1 << 16}));
    f.set_attr("/", "step", 1);
    f.close();
  }
  std::string bytes = gdpo::test::read_file(dir.file("whole.h5"));
  gdpo::test::write_file(dir.file("cut.h5"), bytes.substr(0, bytes.size() / 2));
  H5IdCount ids;
  std::string cut = error_of<InputError>([&] { H5File::open_read(dir.file("cut.h5")); });
  EXPECT_NE(cut.find(dir.file("cut.h5")), std::string::npos) << cut;
  EXPECT_NE(cut.find("HDF5: "), std::string::npos) << cut;  // HDF5's own explanation follows
  EXPECT_NE(cut.find("truncated file"), std::string::npos) << cut;
  EXPECT_EQ(ids.objects_opened(), 0);
  EXPECT_EQ(ids.transient_open(), 0);
}

TEST(H5File, Hdf5FailuresCarrySourceLocationAttemptObjectAndHdf5Stack) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("t.h5");
  H5File::create(path).write_tensor("a", torch::ones({1}));
  std::string msg =
      error_of<Error>([&] { H5File::open_read(path).write_tensor("b", torch::ones({1})); });
  EXPECT_NE(msg.find("src/io/hdf5_file.cpp:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot create dataset 'b' in HDF5 file '" + path + "'"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("HDF5: H5Dcreate2(): "), std::string::npos) << msg;
  EXPECT_NE(msg.find("no write intent on file"), std::string::npos) << msg;
  H5File rw = H5File::open_rw(path);
  std::string nested = error_of<Error>([&] { rw.write_tensor("a/b", torch::ones({1})); });
  EXPECT_NE(nested.find("'a/b'"), std::string::npos) << nested;  // a is a dataset, not a group
}

TEST(H5File, NoIdentifierLeaksAfterOperationsOrErrors) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("t.h5");
  H5IdCount before_open;
  {
    H5File f = H5File::create(path);
    H5IdCount ids;  // the file itself is open from here on
    auto expect_clean = [&](const char* what) {
      EXPECT_EQ(ids.objects_opened(), 0) << what;
      EXPECT_EQ(ids.transient_open(), 0) << what;
    };
    f.write_tensor("a/w", torch::ones({2, 2}, torch::kBFloat16));
    f.write_tensor("a/b", torch::tensor({true}));
    f.write_tensor("a/h", torch::ones({2}, torch::kHalf));
    f.write_tensor("a/w", torch::ones({3}));  // replace
    f.write_string("s", "text");
    f.write_bytes("r", "bytes");
    f.set_attr("/", "k", "v");
    f.set_attr("a/w", "n", 1);
    f.set_attr("a", "x", 0.5);
    expect_clean("writes");
    f.read_tensor("a/w");
    f.read_tensor("a/b");
    f.read_tensor("a/h", torch::kHalf, {2});
    f.read_string("s");
    f.read_bytes("r");
    f.string_attr("/", "k");
    f.int_attr("a/w", "n");
    f.double_attr("a", "x");
    f.list("a");
    f.exists("a/w/x");
    expect_clean("reads");
    EXPECT_THROW(f.read_tensor("a/w", torch::kFloat, {4}), InputError);
    EXPECT_THROW(f.read_tensor("missing"), InputError);
    EXPECT_THROW(f.read_string("a/w"), InputError);
    EXPECT_THROW(f.int_attr("a", "missing"), InputError);
    EXPECT_THROW(f.double_attr("/", "k"), InputError);
    EXPECT_THROW(f.write_tensor("a/w/x", torch::ones({1})), Error);
    EXPECT_THROW(f.write_tensor("c", torch::ones({1}, torch::kComplexDouble)), Error);
    expect_clean("errors");
    f.close();
    EXPECT_THROW(f.read_tensor("a/w"), Error);  // closed
  }
  EXPECT_EQ(before_open.objects_opened(), 0);
  EXPECT_EQ(before_open.transient_open(), 0);
  { H5File f = H5File::open_read(path); }  // destructor closes
  EXPECT_EQ(before_open.objects_opened(), 0);
}

}  // namespace
}  // namespace gdpo::io
