// Byte-level BPE, the GPT-2 family (GPT-2, GPT-NeoX/Pythia): optional NFC normalization, added tokens
// split out first, GPT-2's regex pre-tokenizer, then merges by rank within each piece. A BpeSpec holds
// what the files say (bpe_files.hpp reads them); BpeTokenizer checks it and encodes fast.
// Any bytes can be encoded: invalid UTF-8 byte by byte (each maximal invalid run is one piece). A
// vocabulary without a token for some byte (GPT-NeoX lacks 0xC0, 0xC1 and 0xF5..0xFF, which never
// occur in UTF-8) encodes that byte as U+FFFD: only there is decode(encode(x)) != x.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gdpo/tokenizer/pretokenizer.hpp"
#include "gdpo/tokenizer/token_matcher.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::tokenizer {

enum class Normalizer { kNone, kNfc };

// A token matched in the raw text before BPE (Hugging Face "added_tokens").
struct AddedToken {
  std::string content;     // the text as written (not byte-level spelled)
  int64_t id = 0;
  bool special = true;     // special tokens are matched in the text before normalization
  bool normalized = false; // non-special tokens with normalized=true are matched after it
};

// The contents of tokenizer files, as read; BpeTokenizer's constructor validates them.
struct BpeSpec {
  // Ids index arrays, so they are bounded by the number of distinct ids (vocabulary entries plus
  // added tokens that are not also vocabulary entries): each id must be below that count plus this
  // many unused ids. Real files have none unused (GPT-2: 0..50256; GPT-NeoX: 0..50276).
  static constexpr int64_t kMaxUnusedIds = 1024;

  std::string name;    // "gpt2", "gpt-neox-20b": the directory name
  std::string source;  // the file(s), for error messages
  std::vector<std::pair<std::string, int64_t>> vocab;       // byte-level spelling ("Ġthe"), id
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order, byte-level spellings
  // Where merge number r was written, e.g. "merges.txt line 7" (for error messages).
  std::function<std::string(size_t rank)> merge_location;
  std::vector<AddedToken> added_tokens;
  Normalizer normalizer = Normalizer::kNone;
  std::string eos_token = "<|endoftext|>";
  // Hugging Face's model.ignore_merges: a piece that is a vocabulary token is that token.
  bool ignore_merges = false;
};

class BpeTokenizer final : public Tokenizer {
 public:
  // Throws gdpo::InputError naming spec.source (and the merge's location) when the spec is
  // inconsistent: a merge of tokens not in the vocabulary, a byte without a token, a duplicate id, an
  // id beyond the entry count plus kMaxUnusedIds (checked before anything is sized by ids)...
  explicit BpeTokenizer(const BpeSpec& spec);

  std::vector<int64_t> encode(std::string_view text) const override;
  void encode_append(std::string_view text, std::vector<int64_t>& out) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(token_bytes_.size()); }
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  int64_t eos_id() const override { return eos_id_; }
  std::string name() const override { return name_; }
  std::string fingerprint() const override { return fingerprint_; }

  // The ids BPE gives one pre-token piece of bytes the vocabulary has (no added-token split,
  // normalization or cache): exposed for tests of the merge algorithm.
  std::vector<int32_t> merge_piece(std::string_view piece) const;

 private:
  // (left id, right id) -> (rank, merged id): open addressing, linear probing.
  class PairRanks {
   public:
    struct Entry {
      uint64_t key = kEmpty;
      int32_t rank = -1;
      int32_t merged = -1;
    };
    void build(const std::vector<Entry>& entries);
    const Entry* find(int32_t left, int32_t right) const {
      const uint64_t key = (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
      for (size_t i = slot(key);; i = (i + 1) & mask_) {
        if (slots_[i].key == key) return &slots_[i];
        if (slots_[i].key == kEmpty) return nullptr;
      }
    }

   private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
    std::vector<Entry> slots_;
    size_t mask_ = 0;
    int shift_ = 64;
  };

  void encode_segment(std::string_view text, std::vector<int64_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int64_t>& out) const;
  // BPE of `piece` into `symbols` (cleared first).
  void merge(std::string_view piece, std::vector<int32_t>& symbols) const;
  void merge_long(std::string_view piece, std::vector<int32_t>& symbols) const;

  std::string name_;
  std::string fingerprint_;
  Normalizer normalizer_ = Normalizer::kNone;
  int64_t eos_id_ = -1;
  uint64_t serial_ = 0;  // tells this instance's per-thread piece cache from another's

  std::vector<std::string> token_bytes_;  // by id: the bytes a token decodes to
  std::vector<bool> has_token_;           // by id: false for ids no token has
  std::unordered_map<std::string, int32_t> vocab_by_bytes_;  // BPE vocabulary, by bytes
  std::vector<bool> whole_;  // by id: BPE of the token's own bytes gives just this id
  std::unordered_map<std::string, int32_t> added_by_content_;
  int32_t byte_ids_[256] = {};  // -1 for a byte without a token
  bool has_missing_bytes_ = false;
  PairRanks pairs_;
  TokenMatcher raw_added_;         // special or non-normalized added tokens
  TokenMatcher normalized_added_;  // the other added tokens, matched after normalization
  Gpt2PreTokenizer pretokenizer_;
};

}  // namespace gdpo::tokenizer
