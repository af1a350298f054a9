#include "gdpo/data/tokenized.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/core/hash.hpp"
#include "gdpo/io/atomic_file.hpp"

namespace gdpo::data {

namespace fs = std::filesystem;

namespace {

void check_options(const TokenizeOptions& o) {
  if (o.max_length < 2) GDPO_THROW(UsageError, "--data.max-length: must be >= 2 (got " << o.max_length << ")");
  if (o.max_prompt_length < 1 || o.max_prompt_length >= o.max_length)
    GDPO_THROW(UsageError, "--data.max-prompt-length: must be in [1, --data.max-length) (got "
                               << o.max_prompt_length << ")");
  if (o.truncation != "keep_start" && o.truncation != "keep_end")
    GDPO_THROW(UsageError, "--data.truncation: unknown mode '" << o.truncation
                                                               << "' (keep_start|keep_end)");
}

struct BadPair {
  std::string reason, message;
};

}  // namespace

int64_t gt_token_id(const tokenizer::Tokenizer& tok) {
  if (auto id = tok.token_to_id(">")) return *id;
  const auto ids = tok.encode(">");
  return ids.size() == 1 ? ids[0] : -1;
}

TokenizedPairs tokenize_pairs(const Dataset& data, const tokenizer::Tokenizer& tok,
                              const TokenizeOptions& options) {
  check_options(options);
  TokenizedPairs out;
  out.pad_id = tok.eos_id();
  out.skipped = data.skipped;
  const int64_t eos = tok.eos_id();
  const int64_t gt = gt_token_id(tok);
  auto place = [&](int64_t line) {  // "file:line", or "file" for a pair without a line
    return data.source + (line > 0 ? ":" + std::to_string(line) : std::string());
  };
  auto where = [&](int64_t line) { return place(line) + ": "; };

  // Per question: the belief tokens and the prompt's ids.
  std::vector<std::vector<int64_t>> prompt_ids(data.questions.size());
  out.question_offset.push_back(0);
  for (size_t qi = 0; qi < data.questions.size(); ++qi) {
    const Question& q = data.questions[qi];
    for (size_t k = 0; k < q.belief_ids.size(); ++k) {
      const auto ids = tok.encode(q.belief_ids[k]);
      if (ids.size() != 1)
        GDPO_THROW(InputError, where(q.line) << "belief id '" << q.belief_ids[k] << "' (option '"
                                             << q.options[k] << "') encodes to " << ids.size()
                                             << " tokens with tokenizer " << tok.name()
                                             << "; every belief id must be a single token");
      out.belief_token.push_back(ids[0]);
      out.belief_prob.push_back(static_cast<float>(q.probabilities[k]));
    }
    out.question_offset.push_back(static_cast<int64_t>(out.belief_token.size()));
    prompt_ids[qi] = tok.encode(render_prompt(q));
  }

  // Index of the last `>` token of a response (-1: none).
  auto last_gt = [&](const std::vector<int64_t>& v) -> int64_t {
    if (gt < 0) return -1;
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i >= 0; --i)
      if (v[i] == gt) return i;
    return -1;
  };
  std::vector<int64_t> rc, rr;
  for (const Pair& p : data.pairs) {
    try {
      const auto& prompt_full = prompt_ids[p.question];
      const RenderedPair text = render_pair(data, p, options.mode);
      rc.clear();
      rr.clear();
      tok.encode_append(text.chosen(), rc);    // the whole response, `{id}<{option}>{text}`
      tok.encode_append(text.rejected(), rr);
      for (const std::vector<int64_t>* v :
           std::initializer_list<const std::vector<int64_t>*>{&prompt_full, &rc, &rr})
        if (std::find(v->begin(), v->end(), eos) != v->end())
          throw BadPair{"end-of-text token inside the text",
                        "the text contains the end-of-text token (id " + std::to_string(eos) + ")"};
      // The first response token is the belief id's token (the batch contract; the calibration
      // reads the belief tokens' probabilities where the response begins).
      const Question& q = data.questions[p.question];
      if (options.mode == PairMode::kDpo && p.chosen == p.rejected)
        throw BadPair{"rejected belief is the chosen one",
                      "the rejected belief '" + q.belief_ids[p.rejected] +
                          "' is the chosen one: a DPO pair's rejected response carries its own "
                          "belief, which must differ from the chosen one"};
      const int64_t want[2] = {p.chosen, options.mode == PairMode::kGdpo ? p.chosen : p.rejected};
      for (int side = 0; side < 2; ++side) {
        const auto& v = side == 0 ? rc : rr;
        if (v.empty() || v[0] != out.belief_token[out.question_offset[p.question] + want[side]])
          throw BadPair{"response does not start with its belief token",
                        std::string("the ") + (side == 0 ? "chosen" : "rejected") +
                            " response does not start with the token of its belief id '" +
                            q.belief_ids[want[side]] + "': tokenizer " + tok.name() +
                            " merges it with the text that follows"};
      }
      rc.push_back(eos);
      rr.push_back(eos);
      const int64_t gc = last_gt(rc), gr = last_gt(rr);  // response offsets of the last `>`

      const int64_t longer = static_cast<int64_t>(std::max(rc.size(), rr.size()));
      int64_t p_begin = 0, p_len = static_cast<int64_t>(prompt_full.size());
      if (p_len + longer > options.max_length && p_len > options.max_prompt_length) {
        if (options.truncation == "keep_end") p_begin = p_len - options.max_prompt_length;
        p_len = options.max_prompt_length;
      }
      int64_t limit = longer;
      if (p_len + longer > options.max_length) limit = options.max_length - p_len;
      const int64_t keep[2] = {std::min<int64_t>(limit, rc.size()), std::min<int64_t>(limit, rr.size())};
      if (gc >= keep[0] || gr >= keep[1])
        throw BadPair{"belief span cut by truncation",
                      "the belief span does not fit in --data.max-length " +
                          std::to_string(options.max_length) + " after a prompt of " +
                          std::to_string(p_len) + " tokens (a response's last '>' token would be cut)"};
      // The preference span starts at the chosen row's last `>` (included), clamped to the prompt's
      // end (a `>` in the prompt leaves the whole response); the rejected row uses the same offset
      // unless nothing of it would remain, where the authors keep its whole response.
      const int64_t pref_c = p_len + std::max<int64_t>(gc, 0);
      const int64_t pref[2] = {pref_c, pref_c < p_len + keep[1] ? pref_c : p_len};
      const int64_t g[2] = {gc, gr};
      for (int side = 0; side < 2; ++side) {
        const auto& resp = side == 0 ? rc : rr;
        out.row_offset.push_back(static_cast<int64_t>(out.tokens.size()));
        for (int64_t i = 0; i < p_len; ++i) out.tokens.push_back(static_cast<int32_t>(prompt_full[p_begin + i]));
        for (int64_t i = 0; i < keep[side]; ++i) out.tokens.push_back(static_cast<int32_t>(resp[i]));
        out.row_prompt.push_back(static_cast<int32_t>(p_len));
        // Before the last `>`; the authors' fallback (no `>`, or nothing before it): the whole response.
        out.row_belief.push_back(static_cast<int32_t>(g[side] >= 1 ? g[side] : keep[side]));
        out.row_pref.push_back(static_cast<int32_t>(pref[side]));
        out.row_length.push_back(static_cast<int32_t>(p_len + keep[side]));
      }
      out.pair_question.push_back(p.question);
      out.pair_chosen.push_back(static_cast<int32_t>(p.chosen));
      out.pair_rejected.push_back(static_cast<int32_t>(p.rejected));
    } catch (const BadPair& b) {
      out.skipped.skip_or_throw(options.skip_invalid, b.reason, place(p.line), b.message);
    }
  }
  return out;
}

std::string tokenized_fingerprint(const std::string& data_path, const tokenizer::Tokenizer& tok,
                                  const TokenizeOptions& o, const ReadOptions& r) {
  std::ifstream in(data_path, std::ios::binary);
  if (!in) throw InputError(data_path + ": cannot open for reading");
  uint64_t h = fnv1a64("");
  std::string buf(1 << 20, '\0');
  int64_t bytes = 0;
  while (in) {
    in.read(&buf[0], static_cast<std::streamsize>(buf.size()));
    h = fnv1a64(std::string_view(buf.data(), static_cast<size_t>(in.gcount())), h);
    bytes += in.gcount();
  }
  std::ostringstream os;
  os << "data=" << hex64(h) << "/" << bytes << " tokenizer=" << tok.fingerprint()
     << " max_length=" << o.max_length << " max_prompt_length=" << o.max_prompt_length
     << " truncation=" << o.truncation << " mode=" << mode_name(o.mode)
     << " skip_invalid=" << o.skip_invalid << " kind=" << r.kind << " belief_ids=" << r.belief_ids
     << " renormalize=" << r.renormalize << " tolerance=" << r.tolerance
     << " read_skip_invalid=" << r.skip_invalid << " rejected_own_belief=" << r.rejected_own_belief
     << " spans=authors gt_token=" << gt_token_id(tok) << " checks=2";  // checks: the reader's rules
  return os.str();
}

// ---- cache file --------------------------------------------------------------------------------
// Layout (native byte order, checked by the marker): "GDPOTOKC" u32 version u32 0x01020304
// u64 payload_size u64 payload_fnv1a u64 fingerprint_size, fingerprint, payload.
// Payload: each array as u64 count + raw elements (tokens, row_offset, row_prompt, row_belief,
// row_pref, row_length, pair_*, question_offset, belief_token, belief_prob); pad_id; skip reasons as
// u64 count + (string, i64).
// Version 2: spans on the whole-response tokenization (the authors'), row_pref added.

namespace {

constexpr char kMagic[8] = {'G', 'D', 'P', 'O', 'T', 'O', 'K', 'C'};
constexpr uint32_t kVersion = 2;
constexpr uint32_t kByteOrder = 0x01020304;

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
void put_vec(std::string& out, const std::vector<T>& v) {
  put<uint64_t>(out, v.size());
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

struct Truncated {};

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  template <class T>
  T get() {
    T v;
    need(sizeof v);
    std::memcpy(&v, s_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  template <class T>
  std::vector<T> get_vec() {
    const uint64_t n = get<uint64_t>();
    if (n > (s_.size() - pos_) / sizeof(T)) throw Truncated{};
    std::vector<T> v(n);
    need(n * sizeof(T));
    std::memcpy(v.data(), s_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }
  std::string get_str() {
    const uint64_t n = get<uint64_t>();
    need(n);
    std::string s(s_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  void need(uint64_t n) {
    if (n > s_.size() - pos_) throw Truncated{};
  }
  std::string_view s_;
  size_t pos_ = 0;
};

// Structural checks, so that a corrupt cache can never cause an out-of-bounds read later.
bool consistent(const TokenizedPairs& t, std::string* why) {
  const size_t n = t.pair_question.size(), rows = 2 * n;
  auto fail = [&](const char* what) {
    if (why) *why = what;
    return false;
  };
  if (t.pair_chosen.size() != n || t.pair_rejected.size() != n || t.row_offset.size() != rows ||
      t.row_prompt.size() != rows || t.row_belief.size() != rows || t.row_pref.size() != rows ||
      t.row_length.size() != rows)
    return fail("array sizes disagree");
  if (t.question_offset.empty() || t.question_offset.front() != 0 ||
      t.question_offset.back() != static_cast<int64_t>(t.belief_token.size()) ||
      t.belief_prob.size() != t.belief_token.size())
    return fail("question offsets disagree");
  for (size_t q = 0; q + 1 < t.question_offset.size(); ++q)
    if (t.question_offset[q + 1] <= t.question_offset[q]) return fail("empty question");
  for (size_t r = 0; r < rows; ++r)
    if (t.row_offset[r] < 0 || t.row_prompt[r] < 1 || t.row_belief[r] < 1 ||
        t.row_prompt[r] + t.row_belief[r] > t.row_length[r] || t.row_pref[r] < t.row_prompt[r] ||
        t.row_pref[r] > t.row_length[r] ||
        t.row_offset[r] + t.row_length[r] > static_cast<int64_t>(t.tokens.size()))
      return fail("row spans out of range");
  for (size_t i = 0; i < n; ++i) {
    const int64_t q = t.pair_question[i];
    if (q < 0 || q >= t.questions()) return fail("question index out of range");
    if (t.pair_chosen[i] < 0 || t.pair_chosen[i] >= t.beliefs(q) || t.pair_rejected[i] < 0 ||
        t.pair_rejected[i] >= t.beliefs(q))
      return fail("belief index out of range");
  }
  return true;
}

}  // namespace

void save_tokenized(const std::string& path, const std::string& fingerprint,
                    const TokenizedPairs& t) {
  std::string payload;
  put_vec(payload, t.tokens);
  put_vec(payload, t.row_offset);
  put_vec(payload, t.row_prompt);
  put_vec(payload, t.row_belief);
  put_vec(payload, t.row_pref);
  put_vec(payload, t.row_length);
  put_vec(payload, t.pair_question);
  put_vec(payload, t.pair_chosen);
  put_vec(payload, t.pair_rejected);
  put_vec(payload, t.question_offset);
  put_vec(payload, t.belief_token);
  put_vec(payload, t.belief_prob);
  put<int64_t>(payload, t.pad_id);
  put<uint64_t>(payload, t.skipped.reasons().size());
  for (const auto& [reason, n] : t.skipped.reasons()) {
    put_str(payload, reason);
    put<int64_t>(payload, n);
  }
  std::string file(kMagic, sizeof kMagic);
  put(file, kVersion);
  put(file, kByteOrder);
  put<uint64_t>(file, payload.size());
  put<uint64_t>(file, fnv1a64(payload));
  put_str(file, fingerprint);
  file += payload;
  io::write_file_atomic(path, file);
}

bool load_tokenized(const std::string& path, const std::string& fingerprint, TokenizedPairs* out,
                    std::string* why_not) {
  auto no = [&](const std::string& why) {
    if (why_not) *why_not = why;
    return false;
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return no("no cache file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    Cursor c(bytes);
    char magic[8];
    for (char& m : magic) m = c.get<char>();
    if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) return no("not a gdpo token cache");
    if (c.get<uint32_t>() != kVersion) return no("another cache version");
    if (c.get<uint32_t>() != kByteOrder) return no("another byte order");
    const uint64_t size = c.get<uint64_t>();
    const uint64_t checksum = c.get<uint64_t>();
    if (c.get_str() != fingerprint) return no("made for other data, tokenizer or options");
    const size_t header = sizeof kMagic + 2 * sizeof(uint32_t) + 3 * sizeof(uint64_t) +
                          fingerprint.size();
    if (bytes.size() != header + size) return no("truncated or padded");
    const std::string_view payload(bytes.data() + header, size);
    if (fnv1a64(payload) != checksum) return no("checksum mismatch (corrupt)");
    Cursor p(payload);
    TokenizedPairs t;
    t.tokens = p.get_vec<int32_t>();
    t.row_offset = p.get_vec<int64_t>();
    t.row_prompt = p.get_vec<int32_t>();
    t.row_belief = p.get_vec<int32_t>();
    t.row_pref = p.get_vec<int32_t>();
    t.row_length = p.get_vec<int32_t>();
    t.pair_question = p.get_vec<int64_t>();
    t.pair_chosen = p.get_vec<int32_t>();
    t.pair_rejected = p.get_vec<int32_t>();
    t.question_offset = p.get_vec<int64_t>();
    t.belief_token = p.get_vec<int64_t>();
    t.belief_prob = p.get_vec<float>();
    t.pad_id = p.get<int64_t>();
    const uint64_t reasons = p.get<uint64_t>();
    for (uint64_t i = 0; i < reasons; ++i) {
      std::string reason = p.get_str();
      t.skipped.add(reason, p.get<int64_t>());
    }
    if (!p.done()) return no("trailing bytes (corrupt)");
    std::string why;
    if (!consistent(t, &why)) return no("inconsistent (" + why + ")");
    *out = std::move(t);
    return true;
  } catch (const Truncated&) {
    return no("truncated");
  }
}

namespace {
// Appends pair i of `src` (both rows) to `out` as a pair of question `question`.
void push_pair(TokenizedPairs& out, const TokenizedPairs& src, int64_t i, int64_t question) {
  for (int64_t r = 2 * i; r < 2 * i + 2; ++r) {
    out.row_offset.push_back(static_cast<int64_t>(out.tokens.size()));
    out.tokens.insert(out.tokens.end(), src.tokens.begin() + src.row_offset[r],
                      src.tokens.begin() + src.row_offset[r] + src.row_length[r]);
    out.row_prompt.push_back(src.row_prompt[r]);
    out.row_belief.push_back(src.row_belief[r]);
    out.row_pref.push_back(src.row_pref[r]);
    out.row_length.push_back(src.row_length[r]);
  }
  out.pair_question.push_back(question);
  out.pair_chosen.push_back(src.pair_chosen[i]);
  out.pair_rejected.push_back(src.pair_rejected[i]);
}
}  // namespace

TokenizedPairs select_questions(const TokenizedPairs& src, const std::vector<int64_t>& questions) {
  TokenizedPairs out;
  out.pad_id = src.pad_id;
  out.skipped = src.skipped;
  std::vector<int64_t> remap(src.questions(), -1);
  out.question_offset.push_back(0);
  for (int64_t q : questions) {
    GDPO_CHECK(q >= 0 && q < src.questions(), "select_questions: question " << q);
    remap[q] = out.questions();
    for (int64_t b = src.question_offset[q]; b < src.question_offset[q + 1]; ++b) {
      out.belief_token.push_back(src.belief_token[b]);
      out.belief_prob.push_back(src.belief_prob[b]);
    }
    out.question_offset.push_back(static_cast<int64_t>(out.belief_token.size()));
  }
  std::vector<std::vector<int64_t>> by_question(src.questions());
  for (int64_t i = 0; i < src.pairs(); ++i) by_question[src.pair_question[i]].push_back(i);
  for (int64_t q : questions)
    for (int64_t i : by_question[q]) push_pair(out, src, i, remap[q]);
  return out;
}

TokenizedPairs last_pair_per_question(const TokenizedPairs& src) {
  TokenizedPairs out;
  out.pad_id = src.pad_id;
  out.skipped = src.skipped;
  out.question_offset = src.question_offset;
  out.belief_token = src.belief_token;
  out.belief_prob = src.belief_prob;
  std::vector<int64_t> last(src.questions(), -1);
  for (int64_t i = 0; i < src.pairs(); ++i) last[src.pair_question[i]] = i;
  for (int64_t q = 0; q < src.questions(); ++q)
    if (last[q] >= 0) push_pair(out, src, last[q], q);
  return out;
}

void append_pairs(TokenizedPairs& dst, const TokenizedPairs& src) {
  if (dst.question_offset.empty()) {
    dst = src;
    return;
  }
  GDPO_CHECK(dst.pad_id == src.pad_id, "append_pairs: pad ids " << dst.pad_id << " vs " << src.pad_id);
  const int64_t q0 = dst.questions(), b0 = static_cast<int64_t>(dst.belief_token.size());
  const int64_t t0 = static_cast<int64_t>(dst.tokens.size());
  dst.tokens.insert(dst.tokens.end(), src.tokens.begin(), src.tokens.end());
  for (int64_t off : src.row_offset) dst.row_offset.push_back(off + t0);
  dst.row_prompt.insert(dst.row_prompt.end(), src.row_prompt.begin(), src.row_prompt.end());
  dst.row_belief.insert(dst.row_belief.end(), src.row_belief.begin(), src.row_belief.end());
  dst.row_pref.insert(dst.row_pref.end(), src.row_pref.begin(), src.row_pref.end());
  dst.row_length.insert(dst.row_length.end(), src.row_length.begin(), src.row_length.end());
  for (int64_t q : src.pair_question) dst.pair_question.push_back(q + q0);
  dst.pair_chosen.insert(dst.pair_chosen.end(), src.pair_chosen.begin(), src.pair_chosen.end());
  dst.pair_rejected.insert(dst.pair_rejected.end(), src.pair_rejected.begin(), src.pair_rejected.end());
  for (size_t q = 1; q < src.question_offset.size(); ++q)
    dst.question_offset.push_back(src.question_offset[q] + b0);
  dst.belief_token.insert(dst.belief_token.end(), src.belief_token.begin(), src.belief_token.end());
  dst.belief_prob.insert(dst.belief_prob.end(), src.belief_prob.begin(), src.belief_prob.end());
  dst.skipped.merge(src.skipped);
}

TokenizedPairs load_pairs(const std::string& data_path, const tokenizer::Tokenizer& tok,
                          const TokenizeOptions& options, const ReadOptions& read,
                          const std::string& cache_dir, std::ostream* log) {
  check_options(options);
  ReadOptions read_as = read;
  if (options.mode == PairMode::kDpo) read_as.rejected_own_belief = true;
  std::string cache_path, fingerprint;
  if (!cache_dir.empty()) {
    fingerprint = tokenized_fingerprint(data_path, tok, options, read_as);
    cache_path = (fs::path(cache_dir) / (fs::path(data_path).filename().string() + "." +
                                         hex64(fnv1a64(fingerprint)) + ".tok"))
                     .string();
    TokenizedPairs cached;
    std::string why;
    if (load_tokenized(cache_path, fingerprint, &cached, &why)) {
      if (log) *log << "data: " << data_path << ": " << cached.pairs() << " tokenized pairs from cache "
                    << cache_path << "\n";
      return cached;
    }
    if (log) *log << "data: " << data_path << ": tokenizing (cache " << cache_path << ": " << why
                  << ")\n";
  }
  TokenizedPairs t = tokenize_pairs(read_records(data_path, read_as), tok, options);
  if (log) {
    *log << "data: " << data_path << ": " << t.pairs() << " pairs, " << t.questions() << " questions";
    if (t.skipped.total()) *log << "; " << t.skipped.summary();
    *log << "\n";
  }
  if (!cache_dir.empty()) {
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    if (ec) throw Error("cannot create cache directory '" + cache_dir + "': " + ec.message());
    save_tokenized(cache_path, fingerprint, t);
  }
  return t;
}

}  // namespace gdpo::data
