// Tokenization with belief spans (hand-checkable positions with one id per byte), truncation as the
// DPO reference, and the token cache (reuse, invalidation by data/tokenizer/options, corruption).
#include "gdpo/data/tokenized.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "data/test_tokenizer.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/synthetic.hpp"
#include "support/test_support.hpp"

namespace gdpo::data {
namespace {

using test::CharTokenizer;
using test::ids;

// prompt "<Q>Hi?<A>" (9), chosen "0<a>" + "x" + EOT, rejected (DPO) "1<b>" + "yz" + EOT.
const char* kLine =
    R"({"prompt":"Hi?","options":["a","b"],"probabilities":[0.25,0.75],"accept_choice_id":0,)"
    R"("accept_choice":"a","accept_response":"x","reject_choice_id":1,"reject_choice":"b","reject_response":"yz"})";

Dataset one_pair() {
  std::istringstream in(std::string(kLine) + "\n");
  return parse_records(in, "p.jsonl");
}

std::vector<int64_t> row(const TokenizedPairs& t, int64_t r) {
  return std::vector<int64_t>(t.tokens.begin() + t.row_offset[r],
                              t.tokens.begin() + t.row_offset[r] + t.row_length[r]);
}

std::vector<int64_t> cat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Tokenize, SpansAndIdsGdpo) {
  CharTokenizer tok;
  const TokenizedPairs t = tokenize_pairs(one_pair(), tok, {});
  ASSERT_EQ(t.pairs(), 1);
  EXPECT_EQ(row(t, 0), cat(ids("<Q>Hi?<A>0<a>x"), {1000}));
  EXPECT_EQ(row(t, 1), cat(ids("<Q>Hi?<A>0<a>yz"), {1000}));  // GDPO: the chosen belief
  EXPECT_EQ(t.row_prompt[0], 9);
  EXPECT_EQ(t.row_belief[0], 4);
  EXPECT_EQ(t.row_length[0], 15);
  EXPECT_EQ(t.row_length[1], 16);
  EXPECT_EQ(t.belief_token, (std::vector<int64_t>{'0', '1'}));
  EXPECT_EQ(t.belief_prob, (std::vector<float>{0.25f, 0.75f}));
  EXPECT_EQ(t.pair_chosen[0], 0);
  EXPECT_EQ(t.pair_rejected[0], 1);
  // The first belief token sits at prompt_len.
  EXPECT_EQ(t.tokens[t.row_offset[0] + t.row_prompt[0]], '0');
}

TEST(Tokenize, DpoRejectedCarriesItsOwnBelief) {
  CharTokenizer tok;
  TokenizeOptions o;
  o.mode = PairMode::kDpo;
  const TokenizedPairs t = tokenize_pairs(one_pair(), tok, o);
  EXPECT_EQ(row(t, 1), cat(ids("<Q>Hi?<A>1<b>yz"), {1000}));
  EXPECT_EQ(t.tokens[t.row_offset[1] + t.row_prompt[1]], '1');
}

TEST(Tokenize, TruncatesThePromptFirstKeepStartOrKeepEnd) {
  CharTokenizer tok;
  TokenizeOptions o;
  o.max_length = 12;
  o.max_prompt_length = 5;
  TokenizedPairs t = tokenize_pairs(one_pair(), tok, o);
  EXPECT_EQ(row(t, 1), cat(ids("<Q>Hi0<a>yz"), {1000}));
  EXPECT_EQ(t.row_prompt[1], 5);
  o.truncation = "keep_end";
  t = tokenize_pairs(one_pair(), tok, o);
  EXPECT_EQ(row(t, 1), cat(ids("i?<A>0<a>yz"), {1000}));
}

TEST(Tokenize, ThenTheResponsesButNeverTheBeliefSpan) {
  CharTokenizer tok;
  TokenizeOptions o;
  o.max_length = 10;
  o.max_prompt_length = 5;
  TokenizedPairs t = tokenize_pairs(one_pair(), tok, o);
  EXPECT_EQ(row(t, 0), ids("<Q>Hi0<a>x"));
  EXPECT_EQ(row(t, 1), ids("<Q>Hi0<a>y"));
  EXPECT_EQ(t.row_belief[1], 4);
  o.max_length = 8;
  try {
    tokenize_pairs(one_pair(), tok, o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("p.jsonl:1: the belief span does not fit"), std::string::npos)
        << e.what();
  }
  o.skip_invalid = true;
  t = tokenize_pairs(one_pair(), tok, o);
  EXPECT_EQ(t.pairs(), 0);
  EXPECT_EQ(t.skipped.count("belief span cut by truncation"), 1);
}

TEST(Tokenize, BeliefIdsMustBeSingleTokens) {
  std::string line = kLine;
  line.replace(line.find("\"accept_choice_id\":0"), 20, "\"accept_choice_id\":10");
  line.replace(line.find("\"reject_choice_id\":1"), 20, "\"reject_choice_id\":11");
  std::istringstream in(line + "\n");
  const Dataset d = parse_records(in, "p.jsonl");  // ids 10, 11 (offset from the choice text)
  CharTokenizer tok;
  try {
    tokenize_pairs(d, tok, {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("belief id '10' (option 'a') encodes to 2 tokens with tokenizer chars"),
              std::string::npos)
        << e.what();
  }
}

TEST(Tokenize, EndOfTextInsideTheTextIsRejected) {
  struct EotTokenizer : CharTokenizer {
    std::vector<int64_t> encode(std::string_view text) const override {
      auto v = CharTokenizer::encode(text);
      for (auto& x : v)
        if (x == '#') x = 1000;
      return v;
    }
  } tok;
  std::string line = kLine;
  line.replace(line.find("\"x\""), 3, "\"x#\"");
  std::istringstream in(line + "\n");
  EXPECT_THROW(tokenize_pairs(parse_records(in, "p.jsonl"), tok, {}), InputError);
}

TEST(Tokenize, BadOptionsAreUsageErrors) {
  CharTokenizer tok;
  TokenizeOptions o;
  o.truncation = "middle";
  EXPECT_THROW(tokenize_pairs(one_pair(), tok, o), UsageError);
  o = {};
  o.max_prompt_length = 600;
  EXPECT_THROW(tokenize_pairs(one_pair(), tok, o), UsageError);
}

TEST(TokenCache, SecondLoadDoesNotTokenizeAndChangesInvalidate) {
  gdpo::test::TempDir dir;
  SyntheticConfig c;
  c.questions = 6;
  write_records(dir.file("s.jsonl"), make_synthetic(c));
  const std::string cache = dir.file("cache");
  CharTokenizer tok;
  std::ostringstream log;
  const TokenizedPairs first = load_pairs(dir.file("s.jsonl"), tok, {}, {}, cache, &log);
  const int64_t calls = tok.calls;
  EXPECT_GT(calls, 0);
  const TokenizedPairs second = load_pairs(dir.file("s.jsonl"), tok, {}, {}, cache, &log);
  EXPECT_EQ(tok.calls, calls);  // from the cache
  EXPECT_EQ(second.tokens, first.tokens);
  EXPECT_EQ(second.row_length, first.row_length);
  EXPECT_EQ(second.belief_prob, first.belief_prob);
  EXPECT_NE(log.str().find("from cache"), std::string::npos) << log.str();

  // Another tokenizer fingerprint, other options, other file contents: each tokenizes again.
  CharTokenizer tok2("chars-v2");
  load_pairs(dir.file("s.jsonl"), tok2, {}, {}, cache);
  EXPECT_GT(tok2.calls, 0);
  TokenizeOptions dpo;
  dpo.mode = PairMode::kDpo;
  load_pairs(dir.file("s.jsonl"), tok, dpo, {}, cache);
  EXPECT_GT(tok.calls, calls);
  const int64_t calls2 = tok.calls;
  c.questions = 7;
  write_records(dir.file("s.jsonl"), make_synthetic(c));
  const TokenizedPairs grown = load_pairs(dir.file("s.jsonl"), tok, {}, {}, cache);
  EXPECT_GT(tok.calls, calls2);
  EXPECT_EQ(grown.questions(), 7);
}

TEST(TokenCache, CorruptOrTruncatedCacheIsRebuilt) {
  gdpo::test::TempDir dir;
  write_records(dir.file("s.jsonl"), make_synthetic({}));
  CharTokenizer tok;
  const std::string fp = tokenized_fingerprint(dir.file("s.jsonl"), tok, {}, {});
  const TokenizedPairs t = tokenize_pairs(read_records(dir.file("s.jsonl")), tok, {});
  save_tokenized(dir.file("c.tok"), fp, t);
  TokenizedPairs back;
  std::string why;
  ASSERT_TRUE(load_tokenized(dir.file("c.tok"), fp, &back, &why)) << why;
  EXPECT_EQ(back.tokens, t.tokens);
  EXPECT_FALSE(load_tokenized(dir.file("c.tok"), fp + "x", &back, &why));
  EXPECT_NE(why.find("other data"), std::string::npos);

  std::string bytes = gdpo::test::read_file(dir.file("c.tok"));
  std::string flipped = bytes;
  flipped[flipped.size() - 100] ^= 0x40;
  gdpo::test::write_file(dir.file("c.tok"), flipped);
  EXPECT_FALSE(load_tokenized(dir.file("c.tok"), fp, &back, &why));
  EXPECT_NE(why.find("checksum"), std::string::npos) << why;
  gdpo::test::write_file(dir.file("c.tok"), bytes.substr(0, bytes.size() - 7));
  EXPECT_FALSE(load_tokenized(dir.file("c.tok"), fp, &back, &why));
  EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  gdpo::test::write_file(dir.file("c.tok"), bytes.substr(0, 20));
  EXPECT_FALSE(load_tokenized(dir.file("c.tok"), fp, &back, &why));
  EXPECT_FALSE(load_tokenized(dir.file("absent.tok"), fp, &back, &why));
}

TEST(TokenCache, BytesTokenizer) {
  const auto tok = tokenizer::load_tokenizer("bytes");
  const TokenizedPairs t = tokenize_pairs(one_pair(), *tok, {});
  EXPECT_EQ(row(t, 0), cat(ids("<Q>Hi?<A>0<a>x"), {256}));
  EXPECT_EQ(t.pad_id, 256);
}

}  // namespace
}  // namespace gdpo::data

#include "gdpo/data/data_config.hpp"

namespace gdpo::data {
namespace {

TEST(LoadData, SplitsTheTrainFileByQuestionWithoutEvalFiles) {
  gdpo::test::TempDir dir;
  SyntheticConfig c;
  c.questions = 10;
  c.pairs_per_question = 2;
  write_records(dir.file("s.jsonl"), make_synthetic(c));
  test::CharTokenizer tok;
  DataConfig o;
  o.train_files = {dir.file("s.jsonl")};
  o.split = {0.8, 0.2, 0.0};
  LoadedData d = load_data(o, tok);
  EXPECT_EQ(d.train.questions(), 8);
  EXPECT_EQ(d.eval.questions(), 2);
  EXPECT_EQ(d.train.pairs(), 16);
  EXPECT_EQ(d.eval.pairs(), 4);
  // Every pair's rows survive selection intact: its first belief token is its question's chosen one.
  for (const auto* t : {&d.train, &d.eval})
    for (int64_t i = 0; i < t->pairs(); ++i)
      EXPECT_EQ(t->tokens[t->row_offset[2 * i] + t->row_prompt[2 * i]],
                t->belief_token[t->question_offset[t->pair_question[i]] + t->pair_chosen[i]]);
  o.eval_files = {dir.file("s.jsonl")};
  d = load_data(o, tok);
  EXPECT_EQ(d.train.pairs(), 20);
  EXPECT_EQ(d.eval.pairs(), 20);
  o.train_files = {dir.file("s.jsonl"), dir.file("s.jsonl")};
  d = load_data(o, tok);
  EXPECT_EQ(d.train.questions(), 20);
  EXPECT_EQ(d.train.pair_question.back(), 19);
  o.train_files.clear();
  EXPECT_THROW(load_data(o, tok), UsageError);
}

}  // namespace
}  // namespace gdpo::data
