#include "gdpo/tokenizer/unicode_nfc.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "gdpo/core/utf8.hpp"

namespace gdpo::tokenizer {

namespace {

using namespace detail;

constexpr uint32_t kInvalidByte = 0x80000000u;  // | byte: a byte that is not valid UTF-8
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

// Decodes one code point at text[i] (core/utf8.hpp); returns its length, or 0 when the byte at i
// does not start a valid sequence.
size_t decode_utf8(std::string_view text, size_t i, uint32_t& cp) {
  char32_t c = 0;
  const size_t len = gdpo::decode_utf8(text, i, &c);
  cp = static_cast<uint32_t>(c);
  return len;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp & kInvalidByte) {
    out.push_back(static_cast<char>(cp & 0xFF));
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int combining_class(uint32_t cp) {
  if (cp < 0x300 || (cp & kInvalidByte)) return 0;
  const CccEntry* end = kCcc + kCccCount;
  const CccEntry* it =
      std::lower_bound(kCcc, end, cp, [](const CccEntry& e, uint32_t c) { return e.cp < c; });
  return it != end && it->cp == cp ? it->ccc : 0;
}

bool quick_check_not_yes(uint32_t cp) {
  const CodePointRange* end = kNfcQuickCheckNotYes + kNfcQuickCheckNotYesCount;
  const CodePointRange* it = std::lower_bound(
      kNfcQuickCheckNotYes, end, cp, [](const CodePointRange& r, uint32_t c) { return r.last < c; });
  return it != end && it->first <= cp;
}

// Appends the full canonical decomposition of cp.
void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  const DecompositionEntry* end = kDecompositions + kDecompositionCount;
  const DecompositionEntry* it = std::lower_bound(
      kDecompositions, end, cp, [](const DecompositionEntry& e, uint32_t c) { return e.cp < c; });
  if (cp < 0xC0 || it == end || it->cp != cp) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), kDecompositionPool + it->offset,
             kDecompositionPool + it->offset + it->length);
}

// The primary composite of (a, b), or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  static const std::unordered_map<uint64_t, uint32_t> table = [] {
    std::unordered_map<uint64_t, uint32_t> t;
    for (size_t i = 0; i < kCompositionCount; ++i)
      t.emplace((uint64_t{kCompositions[i].first} << 32) | kCompositions[i].second,
                kCompositions[i].composite);
    return t;
  }();
  if ((a | b) & kInvalidByte) return 0;
  auto it = table.find((uint64_t{a} << 32) | b);
  return it == table.end() ? 0 : it->second;
}

}  // namespace

bool nfc_quick_check(std::string_view text) {
  int last_ccc = 0;
  for (size_t i = 0; i < text.size();) {
    unsigned char b = static_cast<unsigned char>(text[i]);
    if (b < 0xCC) {  // ASCII, a continuation byte, or a lead byte of a code point below U+0300
      last_ccc = 0;
      ++i;
      continue;
    }
    uint32_t cp;
    size_t len = decode_utf8(text, i, cp);
    if (len == 0) {
      last_ccc = 0;
      ++i;
      continue;
    }
    i += len;
    if (quick_check_not_yes(cp)) return false;
    int ccc = combining_class(cp);
    if (ccc != 0 && last_ccc > ccc) return false;
    last_ccc = ccc;
  }
  return true;
}

void nfc(std::string_view text, std::string& out) {
  // 1. Full canonical decomposition.
  thread_local std::vector<uint32_t> cps;
  cps.clear();
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    size_t len = decode_utf8(text, i, cp);
    if (len == 0) {
      cps.push_back(kInvalidByte | static_cast<unsigned char>(text[i]));
      ++i;
    } else {
      decompose(cp, cps);
      i += len;
    }
  }
  // 2. Canonical ordering: a stable sort by combining class of each run of non-starters.
  for (size_t i = 0; i < cps.size();) {
    if (combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j, [](uint32_t a, uint32_t b) {
      return combining_class(a) < combining_class(b);
    });
    i = j;
  }
  // 3. Canonical composition (UAX #15): each character joins the last starter unless blocked.
  size_t kept = 0;
  size_t starter = 0;
  bool have_starter = false;
  int last_ccc = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    uint32_t c = cps[i];
    int ccc = combining_class(c);
    if (have_starter && (last_ccc < ccc || (last_ccc == 0 && kept == starter + 1))) {
      if (uint32_t composite = compose(cps[starter], c)) {
        cps[starter] = composite;
        continue;
      }
    }
    if (ccc == 0) {
      starter = kept;
      have_starter = true;
    }
    last_ccc = ccc;
    cps[kept++] = c;
  }
  out.clear();
  for (size_t i = 0; i < kept; ++i) append_utf8(cps[i], out);
}

std::string nfc(std::string_view text) {
  std::string out;
  nfc(text, out);
  return out;
}

}  // namespace gdpo::tokenizer
