// GPT-2's pre-tokenizer (GPT-NeoX's too): the regex that cuts text into the pieces BPE merges within
// ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, \s being Unicode's
// White_Space as in encoder.py's `regex` and tiktoken), run by PCRE2 (UTF, UCP, JIT). Bytes that are
// not valid UTF-8 match nothing: each maximal run of them is a piece of its own.
#pragma once
#include <memory>
#include <string>
#include <string_view>

struct pcre2_real_code_8;  // pcre2.h's pcre2_code (8-bit)

namespace gdpo::tokenizer {

class Gpt2PreTokenizer {
 public:
  Gpt2PreTokenizer();  // compiles and JIT-compiles the regex
  ~Gpt2PreTokenizer();
  Gpt2PreTokenizer(const Gpt2PreTokenizer&) = delete;
  Gpt2PreTokenizer& operator=(const Gpt2PreTokenizer&) = delete;

  // The PCRE2 pattern, and it with the Unicode version of PCRE2's tables (\p{L}, \p{N}): what decides
  // the pieces, for tokenizer fingerprints.
  static const char* pattern();
  static std::string rules();

  // The piece starting at `pos`: sets `piece`, advances `pos` past it; false at the end of `text`.
  // The pieces cover `text` exactly, in order. Thread-safe (match data is per thread).
  bool next(std::string_view text, size_t& pos, std::string_view& piece) const;

  // Calls on_piece(std::string_view) for each piece of `text`.
  template <class F>
  void split(std::string_view text, F&& on_piece) const {
    size_t pos = 0;
    std::string_view piece;
    while (next(text, pos, piece)) on_piece(piece);
  }

 private:
  struct CodeFree {
    void operator()(pcre2_real_code_8* code) const;
  };
  std::unique_ptr<pcre2_real_code_8, CodeFree> code_;
};

}  // namespace gdpo::tokenizer
