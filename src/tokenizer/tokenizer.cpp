#include "gdpo/tokenizer/tokenizer.hpp"

#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/tokenizer/byte_tokenizer.hpp"

namespace gdpo::tokenizer {

void Tokenizer::encode_append(std::string_view text, std::vector<int64_t>& out) const {
  std::vector<int64_t> ids = encode(text);
  out.insert(out.end(), ids.begin(), ids.end());
}

TokenizerPtr load_tokenizer(const std::string& path_or_name) {
  if (path_or_name == "bytes") return std::make_shared<ByteTokenizer>();
  GDPO_THROW(InputError, "tokenizer '" << path_or_name << "': BPE loading is not built yet");
}

}  // namespace gdpo::tokenizer
