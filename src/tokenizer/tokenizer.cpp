#include "gdpo/tokenizer/tokenizer.hpp"

#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/tokenizer/bpe_files.hpp"
#include "gdpo/tokenizer/bpe_tokenizer.hpp"
#include "gdpo/tokenizer/byte_tokenizer.hpp"

namespace gdpo::tokenizer {

namespace fs = std::filesystem;

void Tokenizer::encode_append(std::string_view text, std::vector<int64_t>& out) const {
  std::vector<int64_t> ids = encode(text);
  out.insert(out.end(), ids.begin(), ids.end());
}

TokenizerPtr load_tokenizer(const std::string& path_or_name) {
  if (path_or_name == "bytes") return std::make_shared<ByteTokenizer>();
  const std::string expected =
      " (expected a directory with tokenizer.json or vocab.json + merges.txt, a tokenizer.json "
      "file, or 'bytes')";
  const fs::path path(path_or_name);
  std::error_code ec;
  if (path_or_name.empty() || !fs::exists(path, ec))
    GDPO_THROW(InputError, "tokenizer '" << path_or_name << "' does not exist" << expected);
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "tokenizer.json", ec))
      return std::make_shared<BpeTokenizer>(read_tokenizer_json((path / "tokenizer.json").string()));
    if (fs::exists(path / "vocab.json", ec) && fs::exists(path / "merges.txt", ec))
      return std::make_shared<BpeTokenizer>(
          read_gpt2_files((path / "vocab.json").string(), (path / "merges.txt").string()));
    GDPO_THROW(InputError, "tokenizer directory '" << path_or_name
                                                   << "' has neither tokenizer.json nor vocab.json "
                                                      "+ merges.txt"
                                                   << expected);
  }
  if (path.filename() == "vocab.json" || path.filename() == "merges.txt") {
    const fs::path dir = path.parent_path();
    return std::make_shared<BpeTokenizer>(
        read_gpt2_files((dir / "vocab.json").string(), (dir / "merges.txt").string()));
  }
  return std::make_shared<BpeTokenizer>(read_tokenizer_json(path_or_name));
}

}  // namespace gdpo::tokenizer
