// UTF-8 for the tokenizers and the evaluation: decoding one code point strictly, and making bytes
// valid UTF-8 the way Python's bytes.decode("utf-8", errors="replace") does (what Hugging Face's
// tokenizer.decode returns for byte-level tokens that split a character): every maximal ill-formed
// subpart becomes one U+FFFD (Unicode 15, section 3.9), valid sequences are kept byte for byte.
#pragma once
#include <string>
#include <string_view>

namespace gdpo {

// Decodes the code point starting at text[i] (strict: no overlongs, surrogates or values past
// U+10FFFF, no truncated sequence) into *cp; returns its length in bytes, or 0 when text[i] does not
// start a valid sequence. Requires i < text.size().
size_t decode_utf8(std::string_view text, size_t i, char32_t* cp);

// `bytes` with each maximal ill-formed subpart replaced by U+FFFD (EF BF BD). Examples:
//   "a\xF0\x9F\x98" -> "a\uFFFD" (a truncated 4-byte sequence is one subpart);
//   "\xC0\xAF" -> "\uFFFD\uFFFD" (C0 can never start a sequence); "\xED\xA0\x80" (a surrogate)
//   -> three U+FFFD, since ED may only be followed by 80..9F.
std::string replace_invalid_utf8(std::string_view bytes);

// `text` cut to at most max_bytes (at a character boundary), "..." marking a cut: a token or a line
// of a malformed file in an error message can be megabytes long.
std::string shorten_utf8(std::string_view text, size_t max_bytes = 80);

// shorten_utf8(text, 80) in single quotes, for error messages: "'abc'", "'<80 bytes>...'".
std::string in_quotes(std::string_view text);

}  // namespace gdpo
