// The safetensors reader and writer: byte-exact layout, every dtype, sharding, and every way a
// header from a stranger can lie (each an InputError naming the file and the tensor): hand-picked
// cases, then generated variants of each class of corruption of a valid file.
#include "gdpo/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <limits>
#include <map>
#include <typeinfo>

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

// ------------------------------------------------------------------------------------------------
// Generated variants of each class of corruption. The base file is built from parts (one JSON entry
// per tensor), so that each variant changes one thing; every variant must be an InputError whose
// message names the file and the tensor or key concerned.

struct Part {
  std::string name, dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

std::string shape_json(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// The entry of `p` with `fields` (JSON members) instead of its own when given.
std::string entry_json(const Part& p, const std::string& extra = "") {
  return "\"" + p.name + "\":{\"dtype\":\"" + p.dtype + "\",\"shape\":" + shape_json(p.shape) +
         ",\"data_offsets\":[" + std::to_string(p.begin) + "," + std::to_string(p.end) + "]" +
         extra + "}";
}

const std::string kMetadata = R"("__metadata__":{"format":"pt"})";

// {"__metadata__":..., entries...} from already-made JSON members.
std::string object_of(const std::vector<std::string>& members) {
  std::string s = "{";
  for (size_t i = 0; i < members.size(); ++i) s += (i ? "," : "") + members[i];
  return s + "}";
}

std::string header_of(const std::vector<Part>& parts, const std::string& metadata = kMetadata) {
  std::vector<std::string> members;
  if (!metadata.empty()) members.push_back(metadata);
  for (const auto& p : parts) members.push_back(entry_json(p));
  return object_of(members);
}

// Padded with spaces to a multiple of 8 bytes, as writers do.
std::string padded(std::string header) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

// Five tensors in data order, one of them empty; 43 bytes of data.
const std::vector<Part> kParts = {{"alpha", "F32", {2, 3}, 0, 24},
                                  {"beta.weight", "F16", {4}, 24, 32},
                                  {"empty", "BF16", {0}, 32, 32},
                                  {"gamma", "I64", {1}, 32, 40},
                                  {"delta", "U8", {3}, 40, 43}};

std::string parts_data() {
  std::string data = floats({1, 2, 3, 4, 5, 6});  // alpha: begins with bytes 00 00 80 3F
  data += std::string("\x00\x3c\x00\x40\x00\x42\x00\x44", 8);  // beta: F16 1, 2, 3, 4
  const int64_t g = 7;
  data.append(reinterpret_cast<const char*>(&g), 8);
  data += "xyz";
  return data;
}

std::string valid_file() { return raw_file(padded(header_of(kParts)), parts_data()); }

// Writes `bytes` to `path` and returns the InputError's message; a failure (naming `variant`) when
// the file is accepted, another exception is thrown, or the message does not name the file and each
// of `needles`.
std::string expect_refused(const std::string& path, const std::string& bytes,
                           const std::string& variant, const std::vector<std::string>& needles) {
  test::write_file(path, bytes);
  try {
    SafetensorsFile f(path);
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << variant << ": " << msg;
    for (const auto& needle : needles)
      EXPECT_NE(msg.find(needle), std::string::npos)
          << variant << ": no '" << needle << "' in " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << variant << ": " << typeid(e).name() << " instead of InputError: " << e.what();
    return "";
  }
  ADD_FAILURE() << variant << ": the file was accepted";
  return "";
}

// True when `msg` contains one of `options`.
bool mentions_one_of(const std::string& msg, const std::vector<std::string>& options) {
  for (const auto& o : options)
    if (msg.find(o) != std::string::npos) return true;
  return false;
}

std::string in_quotes(const std::string& name) { return "'" + name + "'"; }

TEST(SafetensorsVariants, TheBaseFileAndItsHarmlessVariantsLoad) {
  test::TempDir dir;
  const std::string path = dir.file("ok.safetensors");
  test::write_file(path, valid_file());
  {
    SafetensorsFile f(path);
    ASSERT_EQ(f.entries().size(), kParts.size());
    for (size_t i = 0; i < kParts.size(); ++i) EXPECT_EQ(f.entries()[i].name, kParts[i].name);
    EXPECT_EQ(f.data_size(), 43u);
    EXPECT_TRUE(torch::equal(f.tensor("alpha"), torch::tensor({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}})));
    EXPECT_EQ(f.tensor("gamma").item<int64_t>(), 7);
    EXPECT_EQ(f.tensor("empty").numel(), 0);
    EXPECT_EQ(f.metadata().at("format"), "pt");
  }
  // No padding, more spaces, no metadata, null metadata, entries in another order, whitespace
  // inside the JSON, the empty tensor removed, a non-ASCII name: all valid.
  std::vector<Part> reversed(kParts.rbegin(), kParts.rend());
  std::vector<Part> no_empty = kParts;
  no_empty.erase(no_empty.begin() + 2);
  std::vector<Part> greek = kParts;
  greek[0].name = "\xCE\xB1\xCE\xB2";  // "αβ"
  const std::vector<std::string> headers = {
      header_of(kParts),
      header_of(kParts) + std::string(13, ' '),
      padded(header_of(kParts, "")),
      padded(header_of(kParts, R"("__metadata__":null)")),
      padded(header_of(kParts, R"("__metadata__":{})")),
      padded(header_of(reversed)),
      "{\n  " + header_of(kParts).substr(1, header_of(kParts).size() - 2) + "\n}",
      padded(header_of(no_empty)),
      padded(header_of(greek))};
  for (size_t i = 0; i < headers.size(); ++i) {
    test::write_file(path, raw_file(headers[i], parts_data()));
    try {
      SafetensorsFile f(path);
      EXPECT_EQ(f.entries().size(), i == 7 ? 4u : 5u) << headers[i];
      EXPECT_EQ(f.entries()[0].begin, 0u) << headers[i];
    } catch (const std::exception& e) {
      ADD_FAILURE() << "refused valid header " << headers[i] << ": " << e.what();
    }
  }
  SafetensorsFile g(path);
  EXPECT_TRUE(g.contains("\xCE\xB1\xCE\xB2"));
}

TEST(SafetensorsVariants, PaddingIsSpacesOnly) {
  test::TempDir dir;
  const std::string path = dir.file("pad.safetensors");
  const std::string json = header_of(kParts);
  // The byte used as padding, and what the message says about it.
  const std::vector<std::pair<char, std::string>> bad = {
      {'\0', "NUL byte"},      {'\t', "padding"},          {'\n', "padding"},
      {'\r', "padding"},       {'\x01', "not valid JSON"}, {'\x7f', "not valid JSON"},
      {'x', "not valid JSON"}, {'}', "not valid JSON"},    {'\xff', "UTF-8"},
      {'\x80', "UTF-8"}};
  for (const auto& [byte, needle] : bad)
    for (size_t count : {1, 3, 8})
      for (size_t spaces_before : {0, 2})
        for (bool spaces_after : {false, true}) {
          std::string header = json + std::string(spaces_before, ' ') + std::string(count, byte);
          if (spaces_after) header = padded(header + " ");
          expect_refused(
              path, raw_file(header, parts_data()),
              "padding byte " + std::to_string(uint8_t(byte)) + " x" + std::to_string(count),
              {needle});
        }
}

TEST(SafetensorsVariants, HeaderStartsWithABrace) {
  test::TempDir dir;
  const std::string path = dir.file("start.safetensors");
  const std::string json = header_of(kParts);
  for (const std::string& prefix :
       {std::string("\xEF\xBB\xBF"), std::string(" "), std::string("\n"), std::string("\t"),
        std::string(1, '\0'), std::string("["), std::string("x"), std::string("\xFF")}) {
    const std::string msg = expect_refused(path, raw_file(padded(prefix + json), parts_data()),
                                           "prefix byte " + std::to_string(uint8_t(prefix[0])),
                                           {"must start with '{'"});
    if (prefix[0] == '\xEF') {
      EXPECT_NE(msg.find("byte order mark"), std::string::npos) << msg;
    }
  }
  expect_refused(path, raw_file("", ""), "empty header", {"empty"});
  expect_refused(path, raw_file("", parts_data()), "empty header with data", {"empty"});
}

TEST(SafetensorsVariants, DuplicateKeysAreRefused) {
  test::TempDir dir;
  const std::string path = dir.file("dup.safetensors");
  for (const Part& p : kParts) {
    // The same entry again, after the others and before them.
    std::vector<Part> after = kParts, before = kParts;
    after.push_back(p);
    before.insert(before.begin(), p);
    for (const auto& parts : {after, before})
      expect_refused(path, raw_file(padded(header_of(parts)), parts_data()),
                     "duplicate entry " + p.name, {in_quotes(p.name), "appears twice"});
    // An entry repeating one of its fields.
    for (const std::string field :
         {R"("dtype":"F32")", R"("shape":[1])", R"("data_offsets":[0,0])"}) {
      std::vector<std::string> members = {kMetadata};
      for (const Part& q : kParts)
        members.push_back(entry_json(q, q.name == p.name ? "," + field : ""));
      expect_refused(path, raw_file(padded(object_of(members)), parts_data()),
                     "field repeated in " + p.name, {in_quotes(p.name), "appears twice"});
    }
  }
  std::vector<std::string> members = {kMetadata};
  for (const Part& q : kParts) members.push_back(entry_json(q));
  auto with = [&](const std::string& member) {
    auto m = members;
    m.insert(m.begin() + 2, member);
    return raw_file(padded(object_of(m)), parts_data());
  };
  expect_refused(path, with(kMetadata), "__metadata__ twice", {"__metadata__", "appears twice"});
  expect_refused(path, with(R"("__metadata__":null)"), "__metadata__ twice (null)",
                 {"__metadata__", "appears twice"});
  members[0] = R"("__metadata__":{"format":"pt","format":"np"})";
  expect_refused(path, raw_file(padded(object_of(members)), parts_data()), "metadata key twice",
                 {"'format'", "appears twice"});
}

TEST(SafetensorsVariants, OffsetsTileTheDataExactly) {
  test::TempDir dir;
  const std::string path = dir.file("tile.safetensors");
  const std::vector<std::string> tiling_words = {"overlap", "belong to no tensor", "past the end",
                                                 "data_offsets"};
  // Each tensor moved by a few bytes, its size kept: an overlap, a gap, or past the end; the
  // message names the moved tensor.
  for (size_t i = 0; i < kParts.size(); ++i)
    for (int64_t delta : {-4, -1, 1, 4}) {
      auto parts = kParts;
      if (delta < 0 && parts[i].begin < uint64_t(-delta)) continue;  // (negative offsets: below)
      parts[i].begin += delta;
      parts[i].end += delta;
      const std::string msg = expect_refused(path, raw_file(padded(header_of(parts)), parts_data()),
                                             kParts[i].name + " moved by " + std::to_string(delta),
                                             {in_quotes(kParts[i].name)});
      EXPECT_TRUE(mentions_one_of(msg, tiling_words)) << msg;
    }
  // Each non-empty tensor left out of the header: its bytes belong to no tensor.
  for (size_t i = 0; i < kParts.size(); ++i) {
    if (kParts[i].begin == kParts[i].end) continue;
    auto parts = kParts;
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(i));
    expect_refused(path, raw_file(padded(header_of(parts)), parts_data()),
                   "without " + kParts[i].name, {"belong to no tensor"});
  }
  // Bytes after the last tensor.
  for (size_t extra : {1, 2, 7, 8, 100})
    expect_refused(path,
                   raw_file(padded(header_of(kParts)), parts_data() + std::string(extra, 'z')),
                   std::to_string(extra) + " trailing bytes",
                   {"belong to no tensor", "'delta'", std::to_string(43 + extra)});
  // Bytes before the first tensor.
  for (uint64_t gap : {1, 4, 8}) {
    auto parts = kParts;
    for (auto& p : parts) p.begin += gap, p.end += gap;
    expect_refused(path, raw_file(padded(header_of(parts)), std::string(gap, 'g') + parts_data()),
                   std::to_string(gap) + " leading bytes",
                   {"belong to no tensor", "a gap before tensor 'alpha'"});
  }
  // A second name for the bytes of each non-empty tensor.
  for (const Part& p : kParts) {
    if (p.begin == p.end) continue;
    auto parts = kParts;
    Part alias = p;
    alias.name = "alias";
    parts.push_back(alias);
    expect_refused(path, raw_file(padded(header_of(parts)), parts_data()), "alias of " + p.name,
                   {"overlap", "'alias'"});
  }
  // No tensors at all, but data.
  expect_refused(path, raw_file(padded(header_of({})), parts_data()), "data without tensors",
                 {"belong to no tensor"});
}

TEST(SafetensorsVariants, EntriesAgreeWithTheirDtypeAndShape) {
  test::TempDir dir;
  const std::string path = dir.file("entry.safetensors");
  for (size_t i = 0; i < kParts.size(); ++i) {
    const std::string name = kParts[i].name;
    auto file_with = [&](const std::function<void(Part&)>& change) {
      auto parts = kParts;
      change(parts[i]);
      return raw_file(padded(header_of(parts)), parts_data());
    };
    expect_refused(path, file_with([](Part& p) { p.shape[0] += 1; }), name + " one row more",
                   {in_quotes(name), "holds", "bytes but shape"});
    if (kParts[i].begin < kParts[i].end)  // (an empty tensor stays empty)
      expect_refused(path, file_with([](Part& p) { p.shape.push_back(2); }), name + " one more dim",
                     {in_quotes(name), "bytes but shape"});
    expect_refused(path, file_with([](Part& p) { p.shape[0] = -p.shape[0] - 1; }),
                   name + " negative dim", {in_quotes(name), "is negative"});
    for (const std::string dtype : {"F31", "f32", "", "FLOAT32", "F8", "bool", "I128", "F32 "})
      expect_refused(path, file_with([&](Part& p) { p.dtype = dtype; }),
                     name + " dtype '" + dtype + "'", {in_quotes(name), "unknown dtype"});
    if (kParts[i].begin < kParts[i].end)
      expect_refused(path, file_with([](Part& p) { std::swap(p.begin, p.end); }),
                     name + " end < begin",
                     {in_quotes(name), "begin " + std::to_string(kParts[i].end) + " > end " +
                                           std::to_string(kParts[i].begin)});
    expect_refused(path, file_with([](Part& p) { p.end = p.begin + 1000; }), name + " too long",
                   {in_quotes(name)});
  }
}

TEST(SafetensorsVariants, MalformedEntriesAndMetadataNameTheKey) {
  test::TempDir dir;
  const std::string path = dir.file("shape.safetensors");
  // Replaces alpha's entry by `alpha_json` (the JSON value after "alpha":).
  auto with_alpha = [&](const std::string& alpha_json) {
    std::vector<std::string> members = {kMetadata, "\"alpha\":" + alpha_json};
    for (size_t i = 1; i < kParts.size(); ++i) members.push_back(entry_json(kParts[i]));
    return raw_file(padded(object_of(members)), parts_data());
  };
  const std::string offsets = R"("data_offsets":[0,24])";
  const std::string shape = R"("shape":[2,3])";
  const std::string dtype = R"("dtype":"F32")";
  std::vector<std::pair<std::string, std::string>> alphas = {
      {"[]", "must be an object"},
      {"\"x\"", "must be an object"},
      {"null", "must be an object"},
      {"1", "must be an object"},
      {"true", "must be an object"},
      {"{" + dtype + "," + shape + "," + offsets + R"(,"extra":1})", "unknown field 'extra'"},
      {"{" + dtype + "," + offsets + "}", "missing \"shape\""},
      {"{" + shape + "," + offsets + "}", "missing \"dtype\""},
      {"{" + dtype + "," + shape + "}", "missing \"data_offsets\""},
      {"{}", "missing \"dtype\""}};
  for (const std::string bad_dtype : {"1", "null", "[\"F32\"]", "{}", "true"})
    alphas.push_back({R"({"dtype":)" + bad_dtype + "," + shape + "," + offsets + "}",
                      "\"dtype\" must be a string"});
  for (const std::string bad_shape :
       {"3", "\"[2,3]\"", "{}", "[[2],3]", "[\"2\",3]", "[true,3]", "[null,3]", "null", "[2,{}]"})
    alphas.push_back({"{" + dtype + ",\"shape\":" + bad_shape + "," + offsets + "}", "\"shape\""});
  alphas.push_back({"{" + dtype + R"(,"shape":[2.0,3],)" + offsets + "}", "is not an integer"});
  alphas.push_back({"{" + dtype + R"(,"shape":[2,3e0],)" + offsets + "}", "is not an integer"});
  alphas.push_back(
      {"{" + dtype + R"(,"shape":[2,18446744073709551615],)" + offsets + "}", "too large"});
  for (const std::string bad : {"[0]", "[]", "[0,24,24]", "\"0,24\"", "[0.0,24]", "[0,\"24\"]",
                                "{}", "[[0],24]", "[-0.5,24]", "[-24,0]", "null", "[0,24.5]"})
    alphas.push_back({"{" + dtype + "," + shape + ",\"data_offsets\":" + bad + "}",
                      "\"data_offsets\" must be two non-negative integers"});
  for (const auto& [alpha, needle] : alphas)
    expect_refused(path, with_alpha(alpha), "alpha = " + alpha, {"'alpha'", needle});

  std::vector<std::string> members;
  for (const Part& p : kParts) members.push_back(entry_json(p));
  for (const std::string metadata :
       {"[]", "\"pt\"", "1", "true", R"({"format":1})", R"({"format":null})", R"({"a":{"b":"c"}})",
        R"({"a":["b"]})"}) {
    auto m = members;
    m.insert(m.begin(), "\"__metadata__\":" + metadata);
    expect_refused(path, raw_file(padded(object_of(m)), parts_data()), "__metadata__ = " + metadata,
                   {"__metadata__"});
  }
}

TEST(SafetensorsVariants, HeaderIsUtf8) {
  test::TempDir dir;
  const std::string path = dir.file("utf8.safetensors");
  for (const std::string& name :
       {std::string("al\xC0\xAFpha"), std::string("\xED\xA0\x80"), std::string("a\x80"),
        std::string("\xF4\x90\x80\x80"), std::string("\xE2\x82"), std::string("\xFF"),
        std::string("\xC3"), std::string("\xF8\x88\x80\x80\x80")}) {
    auto parts = kParts;
    parts[3].name = name;
    expect_refused(path, raw_file(padded(header_of(parts)), parts_data()),
                   "name bytes " + std::to_string(uint8_t(name[0])), {"UTF-8"});
  }
  // Also inside metadata.
  expect_refused(
      path, raw_file(padded(header_of(kParts, "\"__metadata__\":{\"k\":\"\xC0\"}")), parts_data()),
      "metadata value", {"UTF-8"});
}

TEST(SafetensorsVariants, HeaderLengthFitsTheFileAndTheBound) {
  test::TempDir dir;
  const std::string path = dir.file("len.safetensors");
  const std::string header = padded(header_of(kParts));
  const std::string data = parts_data();
  const uint64_t available = header.size() + data.size();
  for (uint64_t n : {available + 1, available + 2, available + 1000, available + (1u << 20),
                     kMaxSafetensorsHeaderBytes})
    expect_refused(path, raw_file(header, data, n), "length " + std::to_string(n),
                   {"exceeds the file size"});
  for (uint64_t n : {kMaxSafetensorsHeaderBytes + 1, uint64_t{1} << 32, uint64_t{1} << 62,
                     std::numeric_limits<uint64_t>::max()})
    expect_refused(path, raw_file(header, data, n), "length " + std::to_string(n), {"100 MB"});
  // Lengths that fit in the file but cut the header short or take some of the data.
  for (int64_t delta : {-1, -2, -3, -8, -20, 1, 2, 3, 4, 8, 43}) {
    const uint64_t n = header.size() + delta;
    expect_refused(path, raw_file(header, data, n), "length " + std::to_string(n), {});
  }
}

// Runs `open` on another thread and fails (instead of hanging) when it takes more than 20 s; a
// FIFO reader stuck in open() is then released by opening the FIFO's other end.
void expect_prompt_input_error(const std::function<void()>& open, const std::string& fifo,
                               const std::string& needle) {
  auto result = std::async(std::launch::async, [&]() -> std::string {
    try {
      open();
    } catch (const InputError& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("(not an InputError) ") + e.what();
    }
    return "(accepted)";
  });
  if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "opening " << fifo << " blocked";
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  const std::string msg = result.get();
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
}

TEST(SafetensorsVariants, NonRegularFilesAreRefusedWithoutBlocking) {
  test::TempDir dir;
  const std::string fifo = dir.file("pipe.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_prompt_input_error([&] { SafetensorsFile f(fifo); }, fifo, fifo);
  expect_prompt_input_error([&] { SafetensorsCheckpoint::open(fifo); }, fifo, fifo);
  // The same FIFO as a folder's model.safetensors, or as its index.
  const std::string folder = dir.file("folder");
  std::filesystem::create_directories(folder);
  const std::string in_folder = folder + "/model.safetensors";
  ASSERT_EQ(::mkfifo(in_folder.c_str(), 0600), 0);
  expect_prompt_input_error([&] { SafetensorsCheckpoint::open(folder); }, in_folder, in_folder);
  std::filesystem::remove(in_folder);
  const std::string index = folder + "/model.safetensors.index.json";
  ASSERT_EQ(::mkfifo(index.c_str(), 0600), 0);
  expect_prompt_input_error([&] { SafetensorsCheckpoint::open(folder); }, index, index);
  expect_prompt_input_error([&] { SafetensorsCheckpoint::open(index); }, index, index);
  // A folder and a character device where a file is expected.
  const std::string sub = dir.file("sub.safetensors");
  std::filesystem::create_directories(sub);
  expect_prompt_input_error([&] { SafetensorsFile f(sub); }, sub, sub);
  if (std::filesystem::exists("/dev/null"))
    expect_prompt_input_error([&] { SafetensorsFile f("/dev/null"); }, "/dev/null", "/dev/null");
}

TEST(SafetensorsVariants, ShardsAgreeWithTheirIndex) {
  test::TempDir dir;
  NamedTensors tensors;
  for (int i = 0; i < 5; ++i)
    tensors.emplace_back("t" + std::to_string(i), torch::full({10}, float(i)));
  const std::string d = dir.path().string();
  write_safetensors_sharded(d, tensors, {}, 100);  // shards: t0 t1 | t2 t3 | t4
  const std::vector<std::string> shards = {"model-00001-of-00003.safetensors",
                                           "model-00002-of-00003.safetensors",
                                           "model-00003-of-00003.safetensors"};
  auto shard_of = [](int i) { return static_cast<size_t>(i / 2); };
  const std::string index_path = dir.file("model.safetensors.index.json");
  const std::string good_index = test::read_file(index_path);
  auto write_index = [&](const std::map<std::string, std::string>& map) {
    std::string s = "{\"weight_map\": {";
    bool first = true;
    for (const auto& [k, v] : map)
      s += (first ? "\"" : ", \"") + k + "\": \"" + v + "\"", first = false;
    test::write_file(index_path, s + "}}");
  };
  auto refused = [&](const std::string& variant, const std::vector<std::string>& needles) {
    try {
      SafetensorsCheckpoint::open(d);
      ADD_FAILURE() << variant << ": accepted";
    } catch (const InputError& e) {
      for (const auto& n : needles)
        EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << variant << ": " << e.what();
    }
  };
  std::map<std::string, std::string> map;
  for (int i = 0; i < 5; ++i) map["t" + std::to_string(i)] = shards[shard_of(i)];
  for (int i = 0; i < 5; ++i) {
    const std::string t = "t" + std::to_string(i);
    if (i < 4) {  // (t4 is alone in the last shard, which an index without t4 simply omits)
      auto without = map;
      without.erase(t);
      write_index(without);
      refused(t + " not in the index", {in_quotes(t), "does not list", shards[shard_of(i)]});
    }
    auto elsewhere = map;
    elsewhere[t] = shards[(shard_of(i) + 1) % 3];
    write_index(elsewhere);
    refused(t + " mapped to another shard", {in_quotes(t), "missing from shard"});
    // t also stored in another shard (the index still maps it to its own).
    write_index(map);
    const size_t other = (shard_of(i) + 1) % 3;
    NamedTensors copy;
    for (int j = 0; j < 5; ++j)
      if (shard_of(j) == other) copy.push_back(tensors[j]);
    copy.push_back(tensors[i]);
    write_safetensors(dir.file(shards[other]), copy);
    refused(t + " in two shards", {in_quotes(t), "two shards"});
    copy.pop_back();
    write_safetensors(dir.file(shards[other]), copy);
  }
  // Duplicate keys and wrong types in the index.
  test::write_file(index_path, R"({"weight_map": {"t0": ")" + shards[0] + R"(", "t0": ")" +
                                   shards[0] + R"("}})");
  refused("duplicate key", {"'t0'", "appears twice", "model.safetensors.index.json"});
  for (const std::string bad : {"[]", R"({"weight_map": []})", R"({"weight_map": {"t0": 1}})",
                                R"({"weight_map": {"t0": null}})", R"({"weight_map": {"t0": ""}})",
                                R"({"weight_map": {"t0": "/etc/passwd"}})", "{", ""}) {
    test::write_file(index_path, bad);
    refused("index " + bad, {"model.safetensors.index.json"});
  }
  test::write_file(index_path, good_index);
  EXPECT_EQ(SafetensorsCheckpoint::open(d).names().size(), 5u);
}

// A header of 300,000 tensors is parsed as a stream into one small record per tensor: it loads, and
// the peak memory grows by far less than a JSON tree of it would take (~1.3 KB per entry).
TEST(SafetensorsVariants, AHugeHeaderCostsSmallRecordsNotATree) {
  test::TempDir dir;
  const std::string path = dir.file("many.safetensors");
  const int n = 300000;
  {
    std::string header = "{";
    char entry[128];
    for (int i = 0; i < n; ++i) {
      std::snprintf(entry, sizeof entry,
                    "%s\"t%07d\":{\"dtype\":\"U8\",\"shape\":[1],"
                    "\"data_offsets\":[%d,%d]}",
                    i ? "," : "", i, i, i + 1);
      header += entry;
    }
    header += "}";
    test::write_file(path, raw_file(padded(header), std::string(n, 'd')));
  }
  struct rusage before {};
  ::getrusage(RUSAGE_SELF, &before);
  SafetensorsFile f(path);
  struct rusage after {};
  ::getrusage(RUSAGE_SELF, &after);
  ASSERT_EQ(f.entries().size(), static_cast<size_t>(n));
  EXPECT_EQ(f.entries()[1234].name, "t0001234");
  EXPECT_EQ(f.entry("t0299999").begin, 299999u);
  EXPECT_FALSE(f.contains("t0300000"));
  const double grown_mb = static_cast<double>(after.ru_maxrss - before.ru_maxrss) / 1024;
  EXPECT_LT(grown_mb, 250) << "parsing a 20 MB header of " << n << " tensors";
}

}  // namespace
}  // namespace gdpo::io
