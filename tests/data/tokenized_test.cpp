// Tokenization with the authors' spans (hand-checkable positions with one id per byte, ">" = 62):
// belief span before the response's last ">", preference span from the chosen row's last ">", their
// fallbacks when `>"` merges or there is no <option>; truncation as the DPO reference; the SFT
// selection of one pair per question; and the token cache (reuse, invalidation, corruption, version).
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

// prompt "<Q>Hi?<A>" (9), chosen "0<a>x" + EOT, rejected "0<a>yz" + EOT (GDPO) or "1<b>yz" + EOT (DPO).
const char* kLine =
    R"({"prompt":"Hi?","options":["a","b"],"probabilities":[0.25,0.75],"accept_choice_id":0,)"
    R"("accept_choice":"a","accept_response":"x","reject_choice_id":1,"reject_choice":"b","reject_response":"yz"})";

// kLine with its chosen text "x" replaced by `text` (a JSON string body).
std::string with_chosen_text(const std::string& text) {
  std::string line = kLine;
  const std::string from = R"("accept_response":"x")";
  return line.replace(line.find(from), from.size(), R"("accept_response":")" + text + "\"");
}

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
  EXPECT_EQ(t.row_belief[0], 3);   // "0<a": before the last ">" (offset 3 in the response)
  EXPECT_EQ(t.row_pref[0], 12);    // 9 + 3: the ">" itself, then "x", EOT
  EXPECT_EQ(t.row_length[0], 15);
  EXPECT_EQ(t.row_belief[1], 3);
  EXPECT_EQ(t.row_pref[1], 12);    // the chosen row's offset
  EXPECT_EQ(t.row_length[1], 16);
  EXPECT_EQ(t.tokens[t.row_offset[0] + t.row_pref[0]], '>');
  EXPECT_EQ(t.tokens[t.row_offset[1] + t.row_pref[1]], '>');
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
  EXPECT_EQ(t.row_belief[1], 3);  // "1<b"
  EXPECT_EQ(t.row_pref[1], 12);   // the chosen row's offset (unused by dpo, which sums everything)
}

// Like CharTokenizer, but the strings in `merges` are single tokens (longest match first), as BPE
// merges `>"` (GPT-2 24618) or digits.
struct MergingTokenizer : test::CharTokenizer {
  std::vector<std::pair<std::string, int64_t>> merges;
  explicit MergingTokenizer(std::vector<std::pair<std::string, int64_t>> m) : merges(std::move(m)) {}
  std::vector<int64_t> encode(std::string_view text) const override {
    ++calls;
    std::vector<int64_t> v;
    for (size_t i = 0; i < text.size();) {
      size_t n = 1;
      int64_t id = static_cast<unsigned char>(text[i]);
      for (const auto& [str, mid] : merges)
        if (str.size() > n && text.substr(i, str.size()) == str) n = str.size(), id = mid;
      v.push_back(id);
      i += n;
    }
    return v;
  }
  std::string fingerprint() const override { return "merging"; }
};

TEST(Tokenize, TheLastGtOfTheResponseEndsTheBeliefSpan) {
  // chosen "0<a>x<b>y" + EOT: the last ">" is the text's (offset 7), so the belief span is
  // "0<a>x<b" (7) and the preference span starts at 9 + 7 = 16, as the authors' search does.
  std::istringstream in(with_chosen_text("x<b>y") + "\n");
  CharTokenizer tok;
  const TokenizedPairs t = tokenize_pairs(parse_records(in, "p.jsonl"), tok, {});
  EXPECT_EQ(row(t, 0), cat(ids("<Q>Hi?<A>0<a>x<b>y"), {1000}));
  EXPECT_EQ(t.row_belief[0], 7);
  EXPECT_EQ(t.row_pref[0], 16);
  EXPECT_EQ(t.row_length[0], 19);
  // The rejected row "<Q>Hi?<A>0<a>yz" + EOT is 16 long: a cut at 16 would leave none of it, so (as
  // the authors' "keep the old value") its preference span is its whole response.
  EXPECT_EQ(t.row_length[1], 16);
  EXPECT_EQ(t.row_belief[1], 3);
  EXPECT_EQ(t.row_pref[1], 9);
}

TEST(Tokenize, MergedGtFallsBackToTheWholeResponse) {
  // `>"` is one token (300): chosen `0<a>"hi"` + EOT = 0 < a >" h i " EOT has no lone ">", so the belief
  // span is the whole response (8, EOT included) and the preference span starts at the prompt's end
  // (the last ">" of the chosen row is the prompt's "<A>"), for both rows.
  std::istringstream in(with_chosen_text(R"(\"hi\")") + "\n");
  MergingTokenizer tok({{">\"", 300}});
  const TokenizedPairs t = tokenize_pairs(parse_records(in, "p.jsonl"), tok, {});
  ASSERT_EQ(t.pairs(), 1);
  EXPECT_EQ(row(t, 0), cat(ids("<Q>Hi?<A>0<a"), {300, 'h', 'i', '"', 1000}));
  EXPECT_EQ(t.row_belief[0], 8);
  EXPECT_EQ(t.row_pref[0], 9);
  // The rejected row "0<a>yz" keeps its own lone ">" for its belief span, and the chosen offset.
  EXPECT_EQ(t.row_belief[1], 3);
  EXPECT_EQ(t.row_pref[1], 9);
}

TEST(Tokenize, ReviewsHaveNoGtSoBothSpansAreTheWholeResponse) {
  std::istringstream in(
      R"({"prompt":"R","options":["1","2"],"probabilities":[0.5,0.5],"accept_choice_id":1,)"
      R"("accept_response":" ok","reject_choice_id":2,"reject_response":" bad"})"
      "\n");
  CharTokenizer tok;
  TokenizeOptions o;
  o.mode = PairMode::kDpo;
  const TokenizedPairs t = tokenize_pairs(parse_records(in, "r.jsonl"), tok, o);
  EXPECT_EQ(row(t, 0), cat(ids("<Q>R<A>1 ok"), {1000}));
  EXPECT_EQ(row(t, 1), cat(ids("<Q>R<A>2 bad"), {1000}));
  EXPECT_EQ(t.row_prompt[0], 7);
  EXPECT_EQ(t.row_belief[0], 5);  // "1 ok" + EOT
  EXPECT_EQ(t.row_belief[1], 6);  // "2 bad" + EOT
  EXPECT_EQ(t.row_pref[0], 7);
  EXPECT_EQ(t.row_pref[1], 7);
}

TEST(Tokenize, AResponseMustStartWithItsBeliefToken) {
  // A review id "4" before the text "5 stars": a tokenizer merging "45" loses the belief token.
  const std::string text =
      R"({"prompt":"R","options":["4","5"],"probabilities":[0.5,0.5],"accept_choice_id":4,)"
      R"("accept_response":"5 stars","reject_choice_id":5,"reject_response":" meh"})"
      "\n";
  MergingTokenizer tok({{"45", 301}});
  std::istringstream in(text);
  const Dataset d = parse_records(in, "r.jsonl");
  try {
    tokenize_pairs(d, tok, {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("r.jsonl:1: the chosen response does not start with the "
                                         "token of its belief id '4'"),
              std::string::npos)
        << e.what();
  }
  TokenizeOptions o;
  o.skip_invalid = true;
  const TokenizedPairs t = tokenize_pairs(d, tok, o);
  EXPECT_EQ(t.pairs(), 0);
  EXPECT_EQ(t.skipped.count("response does not start with its belief token"), 1);
}

TEST(Tokenize, TruncatesThePromptFirstKeepStartOrKeepEnd) {
  CharTokenizer tok;
  TokenizeOptions o;
  o.max_length = 12;
  o.max_prompt_length = 5;
  TokenizedPairs t = tokenize_pairs(one_pair(), tok, o);
  EXPECT_EQ(row(t, 1), cat(ids("<Q>Hi0<a>yz"), {1000}));
  EXPECT_EQ(t.row_prompt[1], 5);
  EXPECT_EQ(t.row_belief[1], 3);
  EXPECT_EQ(t.row_pref[1], 8);
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
  EXPECT_EQ(row(t, 0), ids("<Q>Hi0<a>x"));  // 5 response tokens kept: EOT cut
  EXPECT_EQ(row(t, 1), ids("<Q>Hi0<a>y"));
  EXPECT_EQ(t.row_belief[1], 3);
  EXPECT_EQ(t.row_pref[0], 8);
  o.max_length = 9;  // 4 response tokens: "0<a>", the preference span is the ">" alone
  t = tokenize_pairs(one_pair(), tok, o);
  EXPECT_EQ(row(t, 0), ids("<Q>Hi0<a>"));
  EXPECT_EQ(t.row_belief[0], 3);
  EXPECT_EQ(t.row_pref[0], 8);
  EXPECT_EQ(t.row_length[0], 9);
  o.max_length = 8;  // 3: the ">" would be cut
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
  EXPECT_EQ(second.row_belief, first.row_belief);
  EXPECT_EQ(second.row_pref, first.row_pref);
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
  // A cache of format version 1 (spans on separately tokenized beliefs, no row_pref) is rebuilt.
  std::string v1 = bytes;
  v1[8] = 1;  // the u32 after the 8-byte magic (little-endian hosts)
  gdpo::test::write_file(dir.file("c.tok"), v1);
  EXPECT_FALSE(load_tokenized(dir.file("c.tok"), fp, &back, &why));
  EXPECT_EQ(why, "another cache version");
}

TEST(TokenCache, RowInvariantsAreChecked) {
  gdpo::test::TempDir dir;
  CharTokenizer tok;
  TokenizedPairs t = tokenize_pairs(one_pair(), tok, {});
  TokenizedPairs back;
  std::string why;
  save_tokenized(dir.file("c.tok"), "fp", t);
  ASSERT_TRUE(load_tokenized(dir.file("c.tok"), "fp", &back, &why)) << why;
  EXPECT_EQ(back.row_pref, t.row_pref);
  for (int32_t bad : {8, 16}) {  // before the prompt's end; past the row's end
    TokenizedPairs b = t;
    b.row_pref[0] = bad;
    save_tokenized(dir.file("c.tok"), "fp", b);
    EXPECT_FALSE(load_tokenized(dir.file("c.tok"), "fp", &back, &why)) << bad;
    EXPECT_EQ(why, "inconsistent (row spans out of range)");
  }
  TokenizedPairs b = t;
  b.row_belief[1] = 0;
  save_tokenized(dir.file("c.tok"), "fp", b);
  EXPECT_FALSE(load_tokenized(dir.file("c.tok"), "fp", &back, &why));
  b = t;
  b.row_pref.pop_back();
  save_tokenized(dir.file("c.tok"), "fp", b);
  EXPECT_FALSE(load_tokenized(dir.file("c.tok"), "fp", &back, &why));
  EXPECT_EQ(why, "inconsistent (array sizes disagree)");
}

TEST(Tokenize, LastPairPerQuestionKeepsTheLastPairOfEachQuestionInQuestionOrder) {
  // Lines 1 and 3 are question "Hi?" (chosen texts "x", "c"), line 2 question "Yo" (chosen "p").
  const std::string l3 = with_chosen_text("c");
  std::istringstream in(std::string(kLine) + "\n" +
                        R"({"prompt":"Yo","options":["p","q"],"probabilities":[0.5,0.5],)"
                        R"("accept_choice_id":1,"accept_choice":"q","accept_response":"p",)"
                        R"("reject_choice_id":0,"reject_choice":"p","reject_response":"r"})" +
                        "\n" + l3 + "\n");
  CharTokenizer tok;
  const TokenizedPairs all = tokenize_pairs(parse_records(in, "s.jsonl"), tok, {});
  ASSERT_EQ(all.pairs(), 3);
  const TokenizedPairs sft = last_pair_per_question(all);
  ASSERT_EQ(sft.pairs(), 2);
  EXPECT_EQ(sft.questions(), 2);
  EXPECT_EQ(sft.pair_question, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(row(sft, 0), cat(ids("<Q>Hi?<A>0<a>c"), {1000}));  // line 3, not line 1
  EXPECT_EQ(row(sft, 2), cat(ids("<Q>Yo<A>1<q>p"), {1000}));
  EXPECT_EQ(sft.pair_chosen, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(sft.row_belief, (std::vector<int32_t>{3, 3, 3, 3}));
  EXPECT_EQ(sft.row_pref, (std::vector<int32_t>{12, 12, 11, 11}));
  EXPECT_EQ(sft.belief_prob, all.belief_prob);  // p* of each question, unchanged
}

TEST(TokenCache, BytesTokenizer) {
  const auto tok = tokenizer::load_tokenizer("bytes");
  const TokenizedPairs t = tokenize_pairs(one_pair(), *tok, {});
  EXPECT_EQ(row(t, 0), cat(ids("<Q>Hi?<A>0<a>x"), {256}));
  EXPECT_EQ(t.pad_id, 256);
  EXPECT_EQ(gt_token_id(*tok), '>');
  EXPECT_EQ(t.row_pref[0], 12);
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
  o.one_pair_per_question = true;  // SFT: the last pair of each question, train and eval
  d = load_data(o, tok);
  EXPECT_EQ(d.train.pairs(), 20);
  EXPECT_EQ(d.eval.pairs(), 10);
  EXPECT_EQ(d.eval.pair_question, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  o.train_files.clear();
  EXPECT_THROW(load_data(o, tok), UsageError);
}

}  // namespace
}  // namespace gdpo::data
