#include "python_text.hpp"

#include "gdpo/core/utf8.hpp"

namespace gdpo::eval::detail {

size_t code_point_at(std::string_view s, size_t pos, char32_t* value) {
  const size_t len = decode_utf8(s, pos, value);
  if (len > 0) return len;
  *value = 0xFFFD;  // an invalid or truncated sequence: one non-space unit
  return 1;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

int python_decimal_value(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9' ? static_cast<int>(c - '0') : -1;
  // The zero of every run of decimal digits: [c for c in range(0x110000)
  // if chr(c).isdecimal() and unicodedata.decimal(chr(c)) == 0] under Python 3.11.
  static constexpr char32_t kZeros[] = {
      0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,   0xC66,
      0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,  0x1810,
      0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,  0xA8D0,
      0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066, 0x110F0,
      0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950,
      0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC,
      0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0};
  for (char32_t zero : kZeros) {
    if (c >= zero && c < zero + 10) return static_cast<int>(c - zero);
  }
  return -1;
}

std::string_view python_strip(std::string_view s) {
  size_t begin = 0;
  size_t end = 0;  // one past the last non-space code point
  bool seen = false;
  for (size_t pos = 0; pos < s.size();) {
    char32_t c = 0;
    const size_t len = code_point_at(s, pos, &c);
    if (!is_python_space(c)) {
      if (!seen) begin = pos;
      seen = true;
      end = pos + len;
    }
    pos += len;
  }
  return seen ? s.substr(begin, end - begin) : std::string_view();
}

std::vector<std::string> python_split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = std::string_view::npos;  // start of the current field
  for (size_t pos = 0; pos < s.size();) {
    char32_t c = 0;
    const size_t len = code_point_at(s, pos, &c);
    if (is_python_space(c)) {
      if (start != std::string_view::npos) out.emplace_back(s.substr(start, pos - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = pos;
    }
    pos += len;
  }
  if (start != std::string_view::npos) out.emplace_back(s.substr(start));
  return out;
}

}  // namespace gdpo::eval::detail
