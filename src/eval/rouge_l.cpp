// Transcribes pltrdy/rouge 1.0.1 (rouge/rouge.py, rouge/rouge_score.py); see rouge_l.hpp.
#include "gdpo/eval/rouge_l.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "gdpo/core/error.hpp"
#include "python_text.hpp"

namespace gdpo::eval {
namespace {

using Words = std::vector<std::string>;

// rouge.py _get_scores: [" ".join(_.split()) for _ in text.split(".") if len(_) > 0], each
// sentence then split with .split(" ") (rouge_score._split_into_words).
std::vector<Words> sentences(const std::string& text) {
  std::vector<Words> out;
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const size_t end = dot == std::string::npos ? text.size() : dot;
    if (end > start) {
      Words words = detail::python_split(std::string_view(text).substr(start, end - start));
      if (words.empty()) words.emplace_back();  // "".split(" ") == [""]
      out.push_back(std::move(words));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

// len(Ngrams(_split_into_words(sentences), exclusive=True)): distinct words.
int64_t distinct_words(const std::vector<Words>& sents) {
  std::unordered_set<std::string> set;
  for (const auto& s : sents) set.insert(s.begin(), s.end());
  return static_cast<int64_t>(set.size());
}

// rouge_score._recon_lcs(x, y): the words of the LCS that _recon walks back, added to `out`.
void add_recon_lcs(const Words& x, const Words& y, std::unordered_set<std::string>* out) {
  const size_t n = x.size();
  const size_t m = y.size();
  // _lcs: table[i][j] = LCS length of x[:i], y[:j].
  std::vector<int64_t> table((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> int64_t& { return table[i * (m + 1) + j]; };
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      at(i, j) = x[i - 1] == y[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  // _recon(i, j), iteratively (the order of the collected words does not matter for a set).
  size_t i = n;
  size_t j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      out->insert(x[i - 1]);
      --i, --j;
    } else if (at(i - 1, j) > at(i, j - 1)) {
      --i;
    } else {
      --j;
    }
  }
}

}  // namespace

std::optional<RougeLScore> rouge_l(const std::string& hypothesis, const std::string& reference) {
  const std::vector<Words> hyp = sentences(hypothesis);
  const std::vector<Words> ref = sentences(reference);
  if (hyp.empty() || ref.empty()) return std::nullopt;
  RougeLScore s;
  s.ref_words = distinct_words(ref);
  s.hyp_words = distinct_words(hyp);
  // rouge_l_summary_level: the union is carried across reference sentences, so the sum of the
  // per-sentence increments is the size of the final union.
  std::unordered_set<std::string> lcs_union;
  for (const Words& r : ref) {
    for (const Words& c : hyp) add_recon_lcs(r, c, &lcs_union);
  }
  s.lcs_words = static_cast<int64_t>(lcs_union.size());
  const double llcs = static_cast<double>(s.lcs_words);
  s.r = llcs / static_cast<double>(s.ref_words);
  s.p = llcs / static_cast<double>(s.hyp_words);
  s.f = 2.0 * ((s.p * s.r) / (s.p + s.r + 1e-8));
  return s;
}

double rouge_l_f(const std::string& hypothesis, const std::string& reference) {
  const std::optional<RougeLScore> s = rouge_l(hypothesis, reference);
  if (!s) {
    const bool hyp_empty = sentences(hypothesis).empty();
    GDPO_THROW(InputError, "ROUGE-L is undefined: the "
                               << (hyp_empty ? "hypothesis" : "reference") << " \""
                               << (hyp_empty ? hypothesis : reference)
                               << "\" has no sentence (it is empty or only '.'; pltrdy rouge "
                                  "raises ValueError there)");
  }
  return s->f;
}

double authors_rouge_l_f(const std::string& response, const std::string& reference) {
  if (reference.empty()) return 0.0;
  std::string no_dots;
  no_dots.reserve(response.size());
  for (char c : response) {
    if (c != '.') no_dots += c;
  }
  if (detail::python_strip(no_dots).empty()) return 0.0;
  return rouge_l_f(response, reference);
}

}  // namespace gdpo::eval
