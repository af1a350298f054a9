// The Python-literal parser (Global Opinion QA's columns) and the CSV reader, with error positions.
#include "gdpo/data/python_literal.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/data/csv.hpp"

namespace gdpo::data {
namespace {

std::string literal_error(const std::string& text, int64_t line = 1, int64_t col = 1) {
  try {
    parse_python_literal(text, "x.csv", line, col);
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(PythonLiteral, DefaultdictOfCountries) {
  const auto v = parse_python_literal(
      "defaultdict(<class 'list'>, {'United States': [0.25, 0.75], 'S. Africa': [1, 0.0]})", "x");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.begin().key(), "United States");  // order kept
  EXPECT_DOUBLE_EQ(v["United States"][1].get<double>(), 0.75);
  EXPECT_EQ(v["S. Africa"][0].get<int64_t>(), 1);
}

TEST(PythonLiteral, StringsQuotesAndEscapes) {
  const auto v = parse_python_literal(
      R"(['A great deal', "Don't know", 'It\'s "fine"', 'tab\tnl\n', '\x41\u00e9', 'a' "b"])", "x");
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0], "A great deal");
  EXPECT_EQ(v[1], "Don't know");
  EXPECT_EQ(v[2], "It's \"fine\"");
  EXPECT_EQ(v[3], "tab\tnl\n");
  EXPECT_EQ(v[4], "A\xc3\xa9");
  EXPECT_EQ(v[5], "ab");
  EXPECT_EQ(parse_python_literal("'a' \"b\"", "x"), "ab");
}

TEST(PythonLiteral, ScalarsTuplesAndNumbers) {
  const auto v = parse_python_literal("(None, True, False, -3, 1e-3, .5, nan, -inf, [1,],)", "x");
  ASSERT_EQ(v.size(), 9u);
  EXPECT_TRUE(v[0].is_null());
  EXPECT_EQ(v[1], true);
  EXPECT_EQ(v[2], false);
  EXPECT_EQ(v[3].get<int64_t>(), -3);
  EXPECT_DOUBLE_EQ(v[4].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(v[5].get<double>(), 0.5);
  EXPECT_TRUE(std::isnan(v[6].get<double>()));
  EXPECT_TRUE(std::isinf(v[7].get<double>()));
  EXPECT_EQ(v[8].size(), 1u);
}

TEST(PythonLiteral, ErrorsNameFileLineAndColumn) {
  EXPECT_NE(literal_error("['a', 'b'").find("x.csv:1:10: "), std::string::npos) << literal_error("['a', 'b'");
  EXPECT_NE(literal_error("['a',\n 'b]", 7, 3).find("x.csv:8:"), std::string::npos);
  EXPECT_NE(literal_error("['a', 'b'", 7, 3).find("x.csv:7:12"), std::string::npos);
  EXPECT_NE(literal_error("[1, @]").find("x.csv:1:5: Python literal: unexpected character '@'"),
            std::string::npos)
      << literal_error("[1, @]");
  EXPECT_NE(literal_error("[1] 2").find("unexpected text after"), std::string::npos);
  EXPECT_NE(literal_error("{[1]: 2}").find("dict key"), std::string::npos);
  EXPECT_NE(literal_error("").find("unexpected end"), std::string::npos);
  EXPECT_NE(literal_error(std::string(100, '[')).find("nesting"), std::string::npos);
}

TEST(Csv, QuotedFieldsWithNewlinesAndEscapedQuotes) {
  std::istringstream in("a,b,c\n\"x\ny\",\"say \"\"hi\"\"\",3\r\nplain,,end\n");
  CsvReader r(in, "f.csv");
  CsvRecord rec;
  ASSERT_TRUE(r.next(rec));
  EXPECT_EQ(rec.fields.size(), 3u);
  ASSERT_TRUE(r.next(rec));
  EXPECT_EQ(rec.line, 2);
  EXPECT_EQ(rec.fields[0].text, "x\ny");
  EXPECT_EQ(rec.fields[1].text, "say \"hi\"");
  EXPECT_EQ(rec.fields[1].line, 3);
  EXPECT_EQ(rec.fields[1].column, 5);  // the text after the opening quote of `"say`
  EXPECT_EQ(rec.fields[2].text, "3");
  ASSERT_TRUE(r.next(rec));
  EXPECT_EQ(rec.line, 4);
  EXPECT_EQ(rec.fields[1].text, "");
  EXPECT_EQ(rec.fields[2].text, "end");
  EXPECT_FALSE(r.next(rec));
}

TEST(Csv, UnterminatedQuoteNamesItsLine) {
  std::istringstream in("a\n\"open\nnever closed\n");
  CsvReader r(in, "f.csv");
  CsvRecord rec;
  ASSERT_TRUE(r.next(rec));
  try {
    r.next(rec);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("f.csv:2: unterminated"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gdpo::data
