// FNV-1a, 64-bit: the one stable hash behind cache keys, checksums and fingerprints (tokenizers,
// weights, tokenized data). The same input gives the same value on every machine and build.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace gdpo {

// An incremental FNV-1a 64 hash: add pieces, then read value() or hex().
class Fnv1a {
 public:
  static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ull;  // 14695981039346656037
  static constexpr uint64_t kPrime = 0x100000001b3ull;             // 1099511628211

  // `seed` continues a previous hash (its value()).
  explicit Fnv1a(uint64_t seed = kOffsetBasis) : h_(seed) {}

  // The bytes as they are.
  Fnv1a& add_bytes(const void* data, size_t n);
  // The length (as below), then the bytes: "ab" + "c" and "a" + "bc" differ.
  Fnv1a& add(std::string_view s);
  // 8 little-endian bytes.
  Fnv1a& add(uint64_t v);
  // The element count (as above), then the elements' bytes in memory (native byte order).
  template <class T>
  Fnv1a& add(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>, "Fnv1a::add(vector<T>) hashes T's bytes");
    add(static_cast<uint64_t>(v.size()));
    return add_bytes(v.data(), v.size() * sizeof(T));
  }

  uint64_t value() const { return h_; }
  std::string hex() const;  // 16 lowercase hex digits

 private:
  uint64_t h_;
};

// FNV-1a 64 of `bytes` (no length prefix); `seed` continues a previous hash.
uint64_t fnv1a64(std::string_view bytes, uint64_t seed = Fnv1a::kOffsetBasis);
// 16 lowercase hex digits.
std::string hex64(uint64_t v);

}  // namespace gdpo
