#include "gdpo/eval/generation_run.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>

#include "gdpo/core/error.hpp"
#include "gdpo/core/fault_injection.hpp"
#include "gdpo/core/hash.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/core/progress.hpp"
#include "gdpo/core/utf8.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/eval/generation_parse.hpp"
#include "gdpo/eval/generation_store.hpp"
#include "gdpo/train/stop_signal.hpp"

namespace gdpo::eval {

void validate(const GenerateConfig& c) {
  validate(c.generation.sampling, "generate");
  auto positive = [](int64_t v, const char* name) {
    if (v < 1) throw UsageError(std::string("--generate.") + name + " must be >= 1, got " +
                                std::to_string(v));
  };
  positive(c.samples_per_row, "n-samples");
  positive(c.batch_size, "batch-size");
  positive(c.chunk_rows, "chunk-rows");
  positive(c.generation.max_length, "max-length");
  if (c.generation.max_new_tokens < 0)
    throw UsageError("--generate.max-new-tokens must be >= 0 (0: up to --generate.max-length)");
  if (c.generation.seed < 0) throw UsageError("--generate.seed must be >= 0");
  if (c.max_rows < 0) throw UsageError("--generate.max-rows must be >= 0 (0: every test row)");
  if (c.output.empty()) throw UsageError("--generate.output: no output file given");
  if (!dist::is_device_choice(c.device))
    throw UsageError("--generate.device '" + c.device + "' is not auto, cpu or cuda");
}

std::string generation_settings(const GenerateConfig& c, const std::string& model,
                                const std::vector<TestRow>& rows) {
  Fnv1a prompts;
  for (const auto& r : rows) {
    prompts.add(r.prompt);
    prompts.add_bytes(r.prompt_ids.data(), r.prompt_ids.size() * sizeof(int64_t));
  }
  const auto& g = c.generation;
  nlohmann::ordered_json j = {
      {"model", model},
      {"rows", rows.size()},
      {"prompts_fnv1a", prompts.value()},
      {"greedy", g.sampling.greedy},
      {"temperature", g.sampling.temperature},
      {"top_k", g.sampling.top_k},
      {"top_p", g.sampling.top_p},
      {"max_length", g.max_length},
      {"max_new_tokens", g.max_new_tokens},
      {"seed", g.seed},
      {"samples_per_row", c.samples_per_row},
      {"chunk_rows", c.chunk_rows}};
  return j.dump();
}

namespace {

// "SIGUSR1", "SIGTERM" (the signals a StopSignalGuard catches), else "signal N".
std::string signal_name(int signal) {
  if (signal == SIGUSR1) return "SIGUSR1";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace

std::string printable_text(const std::string& decoded) {
  std::string text = replace_invalid_utf8(decoded);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\0') out += "\xEF\xBF\xBD";
    else out += c;
  }
  return out;
}

GenerateResult run_generation(model::CausalLM& model, const tokenizer::Tokenizer& tok,
                              const std::vector<TestRow>& all_rows, data::DatasetKind format,
                              const GenerateConfig& config, const std::string& model_description,
                              dist::Communicator& comm) {
  validate(config);
  const auto start = std::chrono::steady_clock::now();
  std::vector<TestRow> rows(all_rows.begin(),
                            all_rows.begin() + (config.max_rows > 0
                                                    ? std::min<int64_t>(config.max_rows,
                                                                        all_rows.size())
                                                    : static_cast<int64_t>(all_rows.size())));
  const int64_t n = config.samples_per_row;
  GenerationStore store(config.output, generation_settings(config, model_description, rows),
                        static_cast<int64_t>(rows.size()), n, config.chunk_rows);
  GenerateResult result;
  // Every rank agrees before any work: a stale file is an error on all of them.
  int64_t complete = comm.is_root() ? store.complete() : 0;
  complete = comm.broadcast(complete);
  if (complete) {
    result.already_complete = true;
    return result;
  }
  // A signal while the model and the rows were loading: nothing is written yet.
  if (train::stop_agreed(comm)) throw train::StopRequested("the set-up (nothing generated yet)");
  const ResponseFormat parse_format =
      format == data::DatasetKind::kReview ? ResponseFormat::kReview : ResponseFormat::kOpinion;
  const int64_t eos = tok.eos_id();
  const int64_t chunks = store.chunks();
  const int64_t world = comm.world_size();
  const int64_t rounds = (chunks + world - 1) / world;
  const auto batch_size = static_cast<size_t>(config.batch_size);
  // In round k rank r does chunk k * world + r. Every rank takes as many batch slots in a round as
  // the largest chunk of the round needs (the same count everywhere), and agrees on a stop after
  // each slot, whether it generated in it or not (a finished, skipped or missing chunk).
  auto slots_in = [&](int64_t round) {
    int64_t most = 0;
    for (int64_t c = round * world; c < std::min(chunks, (round + 1) * world); ++c)
      most = std::max(most, (store.chunk_row_count(c) * n + config.batch_size - 1) /
                                config.batch_size);
    return most;
  };
  int64_t my_sequences = 0;
  for (int64_t c = comm.rank(); c < chunks; c += world)
    my_sequences += store.chunk_row_count(c) * n;
  ProgressOptions progress_options;
  progress_options.label = "generate";
  progress_options.unit = "seq";
  Progress progress(my_sequences, progress_options);
  int64_t done = 0, skipped = 0, resumed = 0, kept = 0, tokens = 0;
  bool stop = false, finished_early = false;
  for (int64_t round = 0; round < rounds && !stop && !finished_early; ++round) {
    const int64_t c = round * world + comm.rank();
    std::vector<GenerationItem> items;    // what is left to generate of chunk c
    std::vector<GeneratedSample> samples;  // chunk c's samples so far (row-major)
    size_t from_before = 0;                // of them, kept by a stopped run
    if (c < chunks && store.has_chunk(c)) {
      ++skipped;
      progress.advance(store.chunk_row_count(c) * n);
    } else if (c < chunks) {
      samples = store.partial_chunk(c);
      from_before = samples.size();
      resumed += static_cast<int64_t>(from_before);
      progress.advance(static_cast<int64_t>(from_before));
      const int64_t first = store.chunk_first_row(c);
      for (int64_t i = static_cast<int64_t>(from_before); i < store.chunk_row_count(c) * n; ++i)
        items.push_back({first + i / n, i % n, rows[first + i / n].prompt_ids});
      samples.reserve(from_before + items.size());
    }
    size_t next = 0;  // items[next] is the next to generate
    const int64_t slots = slots_in(round);
    for (int64_t slot = 0; slot < slots; ++slot) {
      if (next < items.size()) {
        const std::vector<GenerationItem> batch(
            items.begin() + next, items.begin() + std::min(items.size(), next + batch_size));
        next += batch.size();
        for (auto& seq : generate(model, batch, config.generation, eos)) {
          GeneratedSample s;
          s.row = seq.row;
          s.sample = seq.sample;
          s.ended = seq.ended;
          s.text = printable_text(tok.decode(seq.tokens));
          const ParsedGeneration parsed = parse_generation(stored_line(s.text), parse_format);
          s.belief_id = parsed.parsed ? parsed.belief_id : -1;
          s.belief_text = parsed.has_text ? parsed.belief_text : "";
          tokens += static_cast<int64_t>(seq.tokens.size());
          s.tokens = std::move(seq.tokens);
          samples.push_back(std::move(s));
        }
        progress.advance(static_cast<int64_t>(batch.size()), {{"tokens", tokens}});
        fault::on_generation_batch();
        if (next == items.size()) {
          store.write_chunk(c, samples);
          ++done;
          fault::on_generation_chunk();
        }
      }
      if (train::stop_agreed(comm)) {
        const bool unfinished = next < items.size();
        if (unfinished) {  // a part already on disk is rewritten only when it grew
          if (samples.size() > from_before) store.write_partial_chunk(c, samples);
          kept += static_cast<int64_t>(samples.size());
        }
        // My later chunks that a killed or stopped run left are not work left.
        int64_t later_present = 0, later_missing = 0;
        for (int64_t later = c + world; later < chunks; later += world) {
          if (store.has_chunk(later)) ++later_present;
          else ++later_missing;
        }
        // With no work left on any rank the signal changes nothing: the merge follows.
        stop = comm.all_reduce(unfinished || later_missing > 0, dist::ReduceOp::Max) != 0;
        if (!stop) {
          skipped += later_present;
          finished_early = true;
        }
        break;
      }
    }
  }
  if (stop) {
    progress.finish();
    kept = comm.all_reduce(kept, dist::ReduceOp::Sum);  // also: every rank has written its parts
    const int64_t signal = comm.all_reduce(train::stop_signal_number(), dist::ReduceOp::Max);
    if (comm.is_root()) {
      const std::string unfinished =
          kept ? " and " + std::to_string(kept) + " samples of unfinished ones" : std::string();
      log::info("generate: stopped by ", signal_name(static_cast<int>(signal)), ": ",
                store.parts_dir(), " keeps ", store.chunks_written(), " of ", chunks, " chunks",
                unfinished, "; the same command continues from there");
    }
    throw train::StopRequested("generation");
  }
  progress.finish();
  comm.barrier();
  result.chunks_done = comm.all_reduce(done, dist::ReduceOp::Sum);
  result.chunks_skipped = comm.all_reduce(skipped, dist::ReduceOp::Sum);
  result.samples_resumed = comm.all_reduce(resumed, dist::ReduceOp::Sum);
  result.new_tokens = comm.all_reduce(tokens, dist::ReduceOp::Sum);
  if (comm.is_root()) {
    std::vector<int64_t> question;
    std::vector<std::string> prompt;
    for (const auto& r : rows) {
      question.push_back(r.question);
      prompt.push_back(r.prompt);
    }
    store.merge(question, prompt, config.jsonl);
  }
  comm.barrier();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace gdpo::eval
