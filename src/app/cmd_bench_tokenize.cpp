// `gdpo bench tokenize --tokenizer.path PATH [--bench.text FILE] [--bench.mb N]`: single-thread
// encode and decode speed (MB/s of text, tokens/s) on a text file or on N MB of a generated mix of
// English prose and multilingual, emoji, code and whitespace-heavy lines. Numbers are printed only.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "bind.hpp"
#include "command.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::app {
namespace {

using Clock = std::chrono::steady_clock;

// printf to std::cout (which app::run may have pointed elsewhere).
template <class... A>
void print(const char* format, A... args) {
  std::string line(static_cast<size_t>(std::snprintf(nullptr, 0, format, args...)), '\0');
  std::snprintf(line.data(), line.size() + 1, format, args...);
  std::cout << line;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A reproducible mix: ~85% English-like sentences (contractions, numbers, punctuation, a fifth of
// the words rare), the rest multilingual, emoji, code and whitespace-heavy lines.
std::string generated_text(size_t bytes) {
  static const char* words[] = {
      "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
      "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
      "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
      "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "people",
      "government", "opinion", "country", "survey", "question", "answer", "believe", "strongly",
      "agree", "disagree", "somewhat", "important", "religion", "economy", "democracy", "family",
      "children", "future", "education", "freedom", "responsibility", "preference", "distribution",
      "alignment", "language", "model", "group", "beliefs", "Pakistan", "Nigeria", "Germany",
      "United", "States", "Indonesia", "Brazil", "Japan", "Mexico", "unprecedented",
      "misunderstanding", "tokenization", "reconsidered", "electrification", "Zürich", "naïve",
      "café", "résumé"};
  static const char* suffixes[] = {"'s", "'t", "'re", "'ve", "'ll", "'d"};
  // Pseudo-words from syllables: a long tail of rare words, as real text has, so that the piece
  // cache does not make the numbers look better than they are.
  static const char* syllables[] = {"ka", "tor", "ing", "ver", "sh", "ment", "qu", "ex", "lo", "pri",
                                    "zed", "ab", "ous", "tri", "gn", "ell", "y", "oph", "cr", "ist"};
  static const char* others[] = {
      "人工智能正在改变我们的生活方式，尤其是在教育和医疗领域。",
      "日本語のテキストも正しく分割されるべきです。東京は晴れ。",
      "الذكاء الاصطناعي يغير طريقة عيشنا، خاصة في التعليم.",
      "Искусственный интеллект меняет нашу жизнь: образование, медицина.",
      "कृत्रिम बुद्धिमत्ता हमारे जीवन को बदल रही है।",
      "한국어 문장도 잘 처리되어야 합니다. 감사합니다!",
      "Emoji test: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇺🇸 ❤️ 🚀✨",
      "Ελληνικά: Η τεχνητή νοημοσύνη αλλάζει τον κόσμο.",
      "def f(x):\n\treturn {'a': [1, 2, 3], \"b\": x ** 2}  # comment",
      "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}",
      "col1\tcol2\t\tcol3\r\n  1.5\t-2e-3\t\t\t42\r\n",
      "    indented    text   with     runs    of      spaces\n\n\n",
      "Prices: $3.99, €12,50, ¥1,000; 50% off!!! (limited-time) -- call 555-0199."};
  uint64_t state = 0x2545F4914F6CDD1Dull;
  auto next = [&state](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  std::string text;
  text.reserve(bytes + 256);
  while (text.size() < bytes) {
    if (next(100) < 15) {
      text += others[next(sizeof others / sizeof others[0])];
      text += "\n";
      continue;
    }
    size_t n = 8 + next(25);
    for (size_t i = 0; i < n; ++i) {
      std::string w;
      if (next(100) < 20) {
        for (size_t k = 0, m = 2 + next(3); k < m; ++k)
          w += syllables[next(sizeof syllables / sizeof syllables[0])];
      } else {
        w = words[next(sizeof words / sizeof words[0])];
      }
      if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
      text += (i ? " " : "") + w;
      uint64_t r = next(100);
      if (r < 4) text += suffixes[next(6)];
      else if (r < 8) text += " " + std::to_string(next(100000));
      else if (r < 14) text += ",";
    }
    text += next(4) == 0 ? "?\n" : ".\n";
  }
  return text;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    end = end == std::string_view::npos ? text.size() : end + 1;  // keep the newline
    lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}

void report(const char* what, double bytes, size_t tokens, double secs) {
  print("%-28s %8.2f MB/s  %8.3f M tokens/s  (%.2f s)\n", what, bytes / 1e6 / secs,
              tokens / 1e6 / secs, secs);
}

}  // namespace

int cmd_bench_tokenize(const Args& args) {
  std::string path, text_file;
  double mb = 8.0;
  OptionSet options("gdpo bench tokenize", "single-thread encode/decode speed of a tokenizer");
  options.group("tokenizer").required("path", &path, "tokenizer directory, tokenizer.json or 'bytes'");
  options.group("bench")
      .add("text", &text_file, "text file to encode (default: a generated multilingual mix)")
      .add("mb", &mb, "size of the generated text in MB (10^6 bytes)");
  options.validate([&] {
    if (!(mb > 0 && mb <= 4096))
      throw gdpo::UsageError("--bench.mb must be in (0, 4096], got " + std::to_string(mb));
  });
  if (!options.parse(args)) return gdpo::kExitOk;

  auto start = Clock::now();
  const auto tok = gdpo::tokenizer::load_tokenizer(path);
  print("tokenizer: %s, fingerprint %s (loaded in %.3f s)\n", tok->name().c_str(),
              tok->fingerprint().c_str(), seconds_since(start));
  std::string text;
  if (text_file.empty()) {
    text = generated_text(static_cast<size_t>(mb * 1e6));
    print("text: %.2f MB generated (English prose + multilingual, emoji, code lines)\n",
                text.size() / 1e6);
  } else {
    std::ifstream in(text_file, std::ios::binary);
    if (!in) GDPO_THROW(gdpo::UsageError, "--bench.text: cannot read '" << text_file << "'");
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
    print("text: %.2f MB from %s\n", text.size() / 1e6, text_file.c_str());
  }
  const auto lines = split_lines(text);
  const double bytes = static_cast<double>(text.size());

  // Encode line by line into one buffer: first with an empty piece cache, then warm.
  std::vector<int64_t> ids;
  std::vector<size_t> ends;
  ends.reserve(lines.size());
  for (const char* pass : {"encode (cold cache)", "encode (warm cache)"}) {
    ids.clear();
    ends.clear();
    start = Clock::now();
    for (auto line : lines) {
      tok->encode_append(line, ids);
      ends.push_back(ids.size());
    }
    report(pass, bytes, ids.size(), seconds_since(start));
  }
  print("%-28s %zu tokens, %.2f bytes/token, %zu lines\n", "", ids.size(),
              bytes / std::max<size_t>(ids.size(), 1), lines.size());

  // encode() per short text (~100 bytes), as for prompts and beliefs: a fresh vector each call.
  start = Clock::now();
  size_t short_tokens = 0;
  for (size_t pos = 0; pos < text.size(); pos += 100)
    short_tokens += tok->encode(std::string_view(text).substr(pos, 100)).size();
  report("encode() of 100-byte texts", bytes, short_tokens, seconds_since(start));

  // Decode line by line, and check the round trip.
  size_t differing = 0;
  start = Clock::now();
  std::vector<int64_t> line_ids;
  for (size_t i = 0, begin = 0; i < lines.size(); begin = ends[i], ++i) {
    line_ids.assign(ids.begin() + begin, ids.begin() + ends[i]);
    if (tok->decode(line_ids) != lines[i]) ++differing;
  }
  report("decode", bytes, ids.size(), seconds_since(start));
  if (differing == 0)
    print("round trip: byte-exact on all %zu lines\n", lines.size());
  else
    print("round trip: %zu of %zu lines differ (normalization, e.g. NFC)\n", differing,
                lines.size());
  return gdpo::kExitOk;
}

}  // namespace gdpo::app
