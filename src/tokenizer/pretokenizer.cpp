#define PCRE2_CODE_UNIT_WIDTH 8
#include "gdpo/tokenizer/pretokenizer.hpp"

#include <pcre2.h>

#include <string>

#include "gdpo/core/error.hpp"

namespace gdpo::tokenizer {

namespace {

// Unicode's White_Space property, which is what \s means to the reference implementations (the
// `regex` package of OpenAI's encoder.py, tiktoken, Hugging Face's Oniguruma). PCRE2's \s with UCP is
// \p{Z} plus \h and \v, and its \h still holds U+180E MONGOLIAN VOWEL SEPARATOR (White_Space until
// Unicode 6.3, a format character since): so the pattern spells the class out instead of \s / \S.
#define GDPO_WHITE_SPACE                                                                    \
  "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}" \
  "\\x{205F}\\x{3000}"

// GPT-2's 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ with \s as
// [White_Space] and \S as [^White_Space]. \p{L} and \p{N} are the same general categories as the
// reference's; only letters and digits encoded after the Unicode version of PCRE2's tables
// (Unicode 14 in PCRE2 10.39..10.42) are not letters or digits here (they are Cn to PCRE2), which
// is why that version is part of rules() and so of tokenizer fingerprints.
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" GDPO_WHITE_SPACE "\\p{L}\\p{N}]+"
    "|[" GDPO_WHITE_SPACE "]+(?![^" GDPO_WHITE_SPACE "])|[" GDPO_WHITE_SPACE "]+";
#undef GDPO_WHITE_SPACE

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// Per-thread PCRE2 match state (match data, and a JIT stack larger than the 32 KiB default).
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  MatchState() {
    GDPO_CHECK(data && context && stack, "PCRE2: out of memory creating match data");
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

}  // namespace

void Gpt2PreTokenizer::CodeFree::operator()(pcre2_real_code_8* code) const {
  pcre2_code_free(code);
}

Gpt2PreTokenizer::Gpt2PreTokenizer() {
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kGpt2Pattern), PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset,
                            nullptr));
  GDPO_CHECK(code_, "PCRE2 cannot compile the GPT-2 pattern at offset " << offset << ": "
                                                                         << pcre2_message(error));
  int rc = pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);
  GDPO_CHECK(rc == 0, "PCRE2 JIT compilation failed: " << pcre2_message(rc));
}

Gpt2PreTokenizer::~Gpt2PreTokenizer() = default;

const char* Gpt2PreTokenizer::pattern() { return kGpt2Pattern; }

std::string Gpt2PreTokenizer::rules() {
  char version[64] = {};  // e.g. "14.0.0"
  int rc = pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, version);
  GDPO_CHECK(rc > 0, "PCRE2 does not report its Unicode version: " << pcre2_message(rc));
  return std::string(kGpt2Pattern) + " (PCRE2 Unicode " + version + ")";
}

bool Gpt2PreTokenizer::next(std::string_view text, size_t& pos, std::string_view& piece) const {
  if (pos >= text.size()) return false;
  thread_local MatchState state;
  int rc = pcre2_jit_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                           pos, 0, state.data, state.context);
  size_t start = text.size(), end = text.size();
  if (rc > 0) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
    start = ov[0];
    end = ov[1];
  } else {
    GDPO_CHECK(rc == PCRE2_ERROR_NOMATCH, "PCRE2 match failed: " << pcre2_message(rc));
  }
  if (start > pos) {  // a run of invalid UTF-8 before the match (or up to the end)
    end = start;
    start = pos;
  }
  GDPO_CHECK(end > start, "PCRE2 matched an empty piece at byte " << pos);
  piece = text.substr(start, end - start);
  pos = end;
  return true;
}

}  // namespace gdpo::tokenizer
