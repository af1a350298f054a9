#include "gdpo/tokenizer/byte_tokenizer.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/core/hash.hpp"

namespace gdpo::tokenizer {

std::vector<int64_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  encode_append(text, ids);
  return ids;
}

void ByteTokenizer::encode_append(std::string_view text, std::vector<int64_t>& out) const {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t special = text.find(kEndOfTextText, pos);
    size_t end = special == std::string_view::npos ? text.size() : special;
    for (; pos < end; ++pos) out.push_back(static_cast<unsigned char>(text[pos]));
    if (special != std::string_view::npos) {
      out.push_back(kEndOfText);
      pos = special + kEndOfTextText.size();
    }
  }
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  text.reserve(ids.size());
  for (int64_t id : ids) {
    if (id >= 0 && id < 256) {
      text.push_back(static_cast<char>(id));
    } else if (id == kEndOfText) {
      text.append(kEndOfTextText);
    } else {
      GDPO_THROW(InputError, "token id " << id << " is out of range for tokenizer " << name()
                                         << " (ids 0.." << kEndOfText << ")");
    }
  }
  return text;
}

std::optional<int64_t> ByteTokenizer::token_to_id(const std::string& token) const {
  if (token.size() == 1) return static_cast<unsigned char>(token[0]);
  if (token == kEndOfTextText) return kEndOfText;
  return std::nullopt;
}

std::string ByteTokenizer::fingerprint() const {
  return Fnv1a().add("gdpo.tokenizer.bytes.v1").add(kEndOfTextText).hex();
}

}  // namespace gdpo::tokenizer
