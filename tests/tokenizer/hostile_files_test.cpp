// Hostile and careless tokenizer files, fed as generated variants of the tiny tokenizer: every one
// loads or is a gdpo::InputError naming the file (and the token, key or line) -- never another
// exception, a crash, a hang on a FIFO, or gigabytes for one stray id.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <random>
#include <typeinfo>

#include "gdpo/core/error.hpp"
#include "gdpo/tokenizer/bpe_files.hpp"
#include "tokenizer/tiny_bpe.hpp"
#include "support/test_support.hpp"

namespace gdpo::tokenizer {
namespace {

using nlohmann::json;

// What loading a tokenizer did.
struct Outcome {
  enum Kind { kLoaded, kInputError, kOtherError } kind = kLoaded;
  std::string message;
  TokenizerPtr tokenizer;
};

Outcome load(const std::string& path) {
  Outcome out;
  try {
    out.tokenizer = load_tokenizer(path);
  } catch (const InputError& e) {
    out.kind = Outcome::kInputError;
    out.message = e.what();
  } catch (const std::exception& e) {
    out.kind = Outcome::kOtherError;
    out.message = std::string(typeid(e).name()) + ": " + e.what();
  }
  return out;
}

std::string describe(const Outcome& o) {
  switch (o.kind) {
    case Outcome::kLoaded: return "loaded (vocab_size " + std::to_string(o.tokenizer->vocab_size()) + ")";
    case Outcome::kInputError: return "InputError: " + o.message;
    default: return "another exception: " + o.message;
  }
}

using gdpo::test::contains;

// An InputError whose message names every one of `parts` (the file first).
::testing::AssertionResult refused(const Outcome& o, std::initializer_list<std::string> parts) {
  if (o.kind != Outcome::kInputError) return ::testing::AssertionFailure() << describe(o);
  for (const auto& part : parts)
    if (!contains(o.message, part))
      return ::testing::AssertionFailure() << "the message does not name '" << part
                                           << "': " << o.message;
  return ::testing::AssertionSuccess();
}

// Loaded, or refused naming `file`; either way memory stays bounded by the entries.
::testing::AssertionResult loaded_or_refused(const Outcome& o, const std::string& file,
                                             int64_t entries) {
  if (o.kind == Outcome::kOtherError) return ::testing::AssertionFailure() << describe(o);
  if (o.kind == Outcome::kInputError)
    return contains(o.message, file) ? ::testing::AssertionSuccess()
                                     : ::testing::AssertionFailure() << "no file name in: "
                                                                     << o.message;
  if (o.tokenizer->vocab_size() > entries + BpeSpec::kMaxUnusedIds)
    return ::testing::AssertionFailure() << "vocab_size " << o.tokenizer->vocab_size()
                                         << " for " << entries << " entries";
  return ::testing::AssertionSuccess();
}

// Bad ids for a token: out of range, negative, fractional, strings and other types.
std::vector<json> bad_ids() {
  return {json(100000000),
          json(1500000000),
          json(int64_t{std::numeric_limits<int32_t>::max()}),
          json(int64_t{1} << 40),
          json(std::numeric_limits<int64_t>::max()),
          json(std::numeric_limits<uint64_t>::max()),
          json(264 + BpeSpec::kMaxUnusedIds + 1),
          json(-1),
          json(-5),
          json(std::numeric_limits<int64_t>::min()),
          json(0.5),
          json(3.0),
          json(1e8),
          json(-0.0),
          json("7"),
          json(""),
          json("abc"),
          json(nullptr),
          json(true),
          json::array(),
          json::array({1}),
          json::object(),
          json{{"id", 1}}};
}

// A tokenizer.json / vocab.json variant with token "zz" given `id` (a new entry) or with "hello"
// (id 259) given it instead.
TEST(HostileTokenizerFiles, BadVocabularyIdsAreRefusedNamingFileAndToken) {
  test::TempDir dir;
  const std::string tokenizer_json = dir.file("t/tokenizer.json");
  const std::string vocab_json = dir.file("g/vocab.json");
  testing::write_tiny_gpt2_files(dir.file("g"));
  for (const json& id : bad_ids()) {
    for (const char* token : {"zz", "hello"}) {
      SCOPED_TRACE(std::string("token '") + token + "' id " + id.dump());
      auto json = testing::tiny_tokenizer_json();
      json["model"]["vocab"][token] = id;
      test::write_file(tokenizer_json, json.dump());
      EXPECT_TRUE(refused(load(tokenizer_json), {tokenizer_json, "model.vocab", token}));

      auto vocab = testing::tiny_vocab();
      vocab[token] = id;
      test::write_file(vocab_json, vocab.dump());
      EXPECT_TRUE(refused(load(dir.file("g")), {vocab_json, token}));
    }
  }
}

TEST(HostileTokenizerFiles, BadAddedTokenIdsAreRefusedNamingFileAndToken) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  for (const json& id : bad_ids()) {
    SCOPED_TRACE("id " + id.dump());
    auto json = testing::tiny_tokenizer_json();
    json["added_tokens"][0]["id"] = id;
    test::write_file(path, json.dump());
    EXPECT_TRUE(refused(load(path), {path, "added_tokens[0]", "<|endoftext|>"}));
    // A new added token, not in the vocabulary.
    json = testing::tiny_tokenizer_json();
    json["added_tokens"].push_back({{"id", id}, {"content", "<|new|>"}, {"special", true}});
    test::write_file(path, json.dump());
    EXPECT_TRUE(refused(load(path), {path, "added_tokens[1]", "<|new|>"}));
  }
}

TEST(HostileTokenizerFiles, DuplicateIdsAreRefused) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  auto write = [&](const json& j) {
    test::write_file(path, j.dump());
    return load(path);
  };
  auto json = testing::tiny_tokenizer_json();
  json["model"]["vocab"]["zz"] = 259;  // "hello"'s
  EXPECT_TRUE(refused(write(json), {path, "id 259 is given to both", "'hello'", "'zz'"}));
  // Two added tokens with one id.
  json = testing::tiny_tokenizer_json();
  json["added_tokens"].push_back({{"id", 264}, {"content", "<|a|>"}, {"special", true}});
  json["added_tokens"].push_back({{"id", 264}, {"content", "<|b|>"}, {"special", true}});
  EXPECT_TRUE(refused(write(json), {path, "id 264", "added_tokens[1]", "added_tokens[2]", "<|b|>"}));
  // An added token with the id of a different vocabulary token.
  json = testing::tiny_tokenizer_json();
  json["added_tokens"].push_back({{"id", 259}, {"content", "<|a|>"}, {"special", true}});
  EXPECT_TRUE(refused(write(json), {path, "id 259", "added_tokens[1]", "<|a|>", "'hello'"}));
  // ... but the vocabulary's own token made special is fine (GPT-NeoX's "<|endoftext|>").
  json = testing::tiny_tokenizer_json();
  json["added_tokens"].push_back({{"id", 259}, {"content", "hello"}, {"special", true}});
  EXPECT_EQ(write(json).kind, Outcome::kLoaded);

  test::TempDir gpt2;
  testing::write_tiny_gpt2_files(gpt2.path().string());
  auto vocab = testing::tiny_vocab();
  vocab["zz"] = 3;
  test::write_file(gpt2.file("vocab.json"), vocab.dump());
  EXPECT_TRUE(refused(load(gpt2.path().string()), {gpt2.file("vocab.json"), "id 3 is given to both", "'zz'"}));
}

// Unused ids (gaps) are allowed up to BpeSpec::kMaxUnusedIds: the tables stay as small as the file.
TEST(HostileTokenizerFiles, GapsInIdsAreBoundedByTheEntryCount) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  auto with_eos_at = [&](int64_t id) {
    auto json = testing::tiny_tokenizer_json();
    json["model"]["vocab"]["<|endoftext|>"] = id;
    json["added_tokens"][0]["id"] = id;
    test::write_file(path, json.dump());
    return load(path);
  };
  // 264 tokens: ids 0..262, then "<|endoftext|>" after a gap.
  for (int64_t gap : {int64_t{1}, int64_t{100}, BpeSpec::kMaxUnusedIds}) {
    SCOPED_TRACE("gap " + std::to_string(gap));
    const Outcome o = with_eos_at(263 + gap);
    ASSERT_EQ(o.kind, Outcome::kLoaded) << describe(o);
    EXPECT_EQ(o.tokenizer->vocab_size(), 264 + gap);
    EXPECT_EQ(o.tokenizer->eos_id(), 263 + gap);
    EXPECT_EQ(o.tokenizer->encode("hello<|endoftext|>"), (std::vector<int64_t>{259, 263 + gap}));
    EXPECT_THROW(o.tokenizer->decode({263}), InputError);  // an unused id
  }
  const int64_t too_far = 263 + BpeSpec::kMaxUnusedIds + 1;
  EXPECT_TRUE(refused(with_eos_at(too_far),
                      {path, "'<|endoftext|>'", std::to_string(too_far), "ids must be below 1288"}));

  // The same bound in vocab.json.
  test::TempDir gpt2;
  testing::write_tiny_gpt2_files(gpt2.path().string());
  auto vocab = testing::tiny_vocab();
  vocab["<|endoftext|>"] = 263 + 5;
  test::write_file(gpt2.file("vocab.json"), vocab.dump());
  const Outcome o = load(gpt2.path().string());
  ASSERT_EQ(o.kind, Outcome::kLoaded) << describe(o);
  EXPECT_EQ(o.tokenizer->eos_id(), 268);
  vocab["<|endoftext|>"] = too_far;
  test::write_file(gpt2.file("vocab.json"), vocab.dump());
  EXPECT_TRUE(refused(load(gpt2.path().string()), {gpt2.file("vocab.json"), "'<|endoftext|>'"}));
}

// Random variants: a few tokens get random ids of every kind; each file loads or is refused.
TEST(HostileTokenizerFiles, RandomIdVariantsLoadOrAreRefused) {
  test::TempDir dir;
  const std::string tokenizer_json = dir.file("t/tokenizer.json");
  const std::string vocab_json = dir.file("g/vocab.json");
  testing::write_tiny_gpt2_files(dir.file("g"));
  std::mt19937_64 rng(20240610);
  const auto bad = bad_ids();
  const auto tokens = testing::tiny_vocab();
  std::vector<std::string> names;
  for (auto it = tokens.begin(); it != tokens.end(); ++it) names.push_back(it.key());
  auto random_id = [&]() -> json {
    switch (rng() % 5) {
      case 0: return bad[rng() % bad.size()];
      case 1: return static_cast<int64_t>(rng() % 300);                    // often a duplicate
      case 2: return static_cast<int64_t>(264 + rng() % 2000);              // a gap, maybe too far
      case 3: return static_cast<int64_t>(rng() >> (rng() % 64));           // anything up to 2^64
      default: return -static_cast<int64_t>(rng() % 1000) - 1;
    }
  };
  for (int round = 0; round < 150; ++round) {
    auto json = testing::tiny_tokenizer_json();
    auto vocab = testing::tiny_vocab();
    std::string what;
    for (int k = 1 + rng() % 3; k > 0; --k) {
      const std::string& name = names[rng() % names.size()];
      const auto id = random_id();
      json["model"]["vocab"][name] = id;
      vocab[name] = id;
      what += " '" + name + "'=" + id.dump();
    }
    if (rng() % 3 == 0) {
      json["added_tokens"][0]["id"] = random_id();
      what += " added=" + json["added_tokens"][0]["id"].dump();
    }
    SCOPED_TRACE("round " + std::to_string(round) + ":" + what);
    test::write_file(tokenizer_json, json.dump());
    EXPECT_TRUE(loaded_or_refused(load(tokenizer_json), tokenizer_json, 265));
    test::write_file(vocab_json, vocab.dump());
    EXPECT_TRUE(loaded_or_refused(load(dir.file("g")), vocab_json, 264));
  }
}

// JSON that nlohmann parses into an exception other than a syntax error (a number beyond a double).
TEST(HostileTokenizerFiles, NumbersThatOverflowAreInputErrorsNamingTheKey) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  for (const char* number : {"1e400", "-1e400", "1E+99999"}) {
    SCOPED_TRACE(number);
    // Replace a placeholder string with the raw number text.
    auto check = [&](json j, const std::string& key) {
      std::string text = j.dump();
      const std::string placeholder = "\"@number@\"";
      text.replace(text.find(placeholder), placeholder.size(), number);
      test::write_file(path, text);
      EXPECT_TRUE(refused(load(path), {path, "invalid JSON", "'" + key + "'", number}));
    };
    auto j = testing::tiny_tokenizer_json();
    j["model"]["vocab"]["zz"] = "@number@";
    check(j, "zz");
    j = testing::tiny_tokenizer_json();
    j["added_tokens"][0]["id"] = "@number@";
    check(j, "id");
    j = testing::tiny_tokenizer_json();
    j["model"]["dropout"] = "@number@";
    check(j, "dropout");

    test::TempDir gpt2;
    testing::write_tiny_gpt2_files(gpt2.path().string());
    std::string text = testing::tiny_vocab().dump();
    text.insert(text.size() - 1, std::string(", \"zz\": ") + number);
    test::write_file(gpt2.file("vocab.json"), text);
    EXPECT_TRUE(refused(load(gpt2.path().string()), {gpt2.file("vocab.json"), "'zz'", number}));
  }
  // An integer too long for 64 bits is a float to nlohmann: not an id.
  auto j = testing::tiny_tokenizer_json();
  j["model"]["vocab"]["zz"] = "@number@";
  std::string text = j.dump();
  text.replace(text.find("\"@number@\""), 10, "123456789012345678901234567890");
  test::write_file(path, text);
  EXPECT_TRUE(refused(load(path), {path, "'zz' must have an integer id"}));
}

// Every field of the tiny tokenizer.json (a few vocabulary entries and merges stand for the rest)
// replaced by a value of every type: loads, or an InputError naming the file.
TEST(HostileTokenizerFiles, EveryFieldWithEveryTypeLoadsOrIsRefused) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  const json base = testing::tiny_tokenizer_json();
  std::vector<json::json_pointer> fields{json::json_pointer("")};
  std::function<void(const json&, const json::json_pointer&)> walk = [&](const json& j,
                                                                         const json::json_pointer& at) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        const auto child = at / it.key();
        if (at.to_string() == "/model/vocab" &&
            !(it.key() == "hello" || it.key() == "h" || it.key() == "<|endoftext|>"))
          continue;
        fields.push_back(child);
        walk(it.value(), child);
      }
    } else if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) {
        if (at.to_string() == "/model/merges" && i >= 2) break;
        fields.push_back(at / i);
        walk(j[i], at / i);
      }
    }
  };
  walk(base, json::json_pointer(""));
  ASSERT_GT(fields.size(), 30u);
  const std::vector<json> values{nullptr, true,  false, 0,   -1, 1.5, 1e300,
                                 "x",     "",    "BPE", json::array(),
                                 json::object(), json::array({1, "a"}), json{{"type", "BPE"}},
                                 std::numeric_limits<uint64_t>::max()};
  size_t loads = 0, refusals = 0;
  for (const auto& field : fields) {
    for (const auto& value : values) {
      json j = base;
      j[field] = value;
      SCOPED_TRACE("'" + field.to_string() + "' = " + value.dump());
      test::write_file(path, j.dump());
      const Outcome o = load(path);
      EXPECT_TRUE(loaded_or_refused(o, path, 265));
      (o.kind == Outcome::kLoaded ? loads : refusals)++;
    }
  }
  EXPECT_GT(refusals, fields.size());
  EXPECT_GT(loads, 0u);
}

// The key named when a field has the wrong type.
TEST(HostileTokenizerFiles, WrongTypesNameTheKey) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  struct Case {
    const char* field;
    json value;
    const char* named;
  };
  const std::vector<Case> cases{
      {"", json::array(), "expected a JSON object"},
      {"/model", json::array(), "no \"model\" object"},
      {"/model/type", 5, "model type '5'"},
      {"/model/vocab", json::array(), "model.vocab must be an object"},
      {"/model/vocab/hello", "x", "'hello' must have an integer id"},
      {"/model/merges", json::object(), "model.merges must be an array"},
      {"/model/merges/0", 5, "model.merges[0]"},
      {"/model/merges/1", json::array({"a", "b", "c"}), "model.merges[1]"},
      {"/model/dropout", "x", "model.dropout"},
      {"/model/ignore_merges", "yes", "model.ignore_merges must be true or false"},
      {"/model/continuing_subword_prefix", 5, "model.continuing_subword_prefix"},
      {"/normalizer", 5, "normalizer type '5'"},
      {"/normalizer", json{{"type", 7}}, "normalizer type '7'"},
      {"/pre_tokenizer", "ByteLevel", "pre_tokenizer type"},
      {"/pre_tokenizer/type", 5, "pre_tokenizer type '5'"},
      {"/pre_tokenizer/add_prefix_space", "no", "pre_tokenizer.add_prefix_space must be true or false"},
      {"/pre_tokenizer/use_regex", 1, "pre_tokenizer.use_regex must be true or false"},
      {"/decoder", "x", "decoder type"},
      {"/added_tokens", 5, "added_tokens must be an array"},
      {"/added_tokens/0", 5, "added_tokens[0]"},
      {"/added_tokens/0/id", "x", "added_tokens[0] ('<|endoftext|>') must have an integer id"},
      {"/added_tokens/0/content", 5, "added_tokens[0].content must be a string"},
      {"/added_tokens/0/special", "x", "added_tokens[0].special must be true or false"},
      {"/added_tokens/0/normalized", 0, "added_tokens[0].normalized must be true or false"},
      {"/added_tokens/0/lstrip", json::array(), "added_tokens[0].lstrip must be true or false"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string("'") + c.field + "' = " + c.value.dump());
    json j = testing::tiny_tokenizer_json();
    j[json::json_pointer(c.field)] = c.value;
    test::write_file(path, j.dump());
    EXPECT_TRUE(refused(load(path), {path, c.named}));
  }
  // A huge or deeply nested value is not copied whole into the message.
  json j = testing::tiny_tokenizer_json();
  json deep = json::array();
  for (int i = 0; i < 10000; ++i) {
    json outer = json::array();
    outer.push_back(std::move(deep));
    deep = std::move(outer);
  }
  j["model"]["merges"][0] = std::move(deep);
  test::write_file(path, j.dump());
  Outcome o = load(path);
  EXPECT_TRUE(refused(o, {path, "model.merges[0]", "an array of 1"}));
  EXPECT_LT(o.message.size(), 1000u);
  j = testing::tiny_tokenizer_json();
  j["model"]["vocab"][std::string(100000, 'k')] = std::string(100000, 'v');
  test::write_file(path, j.dump());
  o = load(path);
  EXPECT_TRUE(refused(o, {path, "model.vocab", "must have an integer id"}));
  EXPECT_LT(o.message.size(), 1000u);
}

// merges.txt with a malformed line at line `at`: refused naming the file and that line.
TEST(HostileTokenizerFiles, MalformedMergesLinesNameFileAndLine) {
  test::TempDir dir;
  testing::write_tiny_gpt2_files(dir.path().string());
  const std::string merges = dir.file("merges.txt");
  const std::vector<std::string> bad_lines{
      "",     " ",     "h",        "h e l",    " h e",     "h e ",  "h  e",
      "h\te", "h\re",  "\xff \xfe", "zz qq",   "x y",      std::string("h\0e", 3),
      std::string("h e\0", 4),      "#version: 0.2",     std::string(100000, 'a') + " b",
      "\xc4\xa0 \xc4\xa0\xc4\xa0"};  // "Ġ ĠĠ": "ĠĠ" is not in the vocabulary
  std::vector<std::string> good;
  for (const auto& [l, r] : testing::tiny_merges()) good.push_back(l + " " + r);
  for (const auto& bad : bad_lines) {
    for (size_t at : {size_t{2}, size_t{4}, good.size() + 2}) {  // line 1 is "#version: 0.2"
      std::vector<std::string> lines = good;
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at - 2), bad);
      std::string text = "#version: 0.2\n";
      for (const auto& line : lines) text += line + "\n";
      SCOPED_TRACE("line " + std::to_string(at) + ": " + nlohmann::json(bad).dump(-1, ' ', true, json::error_handler_t::replace).substr(0, 60));
      test::write_file(merges, text);
      const Outcome o = load(dir.path().string());
      EXPECT_TRUE(refused(o, {merges + " line " + std::to_string(at)}));
      EXPECT_LT(o.message.size(), 1000u);
    }
  }
  // Old Mac line endings: one line with carriage returns inside.
  test::write_file(merges, "#version: 0.2\rh e\rl l\r");
  EXPECT_TRUE(refused(load(dir.path().string()), {merges + " line 1", "carriage return"}));
  // CRLF line endings and a file of no merges are fine.
  test::write_file(merges, "#version: 0.2\r\nh e\r\nl l\r\n");
  EXPECT_EQ(load(dir.path().string()).kind, Outcome::kLoaded);
  test::write_file(merges, "");
  EXPECT_EQ(load(dir.path().string()).kind, Outcome::kLoaded);
}

// Loads `path` on another thread. A FIFO would block open() until a writer comes: after `seconds`
// this opens `fifo` for writing to release the reader, and the load counts as hung.
Outcome load_or_hang(const std::string& path, const std::string& fifo, int seconds = 20) {
  auto future = std::async(std::launch::async, [path] { return load(path); });
  if (future.wait_for(std::chrono::seconds(seconds)) == std::future_status::ready)
    return future.get();
  const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  if (fd >= 0) ::close(fd);
  future.wait();
  Outcome hung;
  hung.kind = Outcome::kOtherError;
  hung.message = "loading '" + path + "' blocked on the FIFO for " + std::to_string(seconds) + " s";
  return hung;
}

TEST(HostileTokenizerFiles, FifosAndDirectoriesAreRefusedWithoutBlocking) {
  for (const char* name : {"vocab.json", "merges.txt", "tokenizer.json"}) {
    SCOPED_TRACE(name);
    test::TempDir dir;
    if (std::string(name) != "tokenizer.json") testing::write_tiny_gpt2_files(dir.path().string());
    const std::string file = dir.file(name);
    std::filesystem::remove(file);
    ASSERT_EQ(::mkfifo(file.c_str(), 0600), 0) << std::strerror(errno);
    EXPECT_TRUE(refused(load_or_hang(dir.path().string(), file), {file, "FIFO", "not a regular file"}));
    EXPECT_TRUE(refused(load_or_hang(file, file), {file, "FIFO"}));

    std::filesystem::remove(file);
    std::filesystem::create_directory(file);
    EXPECT_TRUE(refused(load(dir.path().string()), {file, "a directory", "not a regular file"}));
  }
  // A FIFO given as the tokenizer path itself, with any name.
  test::TempDir dir;
  const std::string fifo = dir.file("tok");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_TRUE(refused(load_or_hang(fifo, fifo), {fifo, "FIFO"}));
  // A character device, directly or through a symlink named vocab.json.
  if (std::filesystem::exists("/dev/null")) {
    EXPECT_TRUE(refused(load("/dev/null"), {"/dev/null", "a character device"}));
    test::TempDir gpt2;
    testing::write_tiny_gpt2_files(gpt2.path().string());
    std::filesystem::remove(gpt2.file("vocab.json"));
    std::filesystem::create_symlink("/dev/null", gpt2.file("vocab.json"));
    EXPECT_TRUE(refused(load(gpt2.path().string()), {gpt2.file("vocab.json"), "a character device"}));
  }
}

}  // namespace
}  // namespace gdpo::tokenizer
