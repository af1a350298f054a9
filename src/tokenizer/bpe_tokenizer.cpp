#include "gdpo/tokenizer/bpe_tokenizer.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <queue>

#include "gdpo/core/error.hpp"
#include "gdpo/core/hash.hpp"
#include "gdpo/core/utf8.hpp"
#include "gdpo/tokenizer/byte_level.hpp"
#include "gdpo/tokenizer/unicode_nfc.hpp"

namespace gdpo::tokenizer {

namespace {

// Pieces longer than this (in bytes) are merged with a heap (O(n log n)) instead of rescanning.
constexpr size_t kLinearMergeMaxBytes = 96;
// The per-thread cache of piece -> ids: pieces up to this long, up to this many (then it restarts).
constexpr size_t kCacheMaxPieceBytes = 128;
constexpr size_t kCacheMaxPieces = size_t{1} << 17;

std::atomic<uint64_t> next_serial{1};

// The ids of recently merged pieces, for one thread and one tokenizer at a time.
struct PieceCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> index;  // -> (offset, count)
  std::vector<int32_t> ids;
  std::string key;
};

// Bytes that have no token (GPT-NeoX lacks 0xC0, 0xC1, 0xF5..0xFF) encode as U+FFFD.
constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

}  // namespace

void BpeTokenizer::PairRanks::build(const std::vector<Entry>& entries) {
  size_t capacity = 16;
  shift_ = 60;
  while (capacity < entries.size() * 2) capacity *= 2, --shift_;
  slots_.assign(capacity, Entry{});
  mask_ = capacity - 1;
  for (const Entry& e : entries) {
    size_t i = slot(e.key);
    while (slots_[i].key != kEmpty && slots_[i].key != e.key) i = (i + 1) & mask_;
    if (slots_[i].key == kEmpty) slots_[i] = e;  // a repeated merge keeps its first (best) rank
  }
}

BpeTokenizer::BpeTokenizer(const BpeSpec& spec)
    : normalizer_(spec.normalizer), serial_(next_serial++) {
  const std::string& src = spec.source;
  // Ids size the tables below: bound them by the number of entries first, so that one stray id (1e9)
  // cannot ask for gigabytes. bpe_files.cpp refuses such ids earlier, naming the file's key.
  const int64_t entry_count = static_cast<int64_t>(spec.vocab.size() + spec.added_tokens.size());
  const int64_t id_limit = std::min<int64_t>(entry_count + BpeSpec::kMaxUnusedIds, INT32_MAX);
  int64_t max_id = -1;
  auto check_id = [&](int64_t id, std::string_view token) {
    if (id < 0 || id >= id_limit)
      GDPO_THROW(InputError, src << ": token " << in_quotes(token) << " has id " << id
                                 << ", outside 0.." << id_limit - 1 << " (" << entry_count
                                 << " tokens, at most " << BpeSpec::kMaxUnusedIds << " ids unused)");
    max_id = std::max(max_id, id);
  };
  for (const auto& [token, id] : spec.vocab) check_id(id, token);
  for (const auto& added : spec.added_tokens) check_id(added.id, added.content);
  if (spec.vocab.empty()) GDPO_THROW(InputError, src << ": the vocabulary is empty");

  // The vocabulary, by id and by bytes.
  token_bytes_.assign(max_id + 1, std::string());
  has_token_.assign(max_id + 1, false);
  std::vector<const std::string*> spelling(max_id + 1, nullptr);
  vocab_by_bytes_.reserve(spec.vocab.size());
  std::string bytes;
  for (const auto& [token, id] : spec.vocab) {
    if (spelling[id])
      GDPO_THROW(InputError, src << ": id " << id << " is given to both " << in_quotes(*spelling[id])
                                 << " and " << in_quotes(token));
    if (!byte_level_to_bytes(token, bytes))
      GDPO_THROW(InputError, src << ": token " << in_quotes(token) << " (id " << id
                                 << ") is not byte-level text (GPT-2's byte-to-unicode alphabet)");
    spelling[id] = &token;
    token_bytes_[id] = bytes;
    has_token_[id] = true;
    vocab_by_bytes_.emplace(bytes, static_cast<int32_t>(id));
  }
  std::string missing;  // bytes without a token, e.g. "0xC0 0xC1" (never in UTF-8 text)
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_by_bytes_.find(std::string(1, static_cast<char>(b)));
    byte_ids_[b] = it == vocab_by_bytes_.end() ? -1 : it->second;
    if (byte_ids_[b] < 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      missing += (missing.empty() ? "" : " ") + std::string(hex);
    }
  }
  has_missing_bytes_ = !missing.empty();
  for (unsigned char b : std::string_view(kReplacementCharacter))
    if (byte_ids_[b] < 0)
      GDPO_THROW(InputError, src << ": the vocabulary has no token for bytes " << missing
                                 << ": byte-level BPE needs all 256, or at least those of U+FFFD "
                                    "(which stands for the missing ones)");

  // The merges, by pair of ids.
  std::vector<PairRanks::Entry> entries;
  entries.reserve(spec.merges.size());
  std::string left, right;
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [l, r] = spec.merges[rank];
    auto fail = [&](const std::string& what) {
      GDPO_THROW(InputError, (spec.merge_location ? spec.merge_location(rank)
                                                  : src + " merge " + std::to_string(rank))
                                 << ": merge " << in_quotes(l + " " + r) << ": " << what);
    };
    auto id_of = [&](const std::string& b, const std::string& spelled) -> int32_t {
      auto it = vocab_by_bytes_.find(b);
      if (it == vocab_by_bytes_.end()) fail(in_quotes(spelled) + " is not in the vocabulary");
      return it->second;
    };
    if (!byte_level_to_bytes(l, left) || !byte_level_to_bytes(r, right))
      fail("not byte-level text (GPT-2's byte-to-unicode alphabet)");
    PairRanks::Entry e;
    int32_t a = id_of(left, l), b = id_of(right, r);
    e.key = (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
    e.rank = static_cast<int32_t>(rank);
    e.merged = id_of(left + right, l + r);
    entries.push_back(e);
  }
  pairs_.build(entries);

  // Fingerprint: the rules as loaded, before added tokens take over their ids.
  Fnv1a fp;
  // v2: the pre-tokenizer's \s became Unicode's White_Space (U+180E is no longer whitespace); the
  // pre-tokenizer's rules (pattern and PCRE2's Unicode version) are hashed too from v2 on.
  fp.add("gdpo.tokenizer.bpe.v2").add(Gpt2PreTokenizer::rules());
  fp.add(uint64_t(normalizer_ == Normalizer::kNfc));
  fp.add(uint64_t(token_bytes_.size()));
  for (size_t id = 0; id < token_bytes_.size(); ++id)
    fp.add(uint64_t(has_token_[id])).add(token_bytes_[id]);
  fp.add(uint64_t(spec.merges.size()));
  for (const auto& [l, r] : spec.merges) fp.add(l).add(r);
  fp.add(uint64_t(spec.ignore_merges));

  // Which tokens BPE reaches from their own bytes: a piece equal to one of those is that token.
  whole_.assign(token_bytes_.size(), false);
  std::vector<int32_t> symbols;
  for (const auto& [b, id] : vocab_by_bytes_) {
    if (!spec.ignore_merges) merge(b, symbols);
    whole_[id] = spec.ignore_merges || (symbols.size() == 1 && symbols[0] == id);
  }

  // Added tokens: split out of the text before (or, when normalized, after) normalization.
  fp.add(uint64_t(spec.added_tokens.size()));
  for (const AddedToken& added : spec.added_tokens) {
    if (added.content.empty())
      GDPO_THROW(InputError, src << ": added token with id " << added.id << " has empty content");
    token_bytes_[added.id] = added.content;
    has_token_[added.id] = true;
    added_by_content_[added.content] = static_cast<int32_t>(added.id);
    if (added.special || !added.normalized) {
      raw_added_.add(added.content, static_cast<int32_t>(added.id));
    } else {
      normalized_added_.add(normalizer_ == Normalizer::kNfc ? nfc(added.content) : added.content,
                            static_cast<int32_t>(added.id));
    }
    fp.add(uint64_t(added.id)).add(added.content);
    fp.add(uint64_t(added.special) * 2 + uint64_t(added.normalized));
  }

  auto eos = token_to_id(spec.eos_token);
  if (!eos)
    GDPO_THROW(InputError, src << ": no end-of-text token " << in_quotes(spec.eos_token)
                               << " in the vocabulary or the added tokens");
  eos_id_ = *eos;
  fp.add(spec.eos_token);
  fingerprint_ = fp.hex();
  name_ = "bpe(" + (spec.name.empty() ? std::string("unnamed") : spec.name) + ", " +
          std::to_string(vocab_size()) + ")";
}

std::vector<int64_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  encode_append(text, ids);
  return ids;
}

void BpeTokenizer::encode_append(std::string_view text, std::vector<int64_t>& out) const {
  auto token = [&out](int32_t id) { out.push_back(id); };
  if (raw_added_.empty()) {
    encode_segment(text, out);
  } else {
    raw_added_.split(text, [&](std::string_view segment) { encode_segment(segment, out); }, token);
  }
}

void BpeTokenizer::encode_segment(std::string_view text, std::vector<int64_t>& out) const {
  thread_local std::string normalized;
  if (normalizer_ == Normalizer::kNfc && !nfc_quick_check(text)) {
    nfc(text, normalized);
    text = normalized;
  }
  auto ordinary = [&](std::string_view part) {
    pretokenizer_.split(part, [&](std::string_view piece) { encode_piece(piece, out); });
  };
  if (normalized_added_.empty()) {
    ordinary(text);
  } else {
    normalized_added_.split(text, ordinary, [&out](int32_t id) { out.push_back(id); });
  }
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int64_t>& out) const {
  if (has_missing_bytes_) {
    size_t start = 0;
    for (size_t i = 0; i < piece.size(); ++i) {
      if (byte_ids_[static_cast<unsigned char>(piece[i])] >= 0) continue;
      if (i > start) encode_piece(piece.substr(start, i - start), out);
      encode_piece(kReplacementCharacter, out);
      start = i + 1;
    }
    if (start > 0) {
      if (start < piece.size()) encode_piece(piece.substr(start), out);
      return;
    }
  }
  if (piece.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  thread_local PieceCache cache;
  if (cache.owner != serial_) {
    cache.index.clear();
    cache.ids.clear();
    cache.owner = serial_;
  }
  cache.key.assign(piece.data(), piece.size());
  if (auto it = vocab_by_bytes_.find(cache.key); it != vocab_by_bytes_.end() && whole_[it->second]) {
    out.push_back(it->second);
    return;
  }
  if (auto it = cache.index.find(cache.key); it != cache.index.end()) {
    const int32_t* ids = cache.ids.data() + it->second.first;
    out.insert(out.end(), ids, ids + it->second.second);
    return;
  }
  thread_local std::vector<int32_t> symbols;
  merge(piece, symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
  if (piece.size() > kCacheMaxPieceBytes) return;
  if (cache.index.size() >= kCacheMaxPieces) {
    cache.index.clear();
    cache.ids.clear();
  }
  cache.index.emplace(cache.key, std::make_pair(static_cast<uint32_t>(cache.ids.size()),
                                                static_cast<uint32_t>(symbols.size())));
  cache.ids.insert(cache.ids.end(), symbols.begin(), symbols.end());
}

std::vector<int32_t> BpeTokenizer::merge_piece(std::string_view piece) const {
  std::vector<int32_t> symbols;
  merge(piece, symbols);
  return symbols;
}

// Repeatedly merges the adjacent pair of lowest rank (the leftmost among equals), as GPT-2 and
// Hugging Face do. pairs[i] is the merge of (symbols[i], symbols[i+1]), or null.
void BpeTokenizer::merge(std::string_view piece, std::vector<int32_t>& symbols) const {
  symbols.clear();
  for (unsigned char b : piece) symbols.push_back(byte_ids_[b]);
  if (symbols.size() < 2) return;
  if (piece.size() > kLinearMergeMaxBytes) {
    merge_long(piece, symbols);
    return;
  }
  thread_local std::vector<const PairRanks::Entry*> pairs;
  pairs.resize(symbols.size() - 1);
  for (size_t i = 0; i + 1 < symbols.size(); ++i) pairs[i] = pairs_.find(symbols[i], symbols[i + 1]);
  for (;;) {
    size_t best = pairs.size();
    int32_t best_rank = INT32_MAX;
    for (size_t i = 0; i < pairs.size(); ++i)
      if (pairs[i] && pairs[i]->rank < best_rank) best = i, best_rank = pairs[i]->rank;
    if (best == pairs.size()) break;
    symbols[best] = pairs[best]->merged;
    symbols.erase(symbols.begin() + best + 1);
    pairs.erase(pairs.begin() + best);
    if (best > 0) pairs[best - 1] = pairs_.find(symbols[best - 1], symbols[best]);
    if (best + 1 < symbols.size()) pairs[best] = pairs_.find(symbols[best], symbols[best + 1]);
  }
}

// The same merge order for long pieces: a min-heap of (rank, position) over a linked list of symbols;
// an entry whose pair has changed since it was pushed is skipped when popped.
void BpeTokenizer::merge_long(std::string_view piece, std::vector<int32_t>& symbols) const {
  struct Symbol {
    int32_t id, prev, next;
  };
  const int32_t n = static_cast<int32_t>(symbols.size());
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) sym[i] = {symbols[i], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> heap;
  auto push = [&](int32_t pos) {
    if (sym[pos].next < 0) return;
    if (const auto* e = pairs_.find(sym[pos].id, sym[sym[pos].next].id))
      heap.push((uint64_t(uint32_t(e->rank)) << 32) | uint32_t(pos));
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const int32_t rank = static_cast<int32_t>(heap.top() >> 32);
    const int32_t pos = static_cast<int32_t>(heap.top() & 0xFFFFFFFFu);
    heap.pop();
    Symbol& s = sym[pos];
    if (s.id < 0 || s.next < 0) continue;
    const auto* e = pairs_.find(s.id, sym[s.next].id);
    if (!e || e->rank != rank) continue;
    Symbol& right = sym[s.next];
    s.id = e->merged;
    right.id = -1;
    s.next = right.next;
    if (s.next >= 0) sym[s.next].prev = pos;
    if (s.prev >= 0) push(s.prev);
    push(pos);
  }
  symbols.clear();
  for (int32_t i = 0; i >= 0; i = sym[i].next) symbols.push_back(sym[i].id);
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  text.reserve(ids.size() * 4);
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size() || !has_token_[id])
      GDPO_THROW(InputError, "token id " << id << " is not in the vocabulary of " << name_
                                         << " (ids 0.." << vocab_size() - 1 << ")");
    text += token_bytes_[id];
  }
  return text;
}

std::optional<int64_t> BpeTokenizer::token_to_id(const std::string& token) const {
  if (auto it = added_by_content_.find(token); it != added_by_content_.end()) return it->second;
  std::string bytes;
  if (!byte_level_to_bytes(token, bytes)) return std::nullopt;
  if (auto it = vocab_by_bytes_.find(bytes); it != vocab_by_bytes_.end()) return it->second;
  return std::nullopt;
}

}  // namespace gdpo::tokenizer
