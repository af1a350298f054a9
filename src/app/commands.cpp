// The command table: what `gdpo help` lists, in this order.
#include "command.hpp"

namespace gdpo::app {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "Train with SFT, DPO, cDPO, IPO or GDPO (Group Distributional Preference "
                "Optimization)", cmd_train},
      {"inspect", "Describe runs, checkpoints, model folders, safetensors files, configs",
       cmd_inspect},
      {"tokenize", "Encode lines of stdin to token ids, or decode ids (--tokenizer.decode)",
       cmd_tokenize},
      {"generate", "Sample responses for the test rows, data parallel, resumable", cmd_generate},
      {"evaluate", "The paper's metrics of a model on the test rows, into eval.h5 and a table",
       cmd_evaluate},
      {"data build-opinion", "preference pairs from Global Opinion QA", cmd_data_build_opinion},
      {"data build-reviews", "preference pairs from Amazon movie reviews", cmd_data_build_reviews},
      {"data synthetic", "synthetic pairs with known p*", cmd_data_synthetic},
      {"data split", "split a file by question into train/eval/test", cmd_data_split},
      {"data stats", "Table 1 statistics", cmd_data_stats},
      {"data show", "print rendered pairs", cmd_data_show},
      {"data judge", "(response -> belief) examples to train the belief judge", cmd_data_judge},
      {"data cache", "tokenize data files into the token cache", cmd_data_cache},
      {"bench step", "training-step examples/s, tokens/s and peak RSS for SFT, DPO and GDPO",
       cmd_bench_step},
      {"bench generate", "generation tokens/s: batch 1 vs 32, KV cache vs recomputing",
       cmd_bench_generate},
      {"bench model", "causal LM forward and forward+backward tokens/s", cmd_bench_model},
      {"bench data", "build and tokenize synthetic pairs (pairs/s)", cmd_bench_data},
      {"bench tokenize", "tokenizer encode/decode MB/s and tokens/s", cmd_bench_tokenize},
      {"bench dist", "check every collective across the ranks and time an all-reduce",
       cmd_bench_dist},
  };
  return table;
}

const std::vector<std::pair<std::string, std::string>>& command_groups() {
  static const std::vector<std::pair<std::string, std::string>> groups = {
      {"data", "Build, split, inspect and tokenize preference data"},
      {"bench", "Measure speed and memory (numbers are printed, never asserted)"},
  };
  return groups;
}

}  // namespace gdpo::app
