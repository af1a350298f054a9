// Finds added/special tokens written in text ("<|endoftext|>", NeoX's runs of spaces) so they can be
// split out before BPE: leftmost-longest matching over a byte trie, as Hugging Face tokenizers do.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace gdpo::tokenizer {

class TokenMatcher {
 public:
  // Adds a token (non-empty); a later add of the same text replaces the id.
  void add(std::string_view text, int32_t id);
  bool empty() const { return nodes_.size() <= 1; }

  struct Match {
    size_t start = 0, length = 0;
    int32_t id = -1;
  };
  // The leftmost match at or after `pos` (the longest token starting there); false when none.
  bool find(std::string_view text, size_t pos, Match& match) const;

  // Calls on_text(std::string_view) for the text between matches (never empty) and on_token(id)
  // for each match, in order.
  template <class Text, class Token>
  void split(std::string_view text, Text&& on_text, Token&& on_token) const {
    size_t pos = 0;
    Match m;
    while (!empty() && find(text, pos, m)) {
      if (m.start > pos) on_text(text.substr(pos, m.start - pos));
      on_token(m.id);
      pos = m.start + m.length;
    }
    if (pos < text.size()) on_text(text.substr(pos));
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;  // byte -> node index
    int32_t id = -1;                                      // the token ending here, if any
  };
  std::vector<Node> nodes_{Node{}};
  std::array<bool, 256> first_byte_{};  // bytes some token starts with
};

}  // namespace gdpo::tokenizer
