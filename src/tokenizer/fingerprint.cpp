#include "gdpo/tokenizer/fingerprint.hpp"

#include <cstdio>

namespace gdpo::tokenizer {

void Fingerprint::add_bytes(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h_ ^= p[i];
    h_ *= 0x100000001b3ull;
  }
}

Fingerprint& Fingerprint::add(uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  add_bytes(b, 8);
  return *this;
}

Fingerprint& Fingerprint::add(std::string_view s) {
  add(static_cast<uint64_t>(s.size()));
  add_bytes(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return *this;
}

std::string Fingerprint::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

}  // namespace gdpo::tokenizer
