// Unicode NFC normalization (canonical decomposition, canonical ordering, canonical composition), as
// the GPT-NeoX tokenizer.json's "NFC" normalizer asks. Bytes that are not valid UTF-8 pass through
// unchanged and block composition across them. Tables: unicode_nfc_data.cpp (generated).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gdpo::tokenizer {

// True when `text` is certainly already in NFC (the NFC quick check; ASCII-only text is). A false
// answer means "maybe not": call nfc() to be sure.
bool nfc_quick_check(std::string_view text);

// Replaces `out` with the NFC form of `text`.
void nfc(std::string_view text, std::string& out);
std::string nfc(std::string_view text);

namespace detail {
struct CccEntry {
  uint32_t cp;
  uint8_t ccc;
};
struct DecompositionEntry {
  uint32_t cp;
  uint16_t offset;  // into kDecompositionPool
  uint8_t length;
};
struct CompositionEntry {
  uint32_t first, second, composite;
};
struct CodePointRange {
  uint32_t first, last;
};
extern const char kUnicodeVersion[];
extern const CccEntry kCcc[];  // sorted by cp; code points absent have class 0
extern const size_t kCccCount;
extern const DecompositionEntry kDecompositions[];  // full canonical decompositions (no Hangul)
extern const size_t kDecompositionCount;
extern const uint32_t kDecompositionPool[];
extern const CompositionEntry kCompositions[];  // primary composites (no Hangul)
extern const size_t kCompositionCount;
extern const CodePointRange kNfcQuickCheckNotYes[];  // NFC_QC = No or Maybe, sorted
extern const size_t kNfcQuickCheckNotYesCount;
}  // namespace detail

}  // namespace gdpo::tokenizer
