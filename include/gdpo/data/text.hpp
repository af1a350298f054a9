// Small text helpers shared by the data readers and builders: UTF-8 validation (readers report the
// first bad byte) and whitespace trimming.
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

namespace gdpo::data {

// Byte offset of the first invalid UTF-8 sequence in `s`, or std::string_view::npos when valid.
size_t find_invalid_utf8(std::string_view s);

std::string_view trim(std::string_view s);

// The first character of `in` that is not a space, tab or line break (EOF if none), for telling a
// file's format from its first byte; `in` is rewound to its start (and its state cleared).
int first_non_blank(std::istream& in);

}  // namespace gdpo::data
