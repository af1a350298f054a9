// The tokenizer interface: text to token ids and back. Implementations: byte-level BPE (GPT-2's
// vocab.json + merges.txt, or a Hugging Face tokenizer.json such as GPT-NeoX's) and a byte tokenizer
// that needs no files (the embedded default and most tests).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gdpo::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of `text`. Special/added tokens written in the text are encoded as their single ids.
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;
  // The text of `ids` (byte-exact inverse of encode for valid UTF-8 input).
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // The id of a token string exactly as in the vocabulary (e.g. "<|endoftext|>"), if any.
  virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
  // End-of-sequence id (also used as padding, as GPT-2 and Pythia fine-tuning do).
  virtual int64_t eos_id() const = 0;
  // A short description for logs and fingerprints, e.g. "bpe(gpt2, 50257)".
  virtual std::string name() const = 0;
  // A stable hash of the vocabulary and rules, part of every tokenized-data cache key.
  virtual std::string fingerprint() const = 0;
};

using TokenizerPtr = std::shared_ptr<const Tokenizer>;

// Loads from a path: a directory with tokenizer.json or vocab.json + merges.txt, a tokenizer.json
// file, or the name "bytes" for the byte tokenizer. Errors name the path.
TokenizerPtr load_tokenizer(const std::string& path_or_name);

}  // namespace gdpo::tokenizer
