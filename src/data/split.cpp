#include "gdpo/data/split.hpp"

#include <cmath>
#include <numeric>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/data/random.hpp"

namespace gdpo::data {

const char* split_name(int split) {
  static const char* names[] = {"train", "eval", "test"};
  GDPO_CHECK(split >= 0 && split < 3, "split " << split);
  return names[split];
}

std::array<double, 3> parse_split_ratios(const std::string& text, const std::string& option) {
  std::array<double, 3> r{0, 0, 0};
  std::stringstream ss(text);
  std::string item;
  int n = 0;
  while (std::getline(ss, item, ',')) {
    if (n == 3) GDPO_THROW(UsageError, option << ": more than three ratios in '" << text << "'");
    char* end = nullptr;
    r[n] = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(r[n] >= 0) || !std::isfinite(r[n]))
      GDPO_THROW(UsageError, option << ": '" << item << "' is not a ratio >= 0");
    ++n;
  }
  if (n < 2) GDPO_THROW(UsageError, option << ": give 2 or 3 comma-separated ratios (train,eval[,test])");
  if (std::fabs(r[0] + r[1] + r[2] - 1) > 1e-6)
    GDPO_THROW(UsageError, option << ": the ratios '" << text << "' do not sum to 1");
  return r;
}

std::vector<int> assign_splits(int64_t questions, const std::array<double, 3>& ratios,
                               uint64_t seed, const std::string& source) {
  std::array<int64_t, 3> count{};
  std::array<double, 3> rem{};
  int64_t given = 0;
  for (int s = 0; s < 3; ++s) {
    const double exact = ratios[s] * static_cast<double>(questions);
    count[s] = static_cast<int64_t>(std::floor(exact));
    rem[s] = exact - static_cast<double>(count[s]);
    given += count[s];
  }
  while (given < questions) {  // largest remainder first; ties go to the earlier split
    int best = 0;
    for (int s = 1; s < 3; ++s)
      if (rem[s] > rem[best]) best = s;
    ++count[best];
    rem[best] = -1;
    ++given;
  }
  for (int s = 0; s < 3; ++s)
    if (ratios[s] > 0 && count[s] == 0)
      GDPO_THROW(InputError, source << ": the " << split_name(s) << " split is empty (" << questions
                                    << " questions, ratio " << ratios[s] << ")");
  std::vector<int64_t> order(questions);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(Rng::mix(seed, 0x5b117));
  rng.shuffle(order);
  std::vector<int> split(questions);
  int64_t i = 0;
  for (int s = 0; s < 3; ++s)
    for (int64_t n = 0; n < count[s]; ++n) split[order[i++]] = s;
  return split;
}

std::array<Dataset, 3> split_dataset(const Dataset& data, const std::array<double, 3>& ratios,
                                     uint64_t seed) {
  const auto split =
      assign_splits(static_cast<int64_t>(data.questions.size()), ratios, seed, data.source);
  std::array<std::vector<int64_t>, 3> members;
  for (size_t q = 0; q < split.size(); ++q) members[split[q]].push_back(static_cast<int64_t>(q));
  std::array<Dataset, 3> out;
  for (int s = 0; s < 3; ++s) out[s] = data.subset(members[s]);
  out[0].skipped = data.skipped;
  return out;
}

}  // namespace gdpo::data
