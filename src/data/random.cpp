#include "gdpo/data/random.hpp"

#include <cmath>

#include "gdpo/core/error.hpp"

namespace gdpo::data {

uint64_t Rng::mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Rng::uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

int64_t Rng::below(int64_t n) {
  GDPO_CHECK(n >= 1, "Rng::below(" << n << ")");
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;  // reject the biased tail
  uint64_t x;
  do x = gen_();
  while (x >= limit);
  return static_cast<int64_t>(x % un);
}

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double f = std::sqrt(-2.0 * std::log(s) / s);
  spare_ = v * f;
  has_spare_ = true;
  return u * f;
}

double Rng::gamma(double shape) {
  GDPO_CHECK(shape > 0 && std::isfinite(shape), "Rng::gamma: shape " << shape);
  if (shape < 1.0) {  // Gamma(a) = Gamma(a + 1) * U^(1/a)
    double u;
    do u = uniform();
    while (u == 0.0);
    return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

std::vector<double> Rng::dirichlet(int64_t k, double alpha) {
  GDPO_CHECK(k >= 1, "Rng::dirichlet: k " << k);
  std::vector<double> p(k);
  double sum = 0;
  for (auto& x : p) sum += (x = gamma(alpha));
  if (!(sum > 0)) {  // every draw underflowed (tiny alpha): the limit is a one-hot vector
    std::fill(p.begin(), p.end(), 0.0);
    p[below(k)] = 1.0;
    return p;
  }
  for (auto& x : p) x /= sum;
  return p;
}

int64_t Rng::categorical(const std::vector<double>& probs) {
  double total = 0;
  for (double p : probs) total += p;
  GDPO_CHECK(total > 0, "Rng::categorical: weights sum to " << total);
  const double u = uniform() * total;
  double acc = 0;
  int64_t last = -1;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0) continue;
    acc += probs[i];
    last = static_cast<int64_t>(i);
    if (u < acc) return last;
  }
  return last;  // rounding at the top end
}

}  // namespace gdpo::data
