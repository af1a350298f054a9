#include "gdpo/tokenizer/byte_level.hpp"

#include <cstdint>

namespace gdpo::tokenizer {

namespace {

std::string utf8(uint32_t cp) {  // cp < 0x800 here
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// bytes_to_unicode() from GPT-2's encoder.py.
std::array<uint32_t, 256> byte_code_points() {
  std::array<uint32_t, 256> cps{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    cps[b] = printable ? b : next++;
  }
  return cps;
}

}  // namespace

const std::array<std::string, 256>& byte_level_chars() {
  static const std::array<std::string, 256> chars = [] {
    std::array<std::string, 256> c;
    auto cps = byte_code_points();
    for (int b = 0; b < 256; ++b) c[b] = utf8(cps[b]);
    return c;
  }();
  return chars;
}

bool byte_level_to_bytes(std::string_view token, std::string& bytes) {
  // The table's code points are all below U+0144: index the inverse by code point.
  static const std::array<int16_t, 0x200> inverse = [] {
    std::array<int16_t, 0x200> inv;
    inv.fill(-1);
    auto cps = byte_code_points();
    for (int b = 0; b < 256; ++b) inv[cps[b]] = static_cast<int16_t>(b);
    return inv;
  }();
  bytes.clear();
  const auto* s = reinterpret_cast<const unsigned char*>(token.data());
  for (size_t i = 0; i < token.size();) {
    uint32_t cp;
    if (s[i] < 0x80) {
      cp = s[i++];
    } else if ((s[i] & 0xE0) == 0xC0 && i + 1 < token.size() && (s[i + 1] & 0xC0) == 0x80) {
      cp = ((s[i] & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
      i += 2;
    } else {
      return false;
    }
    if (cp >= inverse.size() || inverse[cp] < 0) return false;
    bytes.push_back(static_cast<char>(inverse[cp]));
  }
  return true;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  const auto& chars = byte_level_chars();
  std::string out;
  for (unsigned char b : bytes) out += chars[b];
  return out;
}

}  // namespace gdpo::tokenizer
