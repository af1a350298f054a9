// Hostile and careless input to every data reader and builder (issue 10), fuzz-style: each test
// generates many bad variants of a good input and requires, for every one, an InputError (exit 3)
// whose message names the file and line, and with skip-invalid a counted skip that keeps the good
// records. Covered: nlohmann exceptions of every kind (overflowing numbers, wrong types, deep
// nesting, truncated lines), lone UTF-16 surrogates in Python literals, byte-order marks, p* sums far
// from 1, equal chosen/rejected beliefs and repeated option texts, repeated survey questions, and
// HTML character references in reviews.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>

#include "data/test_tokenizer.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/csv.hpp"
#include "gdpo/data/html.hpp"
#include "gdpo/data/opinion_builder.hpp"
#include "gdpo/data/python_literal.hpp"
#include "gdpo/data/record.hpp"
#include "gdpo/data/review_builder.hpp"
#include "gdpo/data/text.hpp"
#include "gdpo/data/tokenized.hpp"
#include "support/test_support.hpp"

namespace gdpo::data {
namespace {

using gdpo::test::TempDir;
using gdpo::test::write_file;
using test::CharTokenizer;  // gdpo::data::test

// ---- helpers ------------------------------------------------------------------------------------

// What a call threw: the exit code main() would give and the message (exit 0: nothing thrown).
struct Outcome {
  int exit_code = 0;
  bool input_error = false;
  std::string message;
};

Outcome outcome_of(const std::function<void()>& fn) {
  Outcome o;
  try {
    fn();
  } catch (const InputError& e) {
    o.exit_code = e.exit_code();
    o.input_error = true;
    o.message = e.what();
  } catch (const Error& e) {
    o.exit_code = e.exit_code();
    o.message = std::string("gdpo::Error: ") + e.what();
  } catch (const std::exception& e) {  // escaped: main() reports it as a failure, exit 1
    o.exit_code = kExitFailure;
    o.message = std::string("std::exception: ") + e.what();
  }
  return o;
}

// An InputError, exit code 3, whose message starts with `where` ("file:line:").
::testing::AssertionResult refused_at(const Outcome& o, const std::string& where) {
  if (!o.input_error || o.exit_code != kExitInput)
    return ::testing::AssertionFailure() << "expected an InputError (exit 3) at " << where << ", got exit "
                                         << o.exit_code << ": " << o.message;
  if (o.message.rfind(where, 0) != 0)
    return ::testing::AssertionFailure() << "the message does not start with '" << where
                                         << "': " << o.message;
  return ::testing::AssertionSuccess();
}

std::string nested(int64_t depth, char open = '[', char close = ']') {
  return std::string(static_cast<size_t>(depth), open) + std::string(static_cast<size_t>(depth), close);
}

// Values of every JSON type, numbers past double's range, and nesting past the limit: the generator's
// alphabet. (A value that is valid for a field is listed in that test as such.)
std::vector<std::string> bad_json_values() {
  std::vector<std::string> v = {"1e400", "-1e400", "1E+400", "123456789e999", "null", "true",
                                "false", "{}", R"({"a":1})", "[]", "[1,2]", R"("text")", "0", "-3",
                                "2.5", R"("\ud83d lone")"};
  for (int64_t depth : {kMaxJsonDepth + 1, int64_t{1000}, int64_t{100000}}) v.push_back(nested(depth));
  v.push_back("{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}");
  return v;
}

// Every proper prefix of `line` that is not blank: each is malformed JSON.
std::vector<std::string> truncations(const std::string& line) {
  std::vector<std::string> out;
  for (size_t n = 1; n < line.size(); ++n) out.push_back(line.substr(0, n));
  return out;
}

// ---- 1. records: every nlohmann exception is an InputError naming file and line, skippable ------

const std::vector<std::pair<std::string, std::string>> kRecordFields = {
    {"context", R"("Ctx. ")"},
    {"prompt", R"("Is tea good?")"},
    {"options", R"(["Yes","No"])"},
    {"probabilities", "[0.7,0.3]"},
    {"accept_choice_id", "0"},
    {"accept_choice", R"("Yes")"},
    {"accept_response", R"(" I like tea.")"},
    {"reject_choice_id", "1"},
    {"reject_choice", R"("No")"},
    {"reject_response", R"(" Tea is bad.")"},
};

// The good opinion record, with `field` set to `value` (raw JSON) when given, and `extra` (raw
// `"key":value` text) added at the front.
std::string record_line(const std::string& field = "", const std::string& value = "",
                        const std::string& extra = "") {
  std::string s = "{" + extra;
  for (const auto& [k, v] : kRecordFields) {
    if (s.size() > 1) s += ",";
    s += "\"" + k + "\":" + (k == field ? value : v);
  }
  return s + "}";
}

Dataset parse_text(const std::string& text, ReadOptions o = {}) {
  std::istringstream in(text);
  return parse_records(in, "f.jsonl", o);
}

// A good line 1 and `bad` on line 2: refused naming f.jsonl:2, or with skip-invalid one pair kept and
// one line counted.
void expect_bad_record_line(const std::string& bad, ReadOptions o = {}) {
  const std::string text = record_line() + "\n" + bad + "\n";
  EXPECT_TRUE(refused_at(outcome_of([&] { parse_text(text, o); }), "f.jsonl:2: ")) << bad.substr(0, 200);
  o.skip_invalid = true;
  const Outcome skipped = outcome_of([&] {
    const Dataset d = parse_text(text, o);
    EXPECT_EQ(d.pairs.size(), 1u) << bad.substr(0, 200);
    EXPECT_EQ(d.skipped.total(), 1) << bad.substr(0, 200) << ": " << d.skipped.summary();
  });
  EXPECT_EQ(skipped.exit_code, 0) << skipped.message;
}

TEST(HostileRecords, EveryFieldWithEveryBadValueIsRefusedNamingTheLine) {
  // The few (field, value) pairs of the alphabet that make a valid record.
  const std::set<std::pair<std::string, std::string>> valid = {
      {"context", "null"},          {"context", R"("text")"},        {"prompt", R"("text")"},
      {"accept_response", R"("text")"}, {"reject_response", R"("text")"}, {"accept_choice_id", "0"}};
  int refused = 0, accepted = 0;
  for (const auto& [field, original] : kRecordFields)
    for (const std::string& value : bad_json_values()) {
      if (valid.count({field, value})) {
        const Outcome ok = outcome_of([&] { parse_text(record_line() + "\n" + record_line(field, value) + "\n"); });
        EXPECT_EQ(ok.exit_code, 0) << field << "=" << value << ": " << ok.message;
        ++accepted;
        continue;
      }
      SCOPED_TRACE(field + " = " + value.substr(0, 40));
      expect_bad_record_line(record_line(field, value));
      ++refused;
    }
  EXPECT_EQ(accepted, 6);
  EXPECT_GT(refused, 180);
}

TEST(HostileRecords, OverflowingNumbersInsideValuesAndUnknownFields) {
  const std::vector<std::string> lines = {
      record_line("probabilities", "[1e400,0.3]"),
      record_line("probabilities", "[0.7,-1e400]"),
      record_line("probabilities", "[0.7,1e308,1e308]"),
      record_line("options", R"(["Yes",1e400])"),
      record_line("", "", R"("style":1e400)"),
      record_line("", "", R"("selections":{"x":[1e400]})"),
      record_line("", "", R"("answers":)" + nested(kMaxJsonDepth + 5)),
      record_line("", "", R"("options_map":{"Yes":1e400,"No":1})"),
      // options_map is read for a new question: another prompt.
      record_line("prompt", R"("Other?")", R"("options_map":{"Yes":[0],"No":1})"),
      record_line("prompt", R"("Other?")", R"("options_map":{"Yes":1.5,"No":1})"),
      record_line("prompt", R"("Other?")", R"("options_map":[1,2])"),
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line variant " + std::to_string(i));
    if (i + 1 == lines.size()) {
      // An options_map that is not an object is ignored (as the authors' code, which never reads
      // it): the record is valid.
      EXPECT_EQ(outcome_of([&] { parse_text(lines[i] + "\n"); }).exit_code, 0);
      continue;
    }
    expect_bad_record_line(lines[i]);
  }
  // p* of huge finite values: the sum is infinite, refused even with --data.renormalize.
  ReadOptions o;
  o.renormalize = true;
  expect_bad_record_line(record_line("probabilities", "[1e308,1e308]"), o);
}

TEST(HostileRecords, EveryTruncationOfALineIsRefused) {
  const std::string line = record_line();
  int n = 0;
  for (const std::string& cut : truncations(line)) {
    SCOPED_TRACE(cut);
    expect_bad_record_line(cut);
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(line.size()) - 1);
}

// ---- 1. the review JSON lines ---------------------------------------------------------------------

const std::vector<std::pair<std::string, std::string>> kReviewFields = {
    {"overall", "5.0"}, {"asin", R"("A1")"}, {"reviewText", R"("Top.")"}, {"title", R"("T")"}};

std::string review_line(const std::string& field = "", const std::string& value = "") {
  std::string s = "{";
  for (const auto& [k, v] : kReviewFields) {
    if (s.size() > 1) s += ",";
    s += "\"" + k + "\":" + (k == field ? value : v);
  }
  return s + "}";
}

void expect_bad_review_line(const TempDir& dir, const std::string& bad) {
  write_file(dir.file("r.json"), review_line() + "\n" + bad + "\n");
  SkipCounts counts;
  EXPECT_TRUE(refused_at(outcome_of([&] { read_reviews(dir.file("r.json"), false, counts); }),
                         dir.file("r.json") + ":2: "))
      << bad.substr(0, 200);
  SkipCounts skipped;
  const Outcome o = outcome_of([&] {
    EXPECT_EQ(read_reviews(dir.file("r.json"), true, skipped).size(), 1u) << bad.substr(0, 200);
    EXPECT_EQ(skipped.total(), 1) << bad.substr(0, 200) << ": " << skipped.summary();
  });
  EXPECT_EQ(o.exit_code, 0) << o.message;
}

TEST(HostileReviews, EveryFieldWithEveryBadValueAndEveryTruncationIsRefused) {
  TempDir dir;
  const std::set<std::pair<std::string, std::string>> valid = {{"asin", R"("text")"},
                                                               {"reviewText", R"("text")"},
                                                               {"title", R"("text")"},
                                                               {"title", "null"}};
  int refused = 0;
  for (const auto& [field, original] : kReviewFields)
    for (const std::string& value : bad_json_values()) {
      if (valid.count({field, value})) continue;
      SCOPED_TRACE(field + " = " + value.substr(0, 40));
      if (field == "reviewText" && value == "null") {  // a review without text: counted, not an error
        write_file(dir.file("r.json"), review_line("reviewText", "null") + "\n");
        SkipCounts counts;
        EXPECT_EQ(read_reviews(dir.file("r.json"), false, counts).size(), 0u);
        EXPECT_EQ(counts.count("reviews without text"), 1);
        continue;
      }
      expect_bad_review_line(dir, review_line(field, value));
      ++refused;
    }
  EXPECT_GT(refused, 70);
  for (const std::string& cut : truncations(review_line())) {
    SCOPED_TRACE(cut);
    expect_bad_review_line(dir, cut);
  }
}

// ---- 1. the opinion JSON lines (and its answers file and option map) ----------------------------

const std::vector<std::pair<std::string, std::string>> kOpinionFields = {
    {"question", R"("Q1?")"},
    {"selections", R"({"United States":[0.5,0.5]})"},
    {"options", R"(["Yes","No"])"}};

std::string opinion_line(const std::string& field = "", const std::string& value = "") {
  std::string s = "{";
  for (const auto& [k, v] : kOpinionFields) {
    if (s.size() > 1) s += ",";
    s += "\"" + k + "\":" + (k == field ? value : v);
  }
  return s + "}";
}

void expect_bad_opinion_line(const TempDir& dir, const std::string& bad) {
  const std::string good = R"({"question":"Q0?","selections":{"United States":[0.25,0.75]},"options":["a","b"]})";
  write_file(dir.file("g.jsonl"), good + "\n" + bad + "\n");
  OpinionBuildConfig c;
  c.pairs_per_question = 2;
  EXPECT_TRUE(refused_at(outcome_of([&] { build_opinion(dir.file("g.jsonl"), c); }),
                         dir.file("g.jsonl") + ":2: "))
      << bad.substr(0, 200);
  c.skip_invalid = true;
  const Outcome o = outcome_of([&] {
    const Dataset d = build_opinion(dir.file("g.jsonl"), c);
    EXPECT_EQ(d.questions.size(), 1u) << bad.substr(0, 200);
    EXPECT_EQ(d.skipped.total(), 1) << bad.substr(0, 200) << ": " << d.skipped.summary();
  });
  EXPECT_EQ(o.exit_code, 0) << o.message;
}

TEST(HostileOpinionJsonl, EveryFieldWithEveryBadValueAndEveryTruncationIsRefused) {
  TempDir dir;
  // A question text of any string is valid; a selections object without the country is a question
  // skipped as "without United States", not an error.
  const std::set<std::pair<std::string, std::string>> not_errors = {
      {"question", R"("text")"}, {"selections", "{}"}, {"selections", R"({"a":1})"}};
  int refused = 0;
  for (const auto& [field, original] : kOpinionFields)
    for (const std::string& value : bad_json_values()) {
      if (not_errors.count({field, value})) continue;
      SCOPED_TRACE(field + " = " + value.substr(0, 40));
      expect_bad_opinion_line(dir, opinion_line(field, value));
      ++refused;
    }
  EXPECT_GT(refused, 50);
  // Inside the values, as JSON and as Python literals.
  for (const std::string& bad :
       {opinion_line("selections", R"({"United States":[1e400,0.5]})"),
        opinion_line("selections", R"({"United States":[0.5,"0.5"]})"),
        opinion_line("selections", R"("{'United States': [1e400, 0.5]}")"),
        opinion_line("selections", R"("defaultdict(<class 'list'>, {'United States': [0.5, 0.5]")"),
        opinion_line("options", R"(["Yes",1e400])"), opinion_line("options", R"("['Yes', 'No'")"),
        opinion_line("options", R"("['Yes', '\\ud83d']")")}) {
    SCOPED_TRACE(bad);
    expect_bad_opinion_line(dir, bad);
  }
  for (const std::string& cut : truncations(opinion_line())) {
    SCOPED_TRACE(cut);
    expect_bad_opinion_line(dir, cut);
  }
}

TEST(HostileOpinionJsonl, AnswersFileLinesAndOptionMapValues) {
  TempDir dir;
  write_file(dir.file("g.jsonl"), opinion_line() + "\n");
  const std::string good_answer = R"({"question":"Q1?","option":"Yes","text":"Sure."})";
  for (const std::string& value : bad_json_values()) {
    if (value == R"("text")") continue;  // a valid answer text
    SCOPED_TRACE(value.substr(0, 40));
    write_file(dir.file("a.jsonl"),
                     good_answer + "\n" + R"({"question":"Q1?","option":"No","text":)" + value + "}\n");
    OpinionBuildConfig c;
    c.answers = dir.file("a.jsonl");
    EXPECT_TRUE(refused_at(outcome_of([&] { build_opinion(dir.file("g.jsonl"), c); }),
                           dir.file("a.jsonl") + ":2: "));
    c.skip_invalid = true;
    const Outcome o = outcome_of([&] {
      const Dataset d = build_opinion(dir.file("g.jsonl"), c);
      EXPECT_EQ(d.questions.size(), 1u);
      EXPECT_EQ(d.skipped.total(), 1) << d.skipped.summary();
    });
    EXPECT_EQ(o.exit_code, 0) << o.message;
  }
  // The option map is one JSON document: its errors name the file.
  for (const std::string& value : bad_json_values()) {
    SCOPED_TRACE(value.substr(0, 40));
    write_file(dir.file("map.json"), R"({"Yes": 4, "No": )" + value + "}");
    OpinionBuildConfig c;
    c.option_map = dir.file("map.json");
    const Outcome o = outcome_of([&] { build_opinion(dir.file("g.jsonl"), c); });
    if (value == "0" || value == "-3") {  // integers: a valid map
      EXPECT_EQ(o.exit_code, 0) << o.message;
      continue;
    }
    EXPECT_TRUE(refused_at(o, dir.file("map.json") + ": "));
  }
  write_file(dir.file("map.json"), R"({"Yes": 4, "No": 18446744073709551615})");
  OpinionBuildConfig c;
  c.option_map = dir.file("map.json");
  EXPECT_TRUE(refused_at(outcome_of([&] { build_opinion(dir.file("g.jsonl"), c); }),
                         dir.file("map.json") + ": "));
}

// ---- 2. lone UTF-16 surrogates in Python literals ------------------------------------------------

// UTF-8 of a code point, written out here apart from the parser's own encoder.
std::string utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

std::string hex_escape(const char* prefix, uint32_t v, int digits) {
  std::ostringstream os;
  os << prefix << std::hex << std::setw(digits) << std::setfill('0') << v;
  return os.str();
}

TEST(HostileSurrogates, TheEncoderOfThisTestIsRight) {
  EXPECT_EQ(utf8(0x1F600), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8(0x10000), "\xF0\x90\x80\x80");
  EXPECT_EQ(utf8(0x10FFFF), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(utf8(0xE9), "\xC3\xA9");
}

TEST(HostileSurrogates, PairsDecodeAndLoneHalvesAreRefusedAtTheirEscapeInEveryPosition) {
  const std::string base = "abc";
  int pairs = 0, lone = 0;
  for (uint32_t hi : {0xD800u, 0xD83Du, 0xDBFFu})
    for (uint32_t lo : {0xDC00u, 0xDE00u, 0xDFFFu}) {
      const char32_t cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
      const std::string H = hex_escape("\\u", hi, 4), L = hex_escape("\\u", lo, 4);
      const std::string HU = hex_escape("\\U", hi, 8), LU = hex_escape("\\U", lo, 8);
      for (size_t pos = 0; pos <= base.size(); ++pos) {
        const std::string before = base.substr(0, pos), after = base.substr(pos);
        const std::string expected = before + utf8(cp) + after;
        // Every way of writing the character: a pair of \u, of \U, mixed, or one \U escape.
        for (const std::string& esc : {H + L, HU + LU, H + LU, HU + L, hex_escape("\\U", cp, 8)}) {
          for (char quote : {'\'', '"'}) {
            const std::string literal = quote + before + esc + after + quote;
            SCOPED_TRACE(literal);
            EXPECT_EQ(parse_python_literal(literal, "x.csv", 7, 3).get<std::string>(), expected);
          }
          ++pairs;
        }
        // A half alone: at the end of the string, before text, before a non-surrogate escape,
        // before another high half, low before high (reversed), low alone. The error is at the
        // escape's backslash: column 3 + 1 (the quote) + pos.
        const std::string at = "x.csv:7:" + std::to_string(4 + pos) + ": Python literal: lone UTF-16 ";
        for (const std::string& esc : {H, HU, H + "x", H + "\\u0041", H + "\\U0001f600", H + H + L,
                                       H + "\\n" + L, L, LU, L + H, L + H + L, LU + HU}) {
          const std::string literal = "['ok', '" + before + esc + after + "']";
          SCOPED_TRACE(literal);
          // The list's second string starts at column 3 + 8 (after "['ok', '").
          const std::string where = "x.csv:7:" + std::to_string(3 + 8 + pos) + ": Python literal: lone UTF-16 ";
          const Outcome o = outcome_of([&] { parse_python_literal(literal, "x.csv", 7, 3); });
          EXPECT_TRUE(refused_at(o, where));
          EXPECT_NE(o.message.find("surrogate"), std::string::npos) << o.message;
          const Outcome alone = outcome_of([&] { parse_python_literal("'" + before + esc + after + "'", "x.csv", 7, 3); });
          EXPECT_TRUE(refused_at(alone, at));
          ++lone;
        }
      }
    }
  EXPECT_EQ(pairs, 9 * 4 * 5);
  EXPECT_EQ(lone, 9 * 4 * 12);
}

// A Global Opinion QA CSV whose row `bad_row` (1-based among the rows) has `option` as its first
// option; the other rows are good.
std::string goqa_csv(int rows, int bad_row, const std::string& option) {
  std::string s = "question,selections,options,source\n";
  for (int r = 1; r <= rows; ++r)
    s += "\"Q" + std::to_string(r) + "?\",\"defaultdict(<class 'list'>, {'United States': [0.25, 0.75]})\",\"['" +
         (r == bad_row ? option : std::string("Yes")) + "', 'No']\",GAS\n";
  return s;
}

TEST(HostileSurrogates, TheOpinionBuilderRefusesALoneSurrogateNamingTheRowOrSkipsIt) {
  TempDir dir;
  for (int bad = 1; bad <= 4; ++bad)
    for (const std::string& option : {std::string("\\ud83d"), std::string("a\\ude00"),
                                      std::string("\\ude00\\ud83d"), std::string("x\\ud83d\\u0041")}) {
      SCOPED_TRACE(std::to_string(bad) + ": " + option);
      write_file(dir.file("g.csv"), goqa_csv(4, bad, option));
      OpinionBuildConfig c;
      c.pairs_per_question = 1;
      const Outcome o = outcome_of([&] { build_opinion(dir.file("g.csv"), c); });
      EXPECT_TRUE(refused_at(o, dir.file("g.csv") + ":" + std::to_string(bad + 1) + ":"));
      EXPECT_NE(o.message.find("lone UTF-16"), std::string::npos) << o.message;
      c.skip_invalid = true;
      const Dataset d = build_opinion(dir.file("g.csv"), c);
      EXPECT_EQ(d.questions.size(), 3u);
      EXPECT_EQ(d.skipped.count("malformed rows"), 1) << d.skipped.summary();
    }
  // A pair decodes: the option is the emoji, and the records it writes are valid UTF-8 that reads
  // back.
  write_file(dir.file("g.csv"), goqa_csv(2, 2, "Smile \\ud83d\\ude00"));
  const Dataset d = build_opinion(dir.file("g.csv"), {});
  ASSERT_EQ(d.questions.size(), 2u);
  EXPECT_EQ(d.questions[1].options[0], "Smile \xF0\x9F\x98\x80");
  write_records(dir.file("out.jsonl"), d);
  EXPECT_EQ(read_records(dir.file("out.jsonl")).questions[1].options[0], "Smile \xF0\x9F\x98\x80");
}

// ---- 3. a UTF-8 byte-order mark changes nothing --------------------------------------------------

const std::string kBom = "\xEF\xBB\xBF";

// Each pair's record, as JSON text: what a reader gives, comparable across readers.
std::vector<std::string> records_of(const Dataset& d) {
  std::vector<std::string> out;
  for (const auto& p : d.pairs) out.push_back(to_record(d, p).dump() + " line " + std::to_string(p.line));
  return out;
}

TEST(HostileBom, EveryReaderGivesTheSameRecordsWithAndWithoutAByteOrderMark) {
  TempDir dir;
  // Records (JSON lines), from a stream and from a file; blank lines after the mark too.
  for (const std::string& text : {record_line() + "\n" + record_line("accept_response", R"("Yes!")") + "\n",
                                  std::string("\n  \n") + record_line() + "\n"}) {
    const Dataset plain = parse_text(text);
    ASSERT_EQ(plain.pairs.size(), text[0] == '{' ? 2u : 1u);
    EXPECT_EQ(records_of(parse_text(kBom + text)), records_of(plain));
    write_file(dir.file("r.jsonl"), kBom + text);
    EXPECT_EQ(records_of(read_records(dir.file("r.jsonl"))), records_of(plain));
  }
  // The CSV reader: same fields, lines and columns.
  const std::string csv = "question,options\n\"a\nb\",x\n";
  auto fields = [](const std::string& text) {
    std::istringstream in(text);
    CsvReader r(in, "c.csv");
    CsvRecord rec;
    std::vector<std::string> out;
    while (r.next(rec))
      for (const auto& f : rec.fields)
        out.push_back(f.text + "@" + std::to_string(f.line) + ":" + std::to_string(f.column));
    return out;
  };
  EXPECT_EQ(fields(kBom + csv), fields(csv));
  EXPECT_EQ(fields(csv).front(), "question@1:1");
  // A mark that is not at the start is text, and a lone EF byte is not a mark.
  EXPECT_EQ(fields("a," + kBom + "b\n")[1], kBom + "b@1:3");
  EXPECT_EQ(fields("\xEF\xBC\x81,x\n")[0], "\xEF\xBC\x81@1:1");  // U+FF01 starts with EF too

  // The opinion builder: CSV, JSON lines, the option map and the answers file.
  const std::string goqa = goqa_csv(3, 0, "");
  const std::string jsonl = opinion_line() + "\n" + opinion_line("question", R"("Q2?")") + "\n";
  const std::string map = R"({"Yes": 4, "No": 1})";
  const std::string answers = R"({"question":"Q1?","option":"Yes","text":"Sure."})" "\n";
  auto build = [&](bool bom, const std::string& input, const std::string& name, bool with_map) {
    write_file(dir.file(name), (bom ? kBom : "") + input);
    write_file(dir.file("map.json"), (bom ? kBom : "") + map);
    write_file(dir.file("answers.jsonl"), (bom ? kBom : "") + answers);
    OpinionBuildConfig c;
    c.pairs_per_question = 3;
    c.answers = dir.file("answers.jsonl");
    if (with_map) c.option_map = dir.file("map.json");
    return records_of(build_opinion(dir.file(name), c));
  };
  for (bool with_map : {false, true}) {
    const auto csv_plain = build(false, goqa, "g.csv", with_map);
    EXPECT_EQ(csv_plain.size(), 9u);
    EXPECT_EQ(build(true, goqa, "g.csv", with_map), csv_plain);
    const auto jsonl_plain = build(false, jsonl, "g.jsonl", with_map);
    EXPECT_EQ(jsonl_plain.size(), 6u);
    EXPECT_EQ(build(true, jsonl, "g.jsonl", with_map), jsonl_plain);
  }

  // The review readers: SNAP text and JSON lines.
  const std::string snap =
      "product/productId: B1\nproduct/title: Film\nreview/score: 5.0\nreview/text: Good.\n\n"
      "product/productId: B1\nreview/score: 1.0\nreview/text: Bad.\n";
  const std::string json_lines = R"({"overall": 5.0, "asin": "A1", "reviewText": "Top."})" "\n"
                           R"({"overall": 2.0, "asin": "A1", "reviewText": "Meh."})" "\n";
  for (const std::string& input : {snap, json_lines}) {
    auto reviews = [&](bool bom) {
      write_file(dir.file("m.txt"), (bom ? kBom : "") + input);
      SkipCounts counts;
      std::vector<std::string> out;
      for (const Review& r : read_reviews(dir.file("m.txt"), false, counts))
        out.push_back(r.movie + "|" + r.title + "|" + r.text + "|" + std::to_string(r.rating) + "|" +
                      std::to_string(r.line));
      EXPECT_EQ(counts.total(), 0) << counts.summary();
      return out;
    };
    const auto plain = reviews(false);
    EXPECT_EQ(plain.size(), 2u);
    EXPECT_EQ(reviews(true), plain);
    ReviewBuildConfig rc;
    rc.min_reviews = 2;
    const auto built_plain = records_of(build_reviews({dir.file("m.txt")}, rc));
    write_file(dir.file("m.txt"), kBom + input);
    EXPECT_EQ(records_of(build_reviews({dir.file("m.txt")}, rc)), built_plain);
  }
}

// ---- 4. the opinion builder's p* sums ------------------------------------------------------------

std::string goqa_row_csv(const std::vector<double>& p, const std::vector<std::string>& options) {
  std::ostringstream os;
  os << std::setprecision(17);
  os << "question,selections,options,source\n\"Q?\",\"defaultdict(<class 'list'>, {'United States': [";
  for (size_t k = 0; k < p.size(); ++k) os << (k ? ", " : "") << p[k];
  os << "]})\",\"[";
  for (size_t k = 0; k < options.size(); ++k) os << (k ? ", " : "") << "'" << options[k] << "'";
  os << "]\",GAS\n";
  return os.str();
}

std::vector<std::string> option_names(size_t k) {
  std::vector<std::string> names;
  for (size_t i = 0; i < k; ++i) names.push_back("opt" + std::to_string(i));
  return names;
}

TEST(HostileSums, SumsFarFromOneAreRefusedAndRoundedOnesRescaled) {
  TempDir dir;
  int accepted = 0, refused = 0;
  for (size_t k : {2u, 3u, 5u, 13u}) {
    std::vector<double> shape;  // a distribution of k values summing to 1
    for (size_t i = 0; i < k; ++i) shape.push_back(static_cast<double>(i + 1) / (k * (k + 1) / 2.0));
    for (double sum : {0.0, 1e-9, 0.3, 0.4, 0.9, 0.94, 0.96, 0.97, 0.99, 0.997, 1.0, 1.003, 1.02,
                       1.04, 1.056, 1.1, 2.0, 7.0, 100.0, 1e300}) {
      std::vector<double> p;
      for (double s : shape) p.push_back(s * sum);
      SCOPED_TRACE("k=" + std::to_string(k) + " sum=" + std::to_string(sum));
      write_file(dir.file("g.csv"), goqa_row_csv(p, option_names(k)));
      OpinionBuildConfig c;
      c.pairs_per_question = 1;
      const Outcome o = outcome_of([&] {
        const Dataset d = build_opinion(dir.file("g.csv"), c);
        ASSERT_EQ(d.questions.size(), 1u);
        double total = 0;
        for (size_t i = 0; i < k; ++i) {
          EXPECT_NEAR(d.questions[0].probabilities[i], shape[i], 1e-12);
          total += d.questions[0].probabilities[i];
        }
        EXPECT_NEAR(total, 1.0, 1e-12);
      });
      if (std::fabs(sum - 1.0) <= 0.045) {  // rounding: accepted, rescaled to sum to 1
        EXPECT_EQ(o.exit_code, 0) << o.message;
        ++accepted;
        continue;
      }
      EXPECT_TRUE(refused_at(o, dir.file("g.csv") + ":2: "));
      EXPECT_NE(o.message.find("United States's probabilities sum to"), std::string::npos) << o.message;
      EXPECT_NE(o.message.find("not 1 within 0.05"), std::string::npos) << o.message;
      c.skip_invalid = true;
      const Dataset d = build_opinion(dir.file("g.csv"), c);
      EXPECT_EQ(d.questions.size(), 0u);
      EXPECT_EQ(d.skipped.count("probabilities do not sum to 1"), 1) << d.skipped.summary();
      ++refused;
    }
  }
  EXPECT_EQ(accepted, 4 * 8);
  EXPECT_EQ(refused, 4 * 12);
  // A looser tolerance accepts 1.4; a negative tolerance is a usage error.
  write_file(dir.file("g.csv"), goqa_row_csv({0.7, 0.7}, option_names(2)));
  OpinionBuildConfig c;
  c.tolerance = 0.5;
  EXPECT_EQ(build_opinion(dir.file("g.csv"), c).questions.size(), 1u);
  c.tolerance = -1;
  EXPECT_THROW(build_opinion(dir.file("g.csv"), c), UsageError);
}

TEST(HostileSums, NegativeAndNonFiniteValuesAreRefusedWhateverTheSum) {
  TempDir dir;
  for (const char* bad : {"-0.5", "-1e-9", "nan", "inf", "-inf", "1e400", "-1e400", "None",
                                 "'0.5'", "[0.5]", "True"}) {
    for (size_t at = 0; at < 3; ++at) {
      std::string values;
      for (size_t i = 0; i < 3; ++i)
        values += std::string(i ? ", " : "") + (i == at ? std::string(bad) : std::string("0.5"));
      SCOPED_TRACE(values);
      write_file(dir.file("g.csv"),
                       "question,selections,options,source\n\"Q?\",\"defaultdict(<class 'list'>, "
                       "{'United States': [" + values + "]})\",\"['a', 'b', 'c']\",GAS\n");
      OpinionBuildConfig c;
      const Outcome o = outcome_of([&] { build_opinion(dir.file("g.csv"), c); });
      EXPECT_TRUE(refused_at(o, dir.file("g.csv") + ":2: "));
      c.skip_invalid = true;
      EXPECT_EQ(build_opinion(dir.file("g.csv"), c).skipped.count("bad probabilities"), 1);
    }
  }
}

// ---- 5. equal chosen/rejected beliefs (DPO) and repeated option texts ----------------------------

// A record of a question with k options "o0".."o{k-1}" (uniform p*), chosen `a`, rejected `r`.
std::string k_record(size_t k, size_t a, size_t r, const std::vector<std::string>& options = {}) {
  return gdpo::test::opinion_record(k, a, r, options);
}

TEST(HostileBeliefs, EqualChosenAndRejectedBeliefsAreRefusedForDpoPairsOnly) {
  TempDir dir;
  CharTokenizer tok;
  TokenizeOptions dpo, gdpo;
  dpo.mode = PairMode::kDpo;
  int n = 0;
  for (size_t k = 2; k <= 5; ++k)
    for (size_t b = 0; b < k; ++b) {
      const std::string text = k_record(k, 0, 1) + "\n" + k_record(k, b, b) + "\n";
      SCOPED_TRACE(text);
      // GDPO reads it (the rejected response is rendered with the chosen belief anyway).
      const Dataset d = parse_text(text);
      ASSERT_EQ(d.pairs.size(), 2u);
      EXPECT_EQ(tokenize_pairs(d, tok, gdpo).pairs(), 2);
      // Read for DPO pairs: refused naming the line, or skipped and counted.
      ReadOptions own;
      own.rejected_own_belief = true;
      const Outcome o = outcome_of([&] { parse_text(text, own); });
      EXPECT_TRUE(refused_at(o, "f.jsonl:2: "));
      EXPECT_NE(o.message.find("reject_choice_id '" + std::to_string(b) + "' is the accept_choice_id"),
                std::string::npos)
          << o.message;
      own.skip_invalid = true;
      const Dataset s = parse_text(text, own);
      EXPECT_EQ(s.pairs.size(), 1u);
      EXPECT_EQ(s.skipped.count("rejected belief is the chosen one"), 1) << s.skipped.summary();
      // Tokenizing for DPO refuses it too (whatever read it), naming the line.
      EXPECT_TRUE(refused_at(outcome_of([&] { tokenize_pairs(d, tok, dpo); }), "f.jsonl:2: "));
      // load_pairs reads with the check in DPO mode only.
      write_file(dir.file("p.jsonl"), text);
      EXPECT_TRUE(refused_at(outcome_of([&] { load_pairs(dir.file("p.jsonl"), tok, dpo, {}, ""); }),
                             dir.file("p.jsonl") + ":2: "));
      EXPECT_EQ(load_pairs(dir.file("p.jsonl"), tok, gdpo, {}, "").pairs(), 2);
      ++n;
    }
  EXPECT_EQ(n, 2 + 3 + 4 + 5);
}

TEST(HostileBeliefs, RepeatedOptionTextsAreRefusedInOpinionData) {
  int n = 0;
  for (size_t k = 2; k <= 6; ++k)
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i + 1; j < k; ++j) {
        std::vector<std::string> opts;
        for (size_t x = 0; x < k; ++x) opts.push_back(x == j ? "o" + std::to_string(i) : "o" + std::to_string(x));
        // The repeated text is found before the choices are matched to their ids.
        const std::string bad = k_record(k, 0, 1, opts);
        const std::string text = k_record(2, 0, 1) + "\n" + bad + "\n";
        SCOPED_TRACE(text);
        const Outcome o = outcome_of([&] { parse_text(text); });
        EXPECT_TRUE(refused_at(o, "f.jsonl:2: "));
        EXPECT_NE(o.message.find("option 'o" + std::to_string(i) + "' is listed twice in 'options' (" +
                                 std::to_string(i + 1) + " and " + std::to_string(j + 1) + ")"),
                  std::string::npos)
            << o.message;
        ReadOptions skip;
        skip.skip_invalid = true;
        const Dataset d = parse_text(text, skip);
        EXPECT_EQ(d.pairs.size(), 1u);
        EXPECT_EQ(d.skipped.count("duplicate options"), 1) << d.skipped.summary();
        ++n;
      }
  EXPECT_EQ(n, 1 + 3 + 6 + 10 + 15);
  // Review options are not rendered (ids only) and may repeat, e.g. all empty.
  const Dataset reviews = parse_text(
      R"({"prompt":"R","options":["","","","",""],"probabilities":[0.2,0.2,0.2,0.2,0.2],)"
      R"("accept_choice_id":5,"accept_response":"Great.","reject_choice_id":1,"reject_response":"Bad."})"
      "\n");
  EXPECT_EQ(reviews.kind, DatasetKind::kReview);
  EXPECT_EQ(reviews.pairs.size(), 1u);
}

TEST(HostileBeliefs, TheOpinionBuilderRefusesRepeatedAndEmptyOptionTexts) {
  TempDir dir;
  for (const std::string options : {"['a', 'a']", "['a', 'b', 'a']", "['a', 'b', 'c', 'b']",
                                     "['', 'b']", "['a', 'b', '']"}) {
    SCOPED_TRACE(options);
    const size_t k = static_cast<size_t>(std::count(options.begin(), options.end(), ',')) + 1;
    std::string values;
    for (size_t i = 0; i < k; ++i) values += std::string(i ? ", " : "") + (i == 0 ? "1.0" : "0.0");
    write_file(dir.file("g.csv"), goqa_csv(1, 0, "") +
                                            "\"Q9?\",\"defaultdict(<class 'list'>, {'United States': [" +
                                            values + "]})\",\"" + options + "\",GAS\n");
    OpinionBuildConfig c;
    EXPECT_TRUE(refused_at(outcome_of([&] { build_opinion(dir.file("g.csv"), c); }),
                           dir.file("g.csv") + ":3: "));
    c.skip_invalid = true;
    const Dataset d = build_opinion(dir.file("g.csv"), c);
    EXPECT_EQ(d.questions.size(), 1u);
    EXPECT_EQ(d.skipped.total(), 1) << d.skipped.summary();
  }
}

// ---- 6. a survey question asked twice -----------------------------------------------------------

std::string goqa_row(const std::string& question, const std::vector<double>& p,
                     const std::vector<std::string>& options) {
  std::ostringstream os;
  os << std::setprecision(17) << "\"" << question << "\",\"defaultdict(<class 'list'>, {'Indonesia': [";
  for (size_t k = 0; k < p.size(); ++k) os << (k ? ", " : "") << p[k];
  os << "]})\",\"[";
  for (size_t k = 0; k < options.size(); ++k) os << (k ? ", " : "") << "'" << options[k] << "'";
  os << "]\",GAS\n";
  return os.str();
}

std::vector<double> uniform(size_t k) { return std::vector<double>(k, 1.0 / static_cast<double>(k)); }

TEST(HostileRepeats, ARepeatWithOtherOptionsIsAnotherQuestionAnExactOneIsMergedOrRefused) {
  TempDir dir;
  const std::string header = "question,selections,options,source\n";
  int n = 0;
  for (size_t k = 2; k <= 5; ++k) {
    const std::vector<std::string> a = option_names(k);
    // Other option sets for the same text: one more, one fewer, reversed, one renamed.
    std::vector<std::vector<std::string>> others;
    others.push_back(a);
    others.back().push_back("DK/Refused");
    if (k > 2) others.push_back(std::vector<std::string>(a.begin(), a.end() - 1));
    others.push_back(std::vector<std::string>(a.rbegin(), a.rend()));
    others.push_back(a);
    others.back()[k / 2] = "Something else";
    for (const auto& b : others) {
      SCOPED_TRACE("k=" + std::to_string(k) + " other options: " + b.front() + "..." + b.back());
      OpinionBuildConfig c;
      c.country = "Indonesia";
      c.pairs_per_question = 3;
      // Kept apart: two questions with one prompt, each with its own options and pairs.
      write_file(dir.file("g.csv"), header + goqa_row("Same text?", uniform(k), a) +
                                              goqa_row("Other?", uniform(2), option_names(2)) +
                                              goqa_row("Same text?", uniform(b.size()), b));
      const Dataset d = build_opinion(dir.file("g.csv"), c);
      ASSERT_EQ(d.questions.size(), 3u);
      EXPECT_EQ(d.questions[2].prompt, "Same text?");
      EXPECT_EQ(d.questions[0].options, a);
      EXPECT_EQ(d.questions[2].options, b);
      EXPECT_EQ(d.questions[2].line, 4);
      EXPECT_EQ(d.pairs.size(), 9u);
      // The records it writes read back as the same three questions.
      write_records(dir.file("out.jsonl"), d);
      const Dataset back = read_records(dir.file("out.jsonl"));
      ASSERT_EQ(back.questions.size(), 3u);
      EXPECT_EQ(back.questions[2].options, b);
      EXPECT_EQ(back.pairs[8].question, 2);
      ++n;
    }
    // An exact repeat that agrees: merged (no second question, no more pairs), counted as a note.
    write_file(dir.file("g.csv"), header + goqa_row("Same text?", uniform(k), a) +
                                            goqa_row("Same text?", uniform(k), a));
    OpinionBuildConfig c;
    c.country = "Indonesia";
    c.pairs_per_question = 3;
    const Dataset merged = build_opinion(dir.file("g.csv"), c);
    EXPECT_EQ(merged.questions.size(), 1u);
    EXPECT_EQ(merged.pairs.size(), 3u);
    EXPECT_EQ(merged.notes.count("repeated questions merged"), 1);
    EXPECT_EQ(merged.skipped.total(), 0);
    // An exact repeat with other values: refused naming both lines, or skipped and counted.
    std::vector<double> other(k, 0.0);
    other[0] = 1.0;
    write_file(dir.file("g.csv"), header + goqa_row("Same text?", uniform(k), a) +
                                            goqa_row("Other?", uniform(2), option_names(2)) +
                                            goqa_row("Same text?", other, a));
    const Outcome o = outcome_of([&] { build_opinion(dir.file("g.csv"), c); });
    EXPECT_TRUE(refused_at(o, dir.file("g.csv") + ":4: "));
    EXPECT_NE(o.message.find("repeat the one at line 2 with other values for Indonesia"),
              std::string::npos)
        << o.message;
    c.skip_invalid = true;
    const Dataset skipped = build_opinion(dir.file("g.csv"), c);
    EXPECT_EQ(skipped.questions.size(), 2u);
    EXPECT_EQ(skipped.skipped.count("repeated questions that disagree"), 1);
  }
  EXPECT_EQ(n, 3 + 4 + 4 + 4);
}

TEST(HostileRepeats, RecordsGroupByContextPromptAndOptions) {
  // Same prompt, other options: another question. Same prompt and options, other p*: an error
  // naming the earlier line.
  const std::string a = k_record(3, 0, 1);
  const std::string b = k_record(3, 0, 1, {"o0", "o1", "x2"});
  const Dataset d = parse_text(a + "\n" + b + "\n" + a + "\n");
  ASSERT_EQ(d.questions.size(), 2u);
  EXPECT_EQ(d.questions[0].prompt, d.questions[1].prompt);
  EXPECT_EQ(d.pairs[2].question, 0);
  nlohmann::ordered_json other_p = nlohmann::ordered_json::parse(a);
  other_p["probabilities"] = {0.5, 0.25, 0.25};
  const std::string c = other_p.dump();
  const Outcome o = outcome_of([&] { parse_text(a + "\n" + c + "\n"); });
  EXPECT_TRUE(refused_at(o, "f.jsonl:2: "));
  EXPECT_NE(o.message.find("at line 1"), std::string::npos) << o.message;
}

// ---- 7. HTML character references in reviews ----------------------------------------------------

// (escaped, decoded): each checkable by hand against the HTML5 rules (and Python's html.unescape).
const std::vector<std::pair<std::string, std::string>> kReferences = {
    {"&quot;", "\""},
    {"&#34;", "\""},
    {"&#x22;", "\""},
    {"&#X22;", "\""},
    {"&amp;", "&"},
    {"&lt;", "<"},
    {"&gt;", ">"},
    {"&apos;", "'"},
    {"&#39;", "'"},
    {"&#x27;", "'"},
    {"&nbsp;", "\xC2\xA0"},           // U+00A0
    {"&#160;", "\xC2\xA0"},
    {"&eacute;", "\xC3\xA9"},         // é
    {"&#233;", "\xC3\xA9"},
    {"&#xE9;", "\xC3\xA9"},
    {"&hellip;", "\xE2\x80\xA6"},     // …
    {"&mdash;", "\xE2\x80\x94"},      // —
    {"&rsquo;", "\xE2\x80\x99"},      // ’
    {"&#8217;", "\xE2\x80\x99"},
    {"&#146;", "\xE2\x80\x99"},       // 0x92: Windows-1252's right quote
    {"&#128;", "\xE2\x82\xAC"},       // 0x80: €
    {"&euro;", "\xE2\x82\xAC"},
    {"&copy;", "\xC2\xA9"},           // ©
    {"&trade;", "\xE2\x84\xA2"},      // ™
    {"&AMP;", "&"},
    {"&#0;", "\xEF\xBF\xBD"},         // U+FFFD
    {"&#xD83D;", "\xEF\xBF\xBD"},     // a surrogate
    {"&#1114112;", "\xEF\xBF\xBD"},   // past U+10FFFF
    {"&#99999999999;", "\xEF\xBF\xBD"},
    {"&#x1F600;", "\xF0\x9F\x98\x80"},
    {"&#128512;", "\xF0\x9F\x98\x80"},
    {"&#13;", "\r"},
    {"&#1;", ""},                     // control characters are dropped
    {"&#127;", ""},
    {"&#xFFFE;", ""},                 // noncharacters too
    {"&#65;", "A"},
    {"&unknown;", "&unknown;"},       // not a name: kept
    {"&check;", "&check;"},           // HTML5-only name: kept (Python: U+2713), see html.hpp
};

// Without `;`, or not references at all: each decoded alone, as Python's html.unescape does.
const std::vector<std::pair<std::string, std::string>> kOpenEnded = {
    {"&amp", "&"},         {"&lt", "<"},          {"&quot", "\""},      {"&#39", "'"},
    {"&#x27", "'"},        {"&nbsp", "\xC2\xA0"}, {"&eacute", "\xC3\xA9"},
    {"AT&T", "AT&T"},      {"a & b", "a & b"},    {"&", "&"},           {"&&", "&&"},
    {"&;", "&;"},          {"&#", "&#"},          {"&#;", "&#;"},       {"&#x", "&#x"},
    {"&#xg;", "&#xg;"},    {"&ampx", "&x"},       {"&ampx;", "&x;"},    {"&notit;", "\xC2\xACit;"},
    {"&notin;", "\xE2\x88\x89"},                  {"&lt&gt", "<>"},     {"&#65&#66", "AB"},
    {"&#6566", "\xE1\xA6\xA6"},                   {"&amp;amp;", "&amp;"},
    {"&Amp;", "&Amp;"},    {"&quot,x", "\",x"},   {"&copy2023", "\xC2\xA9" "2023"},
    {"&E", "&E"},          {"&#x41g", "Ag"},      {"<br />", "<br />"},
};

TEST(HtmlUnescape, EachReferenceAndEachOpenEndedCase) {
  for (const auto& [in, out] : kReferences) EXPECT_EQ(html_unescape(in), out) << in;
  for (const auto& [in, out] : kOpenEnded) EXPECT_EQ(html_unescape(in), out) << in;
  EXPECT_EQ(html_unescape("no references"), "no references");
  EXPECT_EQ(html_unescape(""), "");
}

TEST(HtmlUnescape, EveryCombinationOfTwoReferencesWithText) {
  // References ending in `;` decode alone whatever surrounds them.
  const std::vector<std::string> texts = {"", "a", " ", "x y", "\xC3\xA9t\xC3\xA9", ";", "#"};
  int n = 0;
  for (const auto& [in1, out1] : kReferences)
    for (const auto& [in2, out2] : kReferences)
      for (const std::string& t : texts) {
        EXPECT_EQ(html_unescape(t + in1 + t + in2 + t), t + out1 + t + out2 + t) << t + in1 + t + in2 + t;
        ++n;
      }
  EXPECT_EQ(n, static_cast<int>(kReferences.size() * kReferences.size() * texts.size()));
  // The open-ended cases, separated by a space (which ends a name), pairwise.
  for (const auto& [in1, out1] : kOpenEnded)
    for (const auto& [in2, out2] : kOpenEnded)
      EXPECT_EQ(html_unescape(in1 + " " + in2), out1 + " " + out2) << in1 + " " + in2;
}

TEST(HtmlUnescape, ReviewTextsAndTitlesAreDecodedInBothFormats) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> texts = {
      {"I &quot;loved&quot; it &amp; more", "I \"loved\" it & more"},
      {"It&#39;s 5 &lt; 6&hellip;<br />Really&#x21;", "It's 5 < 6\xE2\x80\xA6\nReally!"},
      {"&lt;br /&gt; stays text", "<br /> stays text"},
      {"&nbsp;padded&nbsp;", "\xC2\xA0padded\xC2\xA0"},  // U+00A0 is not whitespace that is trimmed
  };
  for (const auto& [raw, decoded] : texts) {
    SCOPED_TRACE(raw);
    write_file(dir.file("m.txt"), "product/productId: B1\nproduct/title: Tom &amp; Jerry\n"
                                        "review/score: 4.0\nreview/text: " + raw + "\n");
    SkipCounts counts;
    auto r = read_reviews(dir.file("m.txt"), false, counts);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].text, decoded);
    EXPECT_EQ(r[0].title, "Tom & Jerry");
    nlohmann::json j = {{"overall", 4.0}, {"asin", "A1"}, {"reviewText", raw}, {"title", "Tom &amp; Jerry"}};
    write_file(dir.file("r.json"), j.dump() + "\n");
    r = read_reviews(dir.file("r.json"), false, counts);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].text, decoded);
    EXPECT_EQ(r[0].title, "Tom & Jerry");
  }
}

}  // namespace
}  // namespace gdpo::data
