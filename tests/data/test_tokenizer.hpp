// A hand-checkable tokenizer for the data tests: one id per byte (so "<Q>" is [60, 81, 62]),
// end of text 1000, and a count of encode calls (to prove that a cache hit does not tokenize).
#pragma once
#include <atomic>
#include <string>

#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::data::test {

class CharTokenizer : public tokenizer::Tokenizer {
 public:
  explicit CharTokenizer(std::string tag = "chars-v1") : tag_(std::move(tag)) {}
  std::vector<int64_t> encode(std::string_view text) const override {
    ++calls;
    std::vector<int64_t> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string s;
    for (int64_t i : ids) s += i == 1000 ? std::string("|EOT|") : std::string(1, static_cast<char>(i));
    return s;
  }
  int64_t vocab_size() const override { return 1001; }
  std::optional<int64_t> token_to_id(const std::string& t) const override {
    if (t.size() == 1) return static_cast<unsigned char>(t[0]);
    return std::nullopt;
  }
  int64_t eos_id() const override { return 1000; }
  std::string name() const override { return "chars"; }
  std::string fingerprint() const override { return tag_; }
  mutable std::atomic<int64_t> calls{0};

 private:
  std::string tag_;
};

// ids of a string under CharTokenizer.
inline std::vector<int64_t> ids(const std::string& s) {
  std::vector<int64_t> v;
  for (unsigned char c : s) v.push_back(c);
  return v;
}

}  // namespace gdpo::data::test
