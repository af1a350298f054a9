#include "gdpo/data/python_literal.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "gdpo/core/error.hpp"

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

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
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

  std::string string() {
    const char q = s_[pos_++];
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
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
      const char e = s_[pos_++];
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
        case 'u': append_utf8(out, hex(4)); break;
        case 'U': {
          const uint32_t cp = hex(8);
          if (cp > 0x10FFFF) fail("\\U escape past U+10FFFF");
          append_utf8(out, cp);
          break;
        }
        default: out += '\\', out += e;  // Python keeps unknown escapes as written
      }
    }
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
