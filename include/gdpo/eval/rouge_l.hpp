// ROUGE-L exactly as the PyPI package `rouge` 1.0.1 (github.com/pltrdy/rouge, tag 1.0.1) computes
// `Rouge().get_scores(hyp, ref)[0]["rouge-l"]`, which the authors' evaluate.py reports as "Rouge-L";
// plus the authors' rule for responses with nothing to score.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace gdpo::eval {

// What pltrdy's rouge 1.0.1 does (read from rouge/rouge.py `Rouge._get_scores` and
// rouge/rouge_score.py `rouge_l_summary_level`, `_union_lcs`, `_recon_lcs`, `_lcs`; default
// Rouge(): exclusive=True):
//  1. Sentences: `[" ".join(s.split()) for s in text.split(".") if len(s) > 0]` — split on '.' only
//     (not '!' or '?'), pieces that are empty BEFORE the whitespace collapse are dropped, so a
//     whitespace-only piece ("a. . b", or "a. " at the end) stays as an empty sentence "".
//     s.split() is Python's: any Unicode whitespace (U+00A0, U+3000, ... too).
//  2. Words of a sentence: `sentence.split(" ")`, so the empty sentence is the one word "". Words
//     compare exactly: no lowercasing, no stemming, punctuation other than '.' stays on the word.
//  3. m = number of DISTINCT words in the reference, n = DISTINCT words in the hypothesis (sets,
//     because exclusive=True; "" counts as a word where an empty sentence exists).
//  4. LCS_union: for every reference sentence r_i and every hypothesis sentence c_j, the one LCS of
//     (words(r_i), words(c_j)) reconstructed by `_recon_lcs` (from the end: equal words are taken;
//     else step up in r when table[i-1][j] > table[i][j-1], otherwise step left in c), as a set of
//     word strings; llcs = size of the union of all those sets over all i, j (the union is carried
//     across reference sentences, so a word counts once in the whole summary).
//  5. R = llcs / m,  P = llcs / n,  F = 2 * ((P * R) / (P + R + 1e-8))   (in this order of ops; so
//     identical texts give F = 0.99999999..., not 1, and llcs = 0 gives exactly 0).
// pltrdy raises ValueError("Collections must contain at least 1 sentence.") when either side has no
// sentence, i.e. is empty or only '.' characters (" " is one empty sentence, not an error).
// Its `_recon` recursion also hits Python's recursion limit (RecursionError) when a reference
// sentence plus a hypothesis sentence exceed about 990 words; this implementation has no such limit.
struct RougeLScore {
  double f = 0;
  double p = 0;
  double r = 0;
  int64_t hyp_words = 0;  // n
  int64_t ref_words = 0;  // m
  int64_t lcs_words = 0;  // llcs
};

// pltrdy's rouge-l scores of `hypothesis` against `reference`; std::nullopt exactly where pltrdy
// raises ValueError (either side has no sentence, see above).
std::optional<RougeLScore> rouge_l(const std::string& hypothesis, const std::string& reference);

// pltrdy's rouge-l "f". Throws gdpo::InputError where pltrdy raises ValueError (the message names
// the side without a sentence); callers that want a score there apply a rule such as
// authors_rouge_l_f's.
double rouge_l_f(const std::string& hypothesis, const std::string& reference);

// The authors' per-example ROUGE-L (evaluate.py get_rouge 176-188):
//     if label != "":
//         if resp.replace(".","").strip() == "": rouge_list.append(0); continue
//         rouge_list.append(r.get_scores(resp, label)[0]["rouge-l"]["f"])
//     else: rouge_list.append(0)
// i.e. 0 when the reference is "" (their "no answer for this option"), 0 when the response is empty
// after removing every '.' and stripping Python whitespace, else rouge_l_f. A non-empty reference
// made only of '.' still throws gdpo::InputError (pltrdy's ValueError stops their script there too).
// `response` is ParsedGeneration::response; the caller also follows their skip rule (authors_op > 5
// is left out of the mean, not scored 0).
double authors_rouge_l_f(const std::string& response, const std::string& reference);

}  // namespace gdpo::eval
