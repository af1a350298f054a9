#include "gdpo/data/python_literal.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "gdpo/core/error.hpp"
#include "gdpo/data/text.hpp"

namespace gdpo::data {

namespace {

using json = nlohmann::ordered_json;

class Parser {
 public:
  Parser(std::string_view s, const std::string& file, int64_t line, int64_t column)
      : s_(s), file_(file), line0_(line), col0_(column) {}

  json parse() {
    json v = value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the literal");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    int64_t line = line0_, col = col0_;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') ++line, col = 1;
      else ++col;
    }
    GDPO_THROW(InputError, file_ << ":" << line << ":" << col << ": Python literal: " << what);
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool word(std::string_view w) {
    skip_ws();
    if (s_.substr(pos_, w.size()) != w) return false;
    const size_t end = pos_ + w.size();
    if (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_'))
      return false;
    pos_ = end;
    return true;
  }

  json value(int depth) {
    if (depth > 64) fail("nesting deeper than 64");
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end of text");
    const char c = s_[pos_];
    if (c == '[') return sequence(']', depth);
    if (c == '(') return sequence(')', depth);
    if (c == '{') return dict(depth);
    if (c == '\'' || c == '"') {
      std::string out = string();
      for (skip_ws(); pos_ < s_.size() && (s_[pos_] == '\'' || s_[pos_] == '"'); skip_ws())
        out += string();  // adjacent literals concatenate
      return out;
    }
    if (word("None")) return nullptr;
    if (word("True")) return true;
    if (word("False")) return false;
    if (word("nan")) return std::numeric_limits<double>::quiet_NaN();
    if (word("inf")) return std::numeric_limits<double>::infinity();
    if (word("defaultdict")) {
      expect('(');
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '<') {  // the factory's repr: <class 'list'>
        const size_t close = s_.find('>', pos_);
        if (close == std::string_view::npos) fail("unterminated '<class ...>'");
        pos_ = close + 1;
      } else {
        value(depth + 1);  // a factory written as a name/literal: ignored
      }
      expect(',');
      json d = value(depth + 1);
      if (!d.is_object()) fail("defaultdict(...) holds no dict");
      eat(',');
      expect(')');
      return d;
    }
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) return number();
    fail(std::string("unexpected character '") + c + "'");
  }

  json number() {
    const size_t start = pos_;
    bool negative = false;
    if (s_[pos_] == '+' || s_[pos_] == '-') negative = s_[pos_++] == '-';
    if (word("inf")) return negative ? -std::numeric_limits<double>::infinity()
                                     : std::numeric_limits<double>::infinity();
    if (word("nan")) return std::numeric_limits<double>::quiet_NaN();
    bool is_float = false;
    std::string digits(s_.substr(start, pos_ - start));
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c >= '0' && c <= '9') digits += c;
      else if (c == '_') {}
      else if (c == '.' || c == 'e' || c == 'E') is_float = true, digits += c;
      else if ((c == '+' || c == '-') && !digits.empty() && (digits.back() == 'e' || digits.back() == 'E')) digits += c;
      else break;
      ++pos_;
    }
    const char* b = digits.c_str();
    char* e = nullptr;
    if (!is_float) {
      errno = 0;
      const long long v = std::strtoll(b, &e, 10);
      if (*e == '\0' && errno == 0 && e != b) return static_cast<int64_t>(v);
    }
    const double d = std::strtod(b, &e);
    if (e == b || *e != '\0') {
      pos_ = start;
      fail("malformed number '" + digits + "'");
    }
    return d;
  }

  uint32_t hex(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      if (pos_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_])))
        fail("bad \\x/\\u escape");
      const char c = s_[pos_++];
      v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
  }

  // A \u or \U escape at pos_ (just after the backslash, on the 'u' or 'U'): its code point, pos_
  // moved past it.
  uint32_t unicode_escape() {
    const char kind = s_[pos_++];
    const uint32_t cp = hex(kind == 'u' ? 4 : 8);
    if (cp > 0x10FFFF) fail("\\U escape past U+10FFFF");
    return cp;
  }

  std::string string() {
    const char q = s_[pos_++];
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const size_t at = pos_;
      const char c = s_[pos_++];
      if (c == q) return out;
      if (c == '\n') {
        --pos_;
        fail("newline inside a string");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      const char e = s_[pos_];
      if (e == 'u' || e == 'U') {
        // A UTF-16 surrogate pair written as two escapes (as JSON writes characters past U+FFFF:
        // \ud83d\ude00) is one character, U+1F600. A surrogate without its other half cannot be
        // written as UTF-8: an input error at its escape.
        uint32_t cp = unicode_escape();
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          pos_ = at;
          fail("lone UTF-16 low surrogate " + escape_text(cp) + " (not after a high surrogate)");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          const size_t next = pos_;
          uint32_t low = 0;
          if (next + 1 < s_.size() && s_[next] == '\\' && (s_[next + 1] == 'u' || s_[next + 1] == 'U')) {
            ++pos_;
            low = unicode_escape();
          }
          if (!(low >= 0xDC00 && low <= 0xDFFF)) {
            pos_ = at;
            fail("lone UTF-16 high surrogate " + escape_text(cp) +
                 " (not followed by a low surrogate \\udc00-\\udfff)");
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        continue;
      }
      ++pos_;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '0': out += '\0'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\\': case '\'': case '"': out += e; break;
        case '\n': break;  // line continuation
        case 'x': append_utf8(out, hex(2)); break;
        default: out += '\\', out += e;  // Python keeps unknown escapes as written
      }
    }
  }

  static std::string escape_text(uint32_t cp) {
    static const char* digits = "0123456789abcdef";
    std::string t = "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) t += digits[(cp >> shift) & 0xF];
    return t;
  }

  json sequence(char close, int depth) {
    ++pos_;
    json arr = json::array();
    if (eat(close)) return arr;
    for (;;) {
      arr.push_back(value(depth + 1));
      if (eat(close)) return arr;
      if (!eat(',')) fail(std::string("expected ',' or '") + close + "'");
      if (eat(close)) return arr;  // trailing comma
    }
  }

  json dict(int depth) {
    ++pos_;
    json obj = json::object();
    if (eat('}')) return obj;
    for (;;) {
      json key = value(depth + 1);
      std::string k;
      if (key.is_string()) k = key.get<std::string>();
      else if (key.is_number()) k = key.dump();
      else fail("dict key is neither a string nor a number");
      expect(':');
      obj[k] = value(depth + 1);
      if (eat('}')) return obj;
      if (!eat(',')) fail("expected ',' or '}'");
      if (eat('}')) return obj;
    }
  }

  std::string_view s_;
  const std::string& file_;
  int64_t line0_, col0_;
  size_t pos_ = 0;
};

}  // namespace

nlohmann::ordered_json parse_python_literal(std::string_view text, const std::string& file,
                                            int64_t line, int64_t column) {
  return Parser(text, file, line, column).parse();
}

}  // namespace gdpo::data
