// Loading tokenizer files: what load_tokenizer accepts, and that each malformed or unsupported file is
// a gdpo::InputError whose message names the file (and the line or field).
#include "gdpo/tokenizer/bpe_files.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "tokenizer/tiny_bpe.hpp"

namespace gdpo::tokenizer {
namespace {

// The message of the InputError that loading `path` throws ("(no error)" when none).
std::string load_error(const std::string& path) {
  try {
    load_tokenizer(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

TEST(LoadTokenizer, FindsTheFilesOfADirectoryOrAFile) {
  test::TempDir dir;
  testing::write_tiny_gpt2_files(dir.file("gpt2"));
  test::write_file(dir.file("hf/tokenizer.json"), testing::tiny_tokenizer_json().dump());
  const auto a = load_tokenizer(dir.file("gpt2"));
  EXPECT_EQ(load_tokenizer(dir.file("gpt2/vocab.json"))->fingerprint(), a->fingerprint());
  EXPECT_EQ(load_tokenizer(dir.file("hf"))->fingerprint(), a->fingerprint());
  EXPECT_EQ(load_tokenizer(dir.file("hf/tokenizer.json"))->fingerprint(), a->fingerprint());
  EXPECT_EQ(load_tokenizer("bytes")->vocab_size(), 257);
}

TEST(LoadTokenizer, MissingPathsAreNamed) {
  test::TempDir dir;
  EXPECT_CONTAINS(load_error(dir.file("nope")), dir.file("nope"));
  EXPECT_CONTAINS(load_error(dir.path().string()), "neither tokenizer.json nor vocab.json");
  test::write_file(dir.file("only/vocab.json"), "{}");
  EXPECT_CONTAINS(load_error(dir.file("only/vocab.json")), "merges.txt");
}

TEST(LoadTokenizer, BadJsonNamesTheFile) {
  test::TempDir dir;
  testing::write_tiny_gpt2_files(dir.path().string());
  test::write_file(dir.file("vocab.json"), "{\"a\": 1,");
  std::string e = load_error(dir.path().string());
  EXPECT_CONTAINS(e, dir.file("vocab.json"));
  EXPECT_CONTAINS(e, "invalid JSON");
  test::write_file(dir.file("x/tokenizer.json"), "[1, 2");
  EXPECT_CONTAINS(load_error(dir.file("x")), dir.file("x/tokenizer.json"));
}

TEST(LoadTokenizer, MergesLineWithOneFieldNamesTheLine) {
  test::TempDir dir;
  testing::write_tiny_gpt2_files(dir.path().string());
  test::write_file(dir.file("merges.txt"), "#version: 0.2\nh e\nll\n");
  std::string e = load_error(dir.path().string());
  EXPECT_CONTAINS(e, dir.file("merges.txt") + " line 3");
  EXPECT_CONTAINS(e, "'ll'");
  test::write_file(dir.file("merges.txt"), "h e\nl l x\n");
  EXPECT_CONTAINS(load_error(dir.path().string()), "merges.txt line 2");
}

TEST(LoadTokenizer, MergeOfUnknownTokensNamesTheLine) {
  test::TempDir dir;
  testing::write_tiny_gpt2_files(dir.path().string());
  test::write_file(dir.file("merges.txt"), "#version: 0.2\nh e\nhe zz\n");
  std::string e = load_error(dir.path().string());
  EXPECT_CONTAINS(e, "merges.txt line 3");
  EXPECT_CONTAINS(e, "'zz' is not in the vocabulary");
  // Both parts known, but their concatenation is not a token.
  test::write_file(dir.file("merges.txt"), "x y\n");
  EXPECT_CONTAINS(load_error(dir.path().string()), "'xy' is not in the vocabulary");
  auto json = testing::tiny_tokenizer_json();
  json["model"]["merges"].push_back("q q");
  test::write_file(dir.file("t/tokenizer.json"), json.dump());
  EXPECT_CONTAINS(load_error(dir.file("t")), "model.merges[7]");
}

TEST(LoadTokenizer, IdsOutOfRangeOrMalformedAreRejected) {
  test::TempDir dir;
  auto write = [&](const nlohmann::json& j) {
    test::write_file(dir.file("tokenizer.json"), j.dump());
    return load_error(dir.file("tokenizer.json"));
  };
  auto json = testing::tiny_tokenizer_json();
  json["model"]["vocab"]["zz"] = -5;
  EXPECT_CONTAINS(write(json), "-5");
  json = testing::tiny_tokenizer_json();
  json["model"]["vocab"]["zz"] = "7";
  EXPECT_CONTAINS(write(json), "'zz' must have an integer id");
  json = testing::tiny_tokenizer_json();
  json["model"]["vocab"]["zz"] = 3;  // 3 is already byte 0x03's id
  EXPECT_CONTAINS(write(json), "id 3 is given to both");
  json = testing::tiny_tokenizer_json();
  json["model"]["vocab"].erase("\xc3\xaf");  // "ï" stands for byte 0xEF, part of U+FFFD
  EXPECT_CONTAINS(write(json), "no token for bytes 0xEF");
  json = testing::tiny_tokenizer_json();
  json["added_tokens"][0]["id"] = int64_t{1} << 33;
  EXPECT_CONTAINS(write(json), std::to_string(int64_t{1} << 33));
  json = testing::tiny_tokenizer_json();
  json["model"]["merges"][0] = 5;
  EXPECT_CONTAINS(write(json), "model.merges[0]");
}

TEST(LoadTokenizer, UnsupportedComponentsAreNamedWithTheFile) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  auto check = [&](const char* field, const nlohmann::json& value, const char* expected) {
    auto json = testing::tiny_tokenizer_json();
    json[field] = value;
    test::write_file(path, json.dump());
    std::string e = load_error(path);
    EXPECT_CONTAINS(e, path);
    EXPECT_CONTAINS(e, expected);
  };
  check("normalizer", {{"type", "Lowercase"}}, "normalizer type 'Lowercase' is not supported");
  check("pre_tokenizer", {{"type", "Whitespace"}}, "pre_tokenizer type 'Whitespace'");
  check("pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", true}}, "add_prefix_space");
  check("pre_tokenizer", nullptr, "pre_tokenizer type 'null'");
  check("decoder", {{"type", "WordPiece"}}, "decoder type 'WordPiece'");
  auto model = testing::tiny_tokenizer_json()["model"];
  model["type"] = "Unigram";
  check("model", model, "model type 'Unigram' is not supported");
  check("added_tokens",
        {{{"id", 263}, {"content", "<|endoftext|>"}, {"special", true}, {"lstrip", true}}},
        "lstrip true is not supported");
}

TEST(LoadTokenizer, NeedsAnEndOfTextToken) {
  test::TempDir dir;
  auto json = testing::tiny_tokenizer_json();
  json["added_tokens"] = nlohmann::json::array();
  json["model"]["vocab"].erase("<|endoftext|>");
  test::write_file(dir.file("tokenizer.json"), json.dump());
  EXPECT_CONTAINS(load_error(dir.file("tokenizer.json")), "no end-of-text token");
}

}  // namespace
}  // namespace gdpo::tokenizer
