// A shorthand shared by the pre-tokenizer tests: the pieces GPT-2's pre-tokenizer splits a text into.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "gdpo/tokenizer/pretokenizer.hpp"

namespace gdpo::tokenizer::fixture {

// Gpt2PreTokenizer's pieces of `text`, in order ("Hello world" -> "Hello", " world").
inline std::vector<std::string> pieces(std::string_view text) {
  static const Gpt2PreTokenizer pre;
  std::vector<std::string> out;
  pre.split(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}

}  // namespace gdpo::tokenizer::fixture
