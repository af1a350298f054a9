// A portable seeded random source for data building, splitting and shuffling: std::mt19937_64 with
// our own distributions (std:: distributions differ across standard libraries), so that a seed gives
// the same data, splits and batch order on every platform.
#pragma once
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace gdpo::data {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // A seed derived from two numbers (e.g. (seed, epoch)), well mixed (splitmix64).
  static uint64_t mix(uint64_t a, uint64_t b);

  uint64_t next() { return gen_(); }
  double uniform();                  // [0, 1), 53 random bits
  int64_t below(int64_t n);          // uniform in [0, n), unbiased; n >= 1
  double normal();                   // standard normal (Marsaglia polar method)
  double gamma(double shape);        // Gamma(shape, 1), shape > 0 (Marsaglia-Tsang)
  std::vector<double> dirichlet(int64_t k, double alpha);  // symmetric Dirichlet(alpha)
  int64_t categorical(const std::vector<double>& probs);   // index drawn with the given weights

  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i)
      std::swap(v[i], v[below(i + 1)]);
  }

 private:
  std::mt19937_64 gen_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace gdpo::data
