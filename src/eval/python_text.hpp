// Python 3 str operations the authors' evaluation relies on, on UTF-8 bytes: what counts as
// whitespace for str.split() / str.strip() (str.isspace()), and indexing by code point (pred[0],
// pred[1:]). Private to the eval module.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace gdpo::eval::detail {

// Length in bytes of the code point starting at s[pos] (1 for an invalid or truncated sequence,
// which is then treated as one non-space unit), and its value (U+FFFD when invalid).
size_t code_point_at(std::string_view s, size_t pos, char32_t* value);

// str.isspace() of one code point: U+0009-000D, U+001C-001F, U+0020, U+0085, U+00A0, U+1680,
// U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000 (the set Python 3 uses for split()/strip()).
bool is_python_space(char32_t c);

// int(c) for one code point c: its value 0-9 when c is a Unicode decimal digit (str.isdecimal(),
// category Nd: ASCII '0'-'9', fullwidth U+FF10-FF19, Arabic-Indic, Devanagari, ...), else -1.
// The table is Python 3.11's (Unicode 14.0): 66 runs of ten digits.
int python_decimal_value(char32_t c);

// s.strip()
std::string_view python_strip(std::string_view s);
// s.split()  (no argument: runs of whitespace separate, no empty fields)
std::vector<std::string> python_split(std::string_view s);

}  // namespace gdpo::eval::detail
