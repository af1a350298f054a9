// Small text helpers shared by the data readers and builders: UTF-8 validation (readers report the
// first bad byte), whitespace trimming, the UTF-8 byte-order mark that spreadsheet programs write at
// the start of a file, and the nesting depth of a JSON line (bounded before parsing it).
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

namespace gdpo::data {

// Byte offset of the first invalid UTF-8 sequence in `s`, or std::string_view::npos when valid.
size_t find_invalid_utf8(std::string_view s);

std::string_view trim(std::string_view s);

// Appends code point `cp` (< 0x110000) to `out` as UTF-8.
void append_utf8(std::string& out, char32_t cp);

// Consumes a UTF-8 byte-order mark (EF BB BF) at the current position of `in`; true when there was
// one. Anything else is left unread (`in` must be seekable when it starts with EF: files and string
// streams are).
bool skip_utf8_bom(std::istream& in);

// The first character of `in` that is not a space, tab or line break (EOF if none), for telling a
// file's format from its first byte. A leading UTF-8 byte-order mark is not a character: it is
// skipped, and `in` is left just after it (else at its start), its state cleared.
int first_non_blank(std::istream& in);

// The deepest nesting of [ and { in the JSON text `s` (brackets inside strings do not count). The
// readers refuse lines deeper than kMaxJsonDepth before parsing them: the published schema nests 3
// deep, and copying or printing a deeper value recurses once per level.
constexpr int64_t kMaxJsonDepth = 64;
int64_t json_nesting_depth(std::string_view s);

}  // namespace gdpo::data
