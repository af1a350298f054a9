// `gdpo data cache`: tokenizes data files into the token cache (--data.cache-dir), so that the
// ranks of a later `gdpo train` read it instead of tokenizing.
#include <algorithm>
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/data_config.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::app {

int cmd_data_cache(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data cache", "tokenize data files into the token cache (--data.cache-dir)");
  DataConfig d;
  std::string tokenizer_path = "bytes";
  bind_data(set, d, /*loss=*/nullptr);
  bind_tokenizer(set, tokenizer_path);
  set.positional("data.train", -1);
  if (!set.parse(args)) return 0;
  const auto tok = tokenizer::load_tokenizer(tokenizer_path);
  const LoadedData data = load_data(d, *tok, &std::cout);
  for (const auto* part : {&data.train, &data.eval}) {
    if (part->pairs() == 0) continue;
    int64_t longest = 0, total = 0;
    for (int32_t n : part->row_length) longest = std::max<int64_t>(longest, n), total += n;
    std::cout << (part == &data.train ? "train" : "eval") << ": " << part->pairs() << " pairs, "
              << part->questions() << " questions, " << total << " tokens, longest row " << longest
              << "\n";
  }
  return 0;
}

}  // namespace gdpo::app
