// The real GPT-2 and GPT-NeoX-20B (Pythia) tokenizer files from ../shared/data/tokenizers (skipped
// when absent): reference ids (also of texts around every whitespace-like code point), single-token
// belief labels, added tokens, and byte-exact round trips of multilingual, emoji and whitespace text.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gdpo/tokenizer/bpe_tokenizer.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"
#include "gdpo/tokenizer/unicode_nfc.hpp"
#include "support/test_support.hpp"
#include "tokenizer/whitespace_cases.hpp"

namespace gdpo::tokenizer {
namespace {

using Ids = std::vector<int64_t>;

// Each tokenizer is loaded once for the whole test program.
TokenizerPtr cached(const std::string& path) {
  static std::map<std::string, TokenizerPtr> loaded;
  auto& tok = loaded[path];
  if (!tok) tok = load_tokenizer(path);
  return tok;
}

// CJK, Arabic, Devanagari, combining marks (ones NFC leaves alone), emoji with ZWJ and modifiers,
// tabs, runs of spaces and newlines, "\r\n", and a contraction or two.
const std::string kMixedText =
    "Hello,   world!\tTabs\t\tand  double  spaces.\r\nWindows line\r\n\n\n\nUnix lines\n"
    "\xe4\xba\xba\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe6\xad\xa3\xe5\x9c\xa8\xe6\x94\xb9\xe5\x8f"
    "\x98\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82 "                             // 人工智能正在改变世界。
    "\xd8\xa7\xd9\x84\xd8\xb0\xd9\x83\xd8\xa7\xd8\xa1 \xd8\xa7\xd9\x84\xd8\xa7\xd8\xb5\xd8\xb7"
    "\xd9\x86\xd8\xa7\xd8\xb9\xd9\x8a "                                     // الذكاء الاصطناعي
    "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80 "         // हिंदी
    "q\xcc\x81 x\xcc\xa3\xcc\x81 "                                          // q́ ẋ with marks
    "caf\xc3\xa9 na\xc3\xafve \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd "  // café naïve 😀👍🏽
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 "  // 👨‍👩‍👧
    "It's 3.14159 -- isn't it?      \n  \t \n   trailing   ";

#define REQUIRE_GPT2(var) GDPO_REQUIRE_SHARED_DATA(var##_path, "tokenizers/gpt2/vocab.json"); \
  auto var = cached(var##_path.substr(0, var##_path.rfind('/')))
#define REQUIRE_NEOX(var)                                                                  \
  GDPO_REQUIRE_SHARED_DATA(var##_path, "tokenizers/gpt-neox-20b/tokenizer.json");          \
  auto var = cached(var##_path)

TEST(Gpt2Tokenizer, ReferenceIds) {
  REQUIRE_GPT2(tok);
  EXPECT_EQ(tok->encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(tok->encode(" the"), Ids{262});
  EXPECT_EQ(tok->encode("<|endoftext|>"), Ids{50256});
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eos_id(), 50256);
  EXPECT_EQ(tok->token_to_id("\xc4\xa0the"), 262);  // "Ġthe"
  EXPECT_EQ(tok->decode({15496, 995, 50256}), "Hello world<|endoftext|>");
}

TEST(Gpt2Tokenizer, BeliefLabelsAreSingleTokens) {
  REQUIRE_GPT2(tok);
  for (const char* label : {"0", "1", "2", "3", "4", "5", "A", "B", "C", "D", "E"}) {
    auto id = tok->token_to_id(label);
    ASSERT_TRUE(id) << label;
    EXPECT_EQ(tok->encode(label), Ids{*id}) << label;
    EXPECT_EQ(tok->encode(std::string(" ") + label).size(), 1u) << label;
  }
}

TEST(Gpt2Tokenizer, RoundTripsMixedTextByteExactly) {
  REQUIRE_GPT2(tok);
  const Ids ids = tok->encode(kMixedText);
  EXPECT_EQ(tok->decode(ids), kMixedText);
  EXPECT_LT(ids.size(), kMixedText.size());
  const std::string invalid = "ok \xff\xfe\xc3 \xe2\x82 end";
  EXPECT_EQ(tok->decode(tok->encode(invalid)), invalid);
}

// OpenAI's encoder.py's ids (whitespace_pretokens.json): U+180E and the other whitespace-like code
// points that are not Unicode White_Space are pre-tokenized as the reference does.
TEST(Gpt2Tokenizer, WhitespaceTextsEncodeToTheReferenceIds) {
  REQUIRE_GPT2(tok);
  const auto& cases = testing::whitespace_cases();
  ASSERT_FALSE(cases.empty()) << "cannot read " << testing::whitespace_cases_path();
  size_t checked = 0, mismatches = 0;
  for (const auto& c : cases) {
    if (c.gpt2_ids.empty()) continue;
    ++checked;
    const Ids got = tok->encode(c.text);
    if (got == c.gpt2_ids) continue;
    if (++mismatches <= 20)
      ADD_FAILURE() << "text " << testing::escaped(c.text) << ": got "
                    << ::testing::PrintToString(got) << ", encoder.py gives "
                    << ::testing::PrintToString(c.gpt2_ids);
  }
  if (checked == 0)
    GTEST_SKIP() << testing::whitespace_cases_path()
                 << " has no GPT-2 ids (make_whitespace_pretokens.py found no GPT-2 files)";
  EXPECT_EQ(mismatches, 0u) << "of " << checked << " texts";
}

TEST(NeoxTokenizer, ReferenceIds) {
  REQUIRE_NEOX(tok);
  EXPECT_EQ(tok->encode("Hello world"), (Ids{12092, 1533}));  // as Pythia's tokenizer gives
  EXPECT_EQ(tok->encode("<|endoftext|>"), Ids{0});
  EXPECT_EQ(tok->encode("<|padding|>"), Ids{1});
  EXPECT_EQ(tok->eos_id(), 0);
  EXPECT_EQ(tok->vocab_size(), 50277);
  EXPECT_EQ(tok->encode("Hello").size(), 1u);
}

TEST(NeoxTokenizer, AddedTokensAreSingleIds) {
  REQUIRE_NEOX(tok);
  std::ifstream in(tok_path);
  const auto json = nlohmann::json::parse(in);
  ASSERT_GT(json["added_tokens"].size(), 2u);
  for (const auto& added : json["added_tokens"]) {
    const std::string content = added["content"];
    EXPECT_EQ(tok->encode(content), Ids{added["id"].get<int64_t>()}) << "'" << content << "'";
    EXPECT_EQ(tok->decode({added["id"].get<int64_t>()}), content);
  }
  // Special tokens are split out of running text.
  Ids ids = tok->encode("a<|endoftext|>b");
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], 0);
}

TEST(NeoxTokenizer, NormalizesToNfcBeforeEncoding) {
  REQUIRE_NEOX(tok);
  EXPECT_EQ(tok->encode("caf" "e\xcc\x81"), tok->encode("caf\xc3\xa9"));
  EXPECT_EQ(tok->encode("\xe2\x84\xab"), tok->encode("\xc3\x85"));  // Angstrom sign -> Å
}

TEST(NeoxTokenizer, BeliefLabelsAreSingleTokens) {
  REQUIRE_NEOX(tok);
  for (const char* label : {"0", "1", "2", "3", "4", "5", "A", "B", "C", "D", "E"}) {
    auto id = tok->token_to_id(label);
    ASSERT_TRUE(id) << label;
    EXPECT_EQ(tok->encode(label), Ids{*id}) << label;
  }
}

// GPT-NeoX pre-tokenizes with the same pattern (Hugging Face's Oniguruma \s is White_Space too): a
// text encodes as the BPE of each of its reference pieces, where no added token (runs of spaces) and
// no NFC change is involved.
TEST(NeoxTokenizer, WhitespaceTextsEncodeAsTheirReferencePieces) {
  REQUIRE_NEOX(tok);
  const auto& bpe = dynamic_cast<const BpeTokenizer&>(*tok);
  const auto& cases = testing::whitespace_cases();
  ASSERT_FALSE(cases.empty()) << "cannot read " << testing::whitespace_cases_path();
  size_t checked = 0, mismatches = 0;
  for (const auto& c : cases) {
    if (c.text.find("  ") != std::string::npos || !nfc_quick_check(c.text)) continue;
    ++checked;
    Ids expected;
    for (const auto& piece : c.pieces) {
      const std::vector<int32_t> ids = bpe.merge_piece(piece);  // no pre-tokenization of its own
      expected.insert(expected.end(), ids.begin(), ids.end());
    }
    const Ids got = tok->encode(c.text);
    if (got == expected) continue;
    if (++mismatches <= 20)
      ADD_FAILURE() << "text " << testing::escaped(c.text) << " (pieces "
                    << testing::escaped(c.pieces) << "): got " << ::testing::PrintToString(got)
                    << ", piece by piece " << ::testing::PrintToString(expected);
  }
  EXPECT_GT(checked, 500u);
  EXPECT_EQ(mismatches, 0u) << "of " << checked << " texts";
}

TEST(NeoxTokenizer, RoundTripsMixedTextByteExactly) {
  REQUIRE_NEOX(tok);
  EXPECT_EQ(tok->decode(tok->encode(kMixedText)), kMixedText);
}

TEST(RealTokenizers, FingerprintsAreStableAndDistinct) {
  REQUIRE_GPT2(gpt2);
  REQUIRE_NEOX(neox);
  EXPECT_EQ(gpt2->fingerprint().size(), 16u);
  EXPECT_NE(gpt2->fingerprint(), neox->fingerprint());
  EXPECT_EQ(load_tokenizer(gpt2_path.substr(0, gpt2_path.rfind('/')))->fingerprint(),
            gpt2->fingerprint());
}

}  // namespace
}  // namespace gdpo::tokenizer
