// Small text helpers shared by the data readers and builders: UTF-8 validation (readers report the
// first bad byte), whitespace trimming and a stable 64-bit hash for cache fingerprints.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace gdpo::data {

// Byte offset of the first invalid UTF-8 sequence in `s`, or std::string_view::npos when valid.
size_t find_invalid_utf8(std::string_view s);

std::string_view trim(std::string_view s);

// FNV-1a 64-bit; `h` continues a previous hash.
uint64_t fnv1a64(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL);
std::string hex64(uint64_t v);  // 16 lowercase hex digits

}  // namespace gdpo::data
