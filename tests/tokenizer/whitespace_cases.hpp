// The committed reference pre-tokenization of texts around every Unicode whitespace-like code point
// (whitespace_pretokens.json, written by make_whitespace_pretokens.py with OpenAI's GPT-2 pattern and
// the `regex` package): each case's text, its pieces, and GPT-2's reference ids when it has them.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace gdpo::tokenizer::testing {

struct WhitespaceCase {
  std::string text;
  std::vector<std::string> pieces;
  std::vector<int64_t> gpt2_ids;  // empty when the generator had no GPT-2 files
};

inline std::string whitespace_cases_path() {
  return test::source_dir() + "/tests/tokenizer/whitespace_pretokens.json";
}

// The cases (empty when the file cannot be read: the tests then fail saying so).
inline const std::vector<WhitespaceCase>& whitespace_cases() {
  static const std::vector<WhitespaceCase> cases = [] {
    std::vector<WhitespaceCase> out;
    std::ifstream in(whitespace_cases_path(), std::ios::binary);
    if (!in) return out;
    const nlohmann::json json = nlohmann::json::parse(in);
    for (const auto& c : json.at("cases")) {
      WhitespaceCase wc;
      wc.text = c.at(0).get<std::string>();
      wc.pieces = c.at(1).get<std::vector<std::string>>();
      if (c.size() > 2) wc.gpt2_ids = c.at(2).get<std::vector<int64_t>>();
      out.push_back(std::move(wc));
    }
    return out;
  }();
  return cases;
}

// `text` as a JSON string with every non-ASCII character escaped ("a\u180eb"), for messages.
inline std::string escaped(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

inline std::string escaped(const std::vector<std::string>& pieces) {
  std::string out = "[";
  for (const auto& p : pieces) out += (out.size() > 1 ? ", " : "") + escaped(p);
  return out + "]";
}

}  // namespace gdpo::tokenizer::testing
