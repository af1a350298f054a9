#include "gdpo/eval/belief_metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>

#include "gdpo/core/error.hpp"

namespace gdpo::eval {
namespace {

// The first index of the maximum (Python's list.index(max(list))).
size_t first_argmax(const std::vector<double>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// The noise row of noise_distribution (evaluate.py 266-286), on a copy of p*.
std::vector<double> noise_row(const std::vector<double>& pstar, double noise) {
  std::vector<double> probs = pstar;
  const double max_prob = *std::max_element(pstar.begin(), pstar.end());
  const double min_prob = *std::min_element(pstar.begin(), pstar.end());
  for (double& p : probs) {
    if (p == max_prob) {
      p -= noise;
      break;
    }
  }
  for (double& p : probs) {
    if (p == min_prob) {
      p += noise;
      break;
    }
  }
  return probs;
}

}  // namespace

std::vector<double> sampled_distribution(const std::vector<int64_t>& belief_ids, int64_t k) {
  GDPO_CHECK(k >= 1, "sampled_distribution needs k >= 1, got " << k);
  GDPO_CHECK(!belief_ids.empty(), "sampled_distribution needs at least one sample");
  std::vector<double> counts(static_cast<size_t>(k), 0.0);
  for (int64_t id : belief_ids) counts[static_cast<size_t>(histogram_bin(id, k))] += 1;
  const double n = static_cast<double>(belief_ids.size());
  for (double& c : counts) c /= n;
  return counts;
}

double majority_bias(const std::vector<double>& predicted, const std::vector<double>& pstar) {
  GDPO_CHECK(!pstar.empty() && predicted.size() == pstar.size(),
             "majority_bias needs equal, non-zero sizes, got " << predicted.size() << " and "
                                                               << pstar.size());
  const size_t j = first_argmax(pstar);
  if (!(pstar[j] > 0)) return std::numeric_limits<double>::quiet_NaN();
  return predicted[j] / pstar[j];
}

OptionMap OptionMap::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) GDPO_THROW(InputError, path << ": cannot open the option map");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    GDPO_THROW(InputError, path << ": the option map is not valid JSON: " << e.what());
  }
  if (!doc.is_object()) {
    GDPO_THROW(InputError, path << ": the option map must be a JSON object (option text -> "
                                   "integer id), got a " << doc.type_name());
  }
  OptionMap map;
  for (const auto& [text, id] : doc.items()) {
    if (!id.is_number_integer()) {
      GDPO_THROW(InputError, path << ": the id of option \"" << text
                                  << "\" must be a JSON integer, got " << id.dump());
    }
    map.ids_[text] = id.dump();
  }
  return map;
}

OptionMap OptionMap::from_question(const std::vector<std::string>& options,
                                   const std::vector<std::string>& belief_ids) {
  GDPO_CHECK(options.size() == belief_ids.size(), "OptionMap::from_question: "
                                                      << options.size() << " options but "
                                                      << belief_ids.size() << " belief ids");
  OptionMap map;
  for (size_t i = 0; i < options.size(); ++i) {
    if (options[i].empty()) continue;
    const auto [it, inserted] = map.ids_.emplace(options[i], belief_ids[i]);
    if (!inserted && it->second != belief_ids[i]) {
      GDPO_THROW(InputError, "option \"" << options[i] << "\" has two belief ids, '" << it->second
                                         << "' and '" << belief_ids[i] << "'");
    }
  }
  return map;
}

const std::string* OptionMap::find(const std::string& text) const {
  const auto it = ids_.find(text);
  return it == ids_.end() ? nullptr : &it->second;
}

bool class_belief_consistent(const ParsedGeneration& parsed, const OptionMap& map) {
  if (!parsed.has_text) return false;
  const std::string* id = map.find(parsed.belief_text);
  if (id == nullptr) return false;
  int64_t value = 0;
  const char* end = id->data() + id->size();
  const auto [ptr, ec] = std::from_chars(id->data(), end, value);
  return ec == std::errc() && ptr == end && !id->empty() && value == authors_op(parsed);
}

std::vector<std::pair<std::string, std::vector<double>>> reference_distributions(
    const std::vector<double>& pstar) {
  GDPO_CHECK(!pstar.empty(), "reference_distributions needs a non-empty p*");
  const size_t k = pstar.size();
  std::vector<std::pair<std::string, std::vector<double>>> rows;
  rows.emplace_back("uniform", std::vector<double>(k, 1.0 / static_cast<double>(k)));
  std::vector<double> majority(k, 0.0);
  majority[first_argmax(pstar)] = 1.0;
  rows.emplace_back("majority", std::move(majority));
  std::vector<double> sorted = pstar;
  std::sort(sorted.begin(), sorted.end(), [](double a, double b) { return a > b; });
  rows.emplace_back("reversed", std::move(sorted));
  rows.emplace_back("noise_0.05", noise_row(pstar, 0.05));
  rows.emplace_back("noise_0.1", noise_row(pstar, 0.1));
  return rows;
}

}  // namespace gdpo::eval
