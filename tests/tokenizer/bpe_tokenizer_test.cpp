// Byte-level BPE on the tiny hand-made tokenizer (tiny_bpe.hpp): merge order, added tokens, NFC,
// the long-piece merge path, caching, and that both file formats give the same tokenizer.
#include "gdpo/tokenizer/bpe_tokenizer.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "gdpo/core/error.hpp"
#include "gdpo/tokenizer/bpe_files.hpp"
#include "tokenizer/tiny_bpe.hpp"

namespace gdpo::tokenizer {
namespace {

using Ids = std::vector<int64_t>;

TokenizerPtr tiny(const nlohmann::json& json) {
  static test::TempDir dir;
  static int n = 0;
  const std::string path = dir.file("t" + std::to_string(n++) + ".json");
  test::write_file(path, json.dump());
  return load_tokenizer(path);
}

TokenizerPtr tiny() {
  static TokenizerPtr tok = tiny(testing::tiny_tokenizer_json());
  return tok;
}

TEST(BpeTokenizer, MergesByRankToHandCheckedIds) {
  auto tok = tiny();
  EXPECT_EQ(tok->vocab_size(), 264);
  EXPECT_EQ(tok->encode("hello"), Ids{259});
  EXPECT_EQ(tok->encode("hell"), Ids{258});
  EXPECT_EQ(tok->encode("help"), (Ids{256, 108, 112}));        // he l p
  EXPECT_EQ(tok->encode(" hello"), (Ids{32, 259}));            // no merge joins Ġ and h
  EXPECT_EQ(tok->encode(" world"), (Ids{260, 111, 114, 108, 100}));  // Ġw o r l d
  EXPECT_EQ(tok->encode("hello world"), (Ids{259, 260, 111, 114, 108, 100}));
  EXPECT_EQ(tok->encode(""), Ids{});
}

TEST(BpeTokenizer, EqualRanksMergeLeftmostFirst) {
  auto tok = tiny();
  EXPECT_EQ(tok->encode("aaa"), (Ids{261, 97}));
  EXPECT_EQ(tok->encode("aaaaa"), (Ids{262, 97}));
  EXPECT_EQ(tok->encode("aaaaaa"), (Ids{262, 261}));
}

TEST(BpeTokenizer, LongPiecesMergeLikeShortOnes) {
  // 90 bytes take the rescanning path, 200 and 201 the heap path (over 96 bytes).
  const auto& bpe = dynamic_cast<const BpeTokenizer&>(*tiny());
  std::vector<int32_t> expect90(22, 262);
  expect90.push_back(261);
  EXPECT_EQ(bpe.merge_piece(std::string(90, 'a')), expect90);
  EXPECT_EQ(bpe.merge_piece(std::string(200, 'a')), std::vector<int32_t>(50, 262));
  std::vector<int32_t> expect201(50, 262);
  expect201.push_back(97);
  EXPECT_EQ(bpe.merge_piece(std::string(201, 'a')), expect201);
  std::string hellos;
  for (int i = 0; i < 40; ++i) hellos += "hello";  // one 200-byte letter run
  EXPECT_EQ(bpe.merge_piece(hellos), std::vector<int32_t>(40, 259));
}

TEST(BpeTokenizer, SpecialTokensInTextAreSingleIds) {
  auto tok = tiny();
  EXPECT_EQ(tok->encode("<|endoftext|>"), Ids{263});
  EXPECT_EQ(tok->encode("hello<|endoftext|>hello"), (Ids{259, 263, 259}));
  EXPECT_EQ(tok->eos_id(), 263);
  EXPECT_EQ(tok->decode({259, 263, 32, 259}), "hello<|endoftext|> hello");
}

TEST(BpeTokenizer, TokenToIdUsesTheVocabularySpelling) {
  auto tok = tiny();
  EXPECT_EQ(tok->token_to_id("hello"), 259);
  EXPECT_EQ(tok->token_to_id("\xc4\xa0w"), 260);  // "Ġw"
  EXPECT_EQ(tok->token_to_id(" w"), std::nullopt);
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 263);
  EXPECT_EQ(tok->token_to_id("A"), 65);
  EXPECT_EQ(tok->token_to_id("world"), std::nullopt);
}

TEST(BpeTokenizer, RoundTripsAnyBytes) {
  auto tok = tiny();
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (const std::string& text :
       {all, std::string("hello \xff\xfe<|endoftext|>\xe2\x82 world\r\n\t "),
        std::string("\xe4\xb8\xad\xe6\x96\x87 e\xcc\x81 \xf0\x9f\x98\x80  \n\n")}) {
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
  }
  // Random bytes: invalid UTF-8 runs between valid characters.
  std::string random;
  uint32_t state = 12345;
  for (int i = 0; i < 20000; ++i) {
    state = state * 1664525u + 1013904223u;
    random.push_back(static_cast<char>(state >> 24));
  }
  EXPECT_EQ(tok->decode(tok->encode(random)), random);
}

TEST(BpeTokenizer, BytesWithoutATokenEncodeAsReplacementCharacter) {
  auto json = testing::tiny_tokenizer_json();
  json["model"]["vocab"].erase("\xc3\xbf");  // "ÿ" stands for byte 0xFF
  auto tok = tiny(json);
  EXPECT_EQ(tok->encode("\xff"), (Ids{0xEF, 0xBF, 0xBD}));  // U+FFFD's bytes
  EXPECT_EQ(tok->encode("he\xff\xffhello"), (Ids{256, 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD, 259}));
  EXPECT_EQ(tok->decode(tok->encode("a\xff" "b")), "a\xef\xbf\xbd" "b");
}

TEST(BpeTokenizer, EncodeIsTheSameWhenRepeatedAndAcrossThreads) {
  auto tok = tiny();
  const std::string text = "hello world aaaaa help <|endoftext|> hello";
  const Ids first = tok->encode(text);
  EXPECT_EQ(tok->encode(text), first);  // now from the piece cache
  Ids other;
  std::thread([&] { other = tok->encode(text); }).join();
  EXPECT_EQ(other, first);
  Ids appended{1};
  tok->encode_append(text, appended);
  EXPECT_EQ(Ids(appended.begin() + 1, appended.end()), first);
}

TEST(BpeTokenizer, UnknownIdInDecodeIsAnInputError) {
  auto tok = tiny();
  for (int64_t bad : {int64_t{264}, int64_t{-1}, int64_t{1} << 40}) {
    try {
      tok->decode({259, bad});
      ADD_FAILURE() << "no error for id " << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
  }
}

TEST(BpeTokenizer, NfcNormalizerAndNormalizedAddedTokens) {
  auto json = testing::tiny_tokenizer_json();
  json["normalizer"] = {{"type", "NFC"}};
  // A non-special added token matched after normalization: "é" (written composed).
  json["added_tokens"].push_back({{"id", 264}, {"content", "\xc3\xa9"}, {"special", false},
                                  {"normalized", true}});
  auto tok = tiny(json);
  EXPECT_EQ(tok->encode("\xc3\xa9"), Ids{264});
  EXPECT_EQ(tok->encode("e\xcc\x81"), Ids{264});  // e + U+0301 normalizes to é first
  EXPECT_EQ(tok->encode("he\xcc\x81llo"), (Ids{104, 264, 257, 111}));
  EXPECT_EQ(tok->decode({264}), "\xc3\xa9");
  EXPECT_NE(tok->fingerprint(), tiny()->fingerprint());
}

TEST(BpeTokenizer, BothFileFormatsGiveTheSameTokenizer) {
  test::TempDir dir;
  testing::write_tiny_gpt2_files(dir.path().string());
  auto gpt2 = load_tokenizer(dir.path().string());
  auto json = tiny();
  EXPECT_EQ(gpt2->fingerprint(), json->fingerprint());
  EXPECT_EQ(gpt2->encode("hello world<|endoftext|>"), json->encode("hello world<|endoftext|>"));
  EXPECT_EQ(gpt2->name(), "bpe(" + dir.path().filename().string() + ", 264)");
  // Merges as [a, b] pairs read the same as "a b" strings.
  auto pairs = testing::tiny_tokenizer_json();
  for (auto& m : pairs["model"]["merges"]) {
    std::string s = m.get<std::string>();
    m = {s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)};
  }
  EXPECT_EQ(tiny(pairs)->fingerprint(), json->fingerprint());
  // A different rule set has a different fingerprint.
  auto fewer = testing::tiny_tokenizer_json();
  fewer["model"]["merges"].erase(fewer["model"]["merges"].size() - 1);
  EXPECT_NE(tiny(fewer)->fingerprint(), json->fingerprint());
}

}  // namespace
}  // namespace gdpo::tokenizer
