// The safetensors reader and writer: byte-exact layout, every dtype, sharding, and every way a header
// from a stranger can lie (each an InputError naming the file and the tensor).
#include "gdpo/io/safetensors.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

// A safetensors file written byte by byte: 8-byte little-endian length, header, data.
std::string raw_file(const std::string& header, const std::string& data,
                     std::optional<uint64_t> length = std::nullopt) {
  const uint64_t n = length.value_or(header.size());
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

TEST(Safetensors, ReadsAHandWrittenFile) {
  test::TempDir dir;
  test::write_file(dir.file("a.safetensors"),
                   raw_file(R"({"__metadata__":{"format":"pt"},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                            R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                            floats({1.5f, -2.0f, 7.0f})));
  SafetensorsFile f(dir.file("a.safetensors"));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.entries().size(), 2u);
  EXPECT_EQ(f.entries()[0].name, "a");  // data order
  torch::Tensor a = f.tensor("a");
  EXPECT_EQ(a.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(a, torch::tensor({1.5f, -2.0f})));
  EXPECT_EQ(f.tensor("b").item<float>(), 7.0f);
}

TEST(Safetensors, WriterLayoutIsPaddedHeaderThenContiguousData) {
  test::TempDir dir;
  write_safetensors(dir.file("w.safetensors"),
                    {{"x", torch::tensor({1.0f, 2.0f})}, {"y", torch::tensor({int64_t{3}})}},
                    {{"format", "pt"}});
  const std::string bytes = test::read_file(dir.file("w.safetensors"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 8 + 8);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find('{'), 0u);
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));  // padded with spaces only
  EXPECT_NE(header.find(R"("x":{"data_offsets":[0,8],"dtype":"F32","shape":[2]})"),
            std::string::npos)
      << header;
  EXPECT_EQ(bytes.substr(8 + n, 8), floats({1.0f, 2.0f}));
}

TEST(Safetensors, EveryDtypeRoundTrips) {
  test::TempDir dir;
  NamedTensors tensors;
  for (auto type : {torch::kFloat64, torch::kFloat32, torch::kFloat16, torch::kBFloat16,
                    torch::kInt64, torch::kInt32, torch::kInt16, torch::kInt8, torch::kUInt8}) {
    tensors.emplace_back(safetensors_dtype(type),
                         torch::arange(0, 12).reshape({3, 4}).to(type));
  }
  tensors.emplace_back("BOOL", torch::tensor({true, false, true}));
  tensors.emplace_back("scalar", torch::tensor(3.25));
  tensors.emplace_back("empty", torch::zeros({0, 5}));
  write_safetensors(dir.file("all.safetensors"), tensors);
  SafetensorsFile f(dir.file("all.safetensors"));
  for (const auto& [name, t] : tensors) {
    torch::Tensor back = f.tensor(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(back, t)) << name;
  }
  EXPECT_EQ(f.entry("BF16").dtype, "BF16");
}

TEST(Safetensors, ShardedWriteReadsBackTheSame) {
  test::TempDir dir;
  NamedTensors tensors;
  for (int i = 0; i < 5; ++i) tensors.emplace_back("t" + std::to_string(i), torch::full({10}, float(i)));
  // 40 bytes each, at most 100 per shard: 2 + 2 + 1.
  auto written = write_safetensors_sharded(dir.path().string(), tensors, {}, 100);
  ASSERT_EQ(written.size(), 4u);
  EXPECT_EQ(std::filesystem::path(written[0]).filename(), "model-00001-of-00003.safetensors");
  EXPECT_EQ(std::filesystem::path(written[3]).filename(), "model.safetensors.index.json");
  auto ck = SafetensorsCheckpoint::open(dir.path().string());
  EXPECT_EQ(ck.files().size(), 3u);
  ASSERT_EQ(ck.names().size(), 5u);
  for (const auto& [name, t] : tensors) EXPECT_TRUE(torch::equal(ck.tensor(name), t)) << name;
  // No limit: one file.
  test::TempDir single;
  written = write_safetensors_sharded(single.path().string(), tensors, {}, 0);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(std::filesystem::path(written[0]).filename(), "model.safetensors");
}

TEST(Safetensors, WriterRejectsDuplicateNames) {
  test::TempDir dir;
  EXPECT_THROW(write_safetensors(dir.file("d.safetensors"),
                                 {{"a", torch::zeros({1})}, {"a", torch::zeros({1})}}),
               Error);
}

// Each malformed file: an InputError whose message names the file and `expect`.
void expect_rejected(const std::string& bytes, const std::string& expect) {
  test::TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  test::write_file(path, bytes);
  try {
    SafetensorsFile f(path);
    ADD_FAILURE() << "accepted a malformed file; expected an error about: " << expect;
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(expect), std::string::npos) << msg;
  }
}

const std::string kData = floats({1, 2, 3, 4});  // 16 bytes

TEST(SafetensorsMalformed, TooShortForTheLength) { expect_rejected("abc", "too short"); }
TEST(SafetensorsMalformed, HeaderLongerThanTheFile) {
  expect_rejected(raw_file("{}", "", 1000), "exceeds the file size");
}
TEST(SafetensorsMalformed, HugeHeaderLength) {
  expect_rejected(raw_file("{}", "", uint64_t{1} << 62), "100 MB");
}
TEST(SafetensorsMalformed, InvalidJson) {
  expect_rejected(raw_file(R"({"a": {"dtype": "F32",)", kData), "not valid JSON");
}
TEST(SafetensorsMalformed, NotAnObject) { expect_rejected(raw_file("[1,2]", ""), "not a JSON object"); }
TEST(SafetensorsMalformed, OffsetsPastTheEnd) {
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", kData),
                  "'w': data_offsets end 32 is past the end");
}
TEST(SafetensorsMalformed, BeginAfterEnd) {
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", kData),
                  "'w': data_offsets begin 8 > end 4");
}
TEST(SafetensorsMalformed, OverlappingTensors) {
  expect_rejected(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                           kData),
                  "tensors 'a' and 'b' overlap");
}
TEST(SafetensorsMalformed, SizeNotShapeTimesDtype) {
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", kData),
                  "'w': holds 16 bytes but shape [3] of F32 needs 3 x 4");
}
TEST(SafetensorsMalformed, UnknownDtype) {
  expect_rejected(raw_file(R"({"w":{"dtype":"F31","shape":[4],"data_offsets":[0,16]}})", kData),
                  "'w': unknown dtype 'F31'");
}
TEST(SafetensorsMalformed, NegativeDimension) {
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", kData),
                  "'w': shape entry -4 is negative");
}
TEST(SafetensorsMalformed, OverflowingShape) {
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],)"
                           R"("data_offsets":[0,16]}})",
                           kData),
                  "'w': shape [4294967296,4294967296] overflows");
}
TEST(SafetensorsMalformed, MissingFields) {
  expect_rejected(raw_file(R"({"w":{"shape":[4],"data_offsets":[0,16]}})", kData), "\"dtype\"");
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","data_offsets":[0,16]}})", kData), "\"shape\"");
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[4]}})", kData), "data_offsets");
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[-1,16]}})", kData),
                  "data_offsets");
}

TEST(SafetensorsMalformed, UnsupportedDtypeIsReportedOnRead) {
  test::TempDir dir;
  const std::string path = dir.file("f8.safetensors");
  test::write_file(path, raw_file(R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})",
                                  "abcd"));
  SafetensorsFile f(path);  // the header itself is valid
  try {
    f.tensor("w");
    ADD_FAILURE() << "read an F8 tensor";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported dtype F8_E4M3"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(f.tensor("absent"), InputError);
}

TEST(SafetensorsMalformed, IndexNamingATensorMissingFromItsShard) {
  test::TempDir dir;
  write_safetensors(dir.file("s1.safetensors"), {{"a", torch::zeros({2})}});
  test::write_file(dir.file("model.safetensors.index.json"),
                   R"({"weight_map": {"a": "s1.safetensors", "ghost": "s1.safetensors"}})");
  try {
    SafetensorsCheckpoint::open(dir.path().string());
    ADD_FAILURE() << "accepted an index naming a missing tensor";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'ghost' is missing from shard"), std::string::npos) << msg;
    EXPECT_NE(msg.find("s1.safetensors"), std::string::npos) << msg;
  }
}

TEST(SafetensorsMalformed, IndexShardOutsideItsFolderOrAbsent) {
  test::TempDir dir;
  test::write_file(dir.file("model.safetensors.index.json"),
                   R"({"weight_map": {"a": "../evil.safetensors"}})");
  EXPECT_THROW(SafetensorsCheckpoint::open(dir.path().string()), InputError);
  test::write_file(dir.file("model.safetensors.index.json"),
                   R"({"weight_map": {"a": "nowhere.safetensors"}})");
  EXPECT_THROW(SafetensorsCheckpoint::open(dir.path().string()), InputError);
  test::write_file(dir.file("model.safetensors.index.json"), R"({"weight": {}})");
  EXPECT_THROW(SafetensorsCheckpoint::open(dir.path().string()), InputError);
}

}  // namespace
}  // namespace gdpo::io
