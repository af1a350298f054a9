#include "gdpo/tokenizer/token_matcher.hpp"

namespace gdpo::tokenizer {

namespace {
template <class Next>
int32_t child(const Next& next, unsigned char b) {
  for (const auto& [byte, node] : next)
    if (byte == b) return node;
  return -1;
}
}  // namespace

void TokenMatcher::add(std::string_view text, int32_t id) {
  if (text.empty()) return;
  first_byte_[static_cast<unsigned char>(text[0])] = true;
  int32_t node = 0;
  for (unsigned char b : text) {
    int32_t c = child(nodes_[node].next, b);
    if (c < 0) {
      c = static_cast<int32_t>(nodes_.size());
      nodes_[node].next.emplace_back(b, c);
      nodes_.emplace_back();
    }
    node = c;
  }
  nodes_[node].id = id;
}

bool TokenMatcher::find(std::string_view text, size_t pos, Match& match) const {
  for (size_t start = pos; start < text.size(); ++start) {
    if (!first_byte_[static_cast<unsigned char>(text[start])]) continue;
    int32_t node = 0;
    match.length = 0;
    for (size_t i = start; i < text.size(); ++i) {
      node = child(nodes_[node].next, static_cast<unsigned char>(text[i]));
      if (node < 0) break;
      if (nodes_[node].id >= 0) {
        match.length = i - start + 1;
        match.id = nodes_[node].id;
      }
    }
    if (match.length > 0) {
      match.start = start;
      return true;
    }
  }
  return false;
}

}  // namespace gdpo::tokenizer
