// Belief-level metrics of sampled responses, as the authors' evaluate.py (commit 4d6a59e) computes
// them: the sampled belief distribution, majority bias, class-belief consistency, and the reference
// distributions it prints to calibrate the JS scale. Plain std::vector<double> maths.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gdpo/eval/generation_parse.hpp"

namespace gdpo::eval {

// The empirical belief distribution of one question's S samples over k bins:
//   q[b] = #{s : histogram_bin(belief_ids[s], k) == b} / S
// (get_js_distance 200-209: `predict_distribution[op] += 1`, with op > 5 or < 0 counted in bin 0,
// then `p / len(predictions)`). belief_ids are raw ParsedGeneration::belief_id values (-1 for
// unparsable, which lands in bin 0 like their op = 0). Requires k >= 1 and S >= 1 (gdpo::Error
// otherwise; Python divides by zero there).
std::vector<double> sampled_distribution(const std::vector<int64_t>& belief_ids, int64_t k);

// Majority bias: predicted[j*] / p*[j*] with j* the FIRST index of max p*
// (get_js_distance 219-222: `max_index = probabilities.index(max(probabilities))`,
// `predict_distribution_1[max_index] / max_value`). 1 means the majority belief is sampled as often
// as p* says, > 1 over-represented. NaN when max p* is not > 0 (Python raises ZeroDivisionError).
// Requires equal, non-zero sizes (gdpo::Error otherwise).
double majority_bias(const std::vector<double>& predicted, const std::vector<double>& pstar);

// Option text -> belief id, for class-belief consistency. The ids are kept as written (a JSON
// integer in decimal, or a question's id string such as "5" or "A").
class OptionMap {
 public:
  // The authors' global map data/option_map.json (../shared/data/gdpo/option_map.json here): one
  // JSON object, option text -> integer id (373 texts, ids 0-5). A duplicate key keeps its last
  // value (as Python's json.load). Throws gdpo::InputError naming `path` when the file cannot be
  // read, is not valid JSON, is not an object, or holds a value that is not a JSON integer.
  static OptionMap load(const std::string& path);
  // One question's own options and ids (data::Question::options / belief_ids, same length, else
  // gdpo::Error). Empty option texts (reviews) are left out; an option text given two different ids
  // throws gdpo::InputError.
  static OptionMap from_question(const std::vector<std::string>& options,
                                 const std::vector<std::string>& belief_ids);

  // The id of `text` (exact bytes: no trimming, no case folding), or nullptr.
  const std::string* find(const std::string& text) const;
  size_t size() const { return ids_.size(); }

 private:
  std::map<std::string, std::string> ids_;
};

// Class-belief consistency of one sample (get_predictions 77-89):
//     pred = re.search(r"<.*?>", pred).group()[1:-1]      ("" when no match)
//     if pred in option_map and option_map[pred] == op: tmp_acc += 1
// True iff the sample has belief text (has_text), that exact text is in the map, and its id is an
// integer equal to authors_op(parsed) — the digit, or 0 when the first character is not a digit, so
// an unparsable sample whose text maps to 0 (e.g. "Not a moral issue", "DK/Refused") counts as
// consistent, as in theirs. An id that is not a decimal integer (e.g. "A") never matches (Python's
// "A" == 0 is False). Their per-file score is the count over all examples / the number of examples.
bool class_belief_consistent(const ParsedGeneration& parsed, const OptionMap& map);

// The reference distributions the authors print next to the results (prepare_data_and_evaluate
// 395-403), each meant to be compared with p* by JS distance, for one question's p* (K = p*.size()
// >= 1; gdpo::Error otherwise). In this order:
//  "uniform"    1/K each (uniform_distribution: [1/6]*6).
//  "majority"   one-hot at the first argmax of p* (majority_distribution).
//  "reversed"   p* sorted in DESCENDING order, position by position: row[j] = the j-th largest p*
//               (reverse_distribution: order = sorted(range(K), key=p*) ascending, reversed, then
//               [p*[i] for i in reversed order]) — not a mirror of the beliefs; it equals p* when p*
//               is already non-increasing.
//  "noise_0.05" and "noise_0.1" (noise_distribution(noise)): a copy of p*; the FIRST index with
//               value == max p* gets -noise; then the first index of the MODIFIED copy whose value
//               == (the original) min p* gets +noise. No clipping (a max below the noise goes
//               negative) and no renormalisation (the sum is unchanged). Because the
//               +noise search runs on the modified copy: when all p* are equal it goes to the
//               second index; when max - noise == min exactly and no earlier index holds the min,
//               it goes back to the max's index (the row equals p*); with K = 1 it goes nowhere.
std::vector<std::pair<std::string, std::vector<double>>> reference_distributions(
    const std::vector<double>& pstar);

}  // namespace gdpo::eval
