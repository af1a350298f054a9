// `gdpo bench data`: builds synthetic pairs and tokenizes them, printing pairs/s for each stage.
#include <chrono>
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "gdpo/data/synthetic.hpp"
#include "gdpo/data/tokenized.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::app {

int cmd_bench_data(const Args& args) {
  using namespace data;
  OptionSet set("gdpo bench data", "build and tokenize synthetic preference pairs");
  int64_t pairs = 200000;
  std::string tokenizer_path = "bytes";
  set.group("bench").add("pairs", &pairs, "pairs to build (10 per question)");
  bind_tokenizer(set, tokenizer_path);
  if (!set.parse(args)) return 0;
  if (pairs < 1) throw UsageError("--bench.pairs must be >= 1");
  SyntheticConfig c;
  c.pairs_per_question = 10;
  c.questions = std::max<int64_t>(1, pairs / c.pairs_per_question);
  c.beliefs = 5;
  const auto tok = tokenizer::load_tokenizer(tokenizer_path);
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  const Dataset data = make_synthetic(c);
  auto t1 = clock::now();
  TokenizeOptions o;
  const TokenizedPairs tp = tokenize_pairs(data, *tok, o);
  auto t2 = clock::now();
  const double build_s = std::chrono::duration<double>(t1 - t0).count();
  const double tok_s = std::chrono::duration<double>(t2 - t1).count();
  std::cout << "bench data: " << data.pairs.size() << " synthetic pairs (" << data.questions.size()
            << " questions, K=" << c.beliefs << "), tokenizer " << tok->name() << "\n"
            << "  build:    " << build_s << " s, " << data.pairs.size() / build_s << " pairs/s\n"
            << "  tokenize: " << tok_s << " s, " << tp.pairs() / tok_s << " pairs/s ("
            << tp.tokens.size() << " tokens, " << tp.tokens.size() / tok_s << " tokens/s)\n";
  return 0;
}

}  // namespace gdpo::app
