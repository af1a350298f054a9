#include "gdpo/core/hash.hpp"

#include <cstdio>

namespace gdpo {

Fnv1a& Fnv1a::add_bytes(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h_ ^= p[i];
    h_ *= kPrime;
  }
  return *this;
}

Fnv1a& Fnv1a::add(uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  return add_bytes(b, 8);
}

Fnv1a& Fnv1a::add(std::string_view s) {
  add(static_cast<uint64_t>(s.size()));
  return add_bytes(s.data(), s.size());
}

std::string Fnv1a::hex() const { return hex64(h_); }

uint64_t fnv1a64(std::string_view bytes, uint64_t seed) {
  return Fnv1a(seed).add_bytes(bytes.data(), bytes.size()).value();
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace gdpo
