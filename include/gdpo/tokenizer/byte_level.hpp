// GPT-2's byte-to-unicode table: byte-level BPE vocabularies spell each byte as one printable
// character (printable Latin-1 bytes as themselves, the others as U+0100 + n; a space is "Ġ").
#pragma once
#include <array>
#include <string>
#include <string_view>

namespace gdpo::tokenizer {

// The UTF-8 text of the character that stands for each byte.
const std::array<std::string, 256>& byte_level_chars();

// The bytes a vocabulary token spells ("Ġthe" -> " the"). False when `token` holds a character
// outside the table (then `bytes` is unspecified).
bool byte_level_to_bytes(std::string_view token, std::string& bytes);

// The vocabulary spelling of raw bytes (" the" -> "Ġthe").
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace gdpo::tokenizer
