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

// Every implementation is immutable after loading and safe to use from several threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of `text`. Special/added tokens written in the text are encoded as their single ids.
  // Any bytes are accepted: invalid UTF-8 is encoded byte by byte and decodes back to the same bytes
  // (except bytes a vocabulary has no token for, e.g. 0xFF in GPT-NeoX's: those become U+FFFD).
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;
  // Appends the ids of `text` to `out` (no allocation beyond growing `out`): the fast path for
  // encoding many short texts into one buffer. The default calls encode().
  virtual void encode_append(std::string_view text, std::vector<int64_t>& out) const;
  // The text of `ids` (byte-exact inverse of encode for valid UTF-8 input). An id outside
  // [0, vocab_size()) or one no token has is a gdpo::InputError naming the id.
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // The id of a token string exactly as in the vocabulary (e.g. "<|endoftext|>"), if any. Byte-level
  // BPE vocabularies spell a leading space as "Ġ" (GPT-2's byte-to-unicode table): " the" is "Ġthe".
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
// file, or the name "bytes" for the byte tokenizer. Errors (gdpo::InputError) name the path.
TokenizerPtr load_tokenizer(const std::string& path_or_name);

}  // namespace gdpo::tokenizer
