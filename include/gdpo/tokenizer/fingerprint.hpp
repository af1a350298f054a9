// A stable 64-bit FNV-1a hash for tokenizer fingerprints: the same vocabulary, merges and added
// tokens give the same 16-digit hex string on every machine and build (cache keys depend on it).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace gdpo::tokenizer {

class Fingerprint {
 public:
  // Adds the bytes of `s` preceded by its length (so "ab"+"c" and "a"+"bc" differ).
  Fingerprint& add(std::string_view s);
  // Adds `v` as 8 little-endian bytes.
  Fingerprint& add(uint64_t v);
  // 16 lowercase hex digits.
  std::string hex() const;

 private:
  void add_bytes(const unsigned char* p, size_t n);
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace gdpo::tokenizer
