// The byte tokenizer: ids 0..255 are the bytes of the text (UTF-8 or not), 256 is end-of-text
// "<|endoftext|>" (vocab 257). Needs no files (`load_tokenizer("bytes")`); encode/decode byte-exact.
#pragma once
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::tokenizer {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr int64_t kEndOfText = 256;
  static constexpr std::string_view kEndOfTextText = "<|endoftext|>";

  std::vector<int64_t> encode(std::string_view text) const override;
  // "<|endoftext|>" in the text becomes 256; every other byte b becomes b.
  void encode_append(std::string_view text, std::vector<int64_t>& out) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return 257; }
  // A one-byte string gives its byte, "<|endoftext|>" gives 256.
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  int64_t eos_id() const override { return kEndOfText; }
  std::string name() const override { return "bytes(257)"; }
  std::string fingerprint() const override;
};

}  // namespace gdpo::tokenizer
