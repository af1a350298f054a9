#include "gdpo/eval/generation_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/io/atomic_file.hpp"
#include "gdpo/io/hdf5_file.hpp"

namespace gdpo::eval {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kVersion = 1;

void write_samples(io::H5File& f, const std::vector<GeneratedSample>& samples) {
  const auto n = static_cast<int64_t>(samples.size());
  std::vector<int64_t> row(n), sample(n), offset(n + 1, 0), belief(n), tokens;
  std::vector<uint8_t> ended(n);
  std::vector<std::string> text(n), belief_text(n);
  for (int64_t i = 0; i < n; ++i) {
    const auto& s = samples[i];
    row[i] = s.row;
    sample[i] = s.sample;
    tokens.insert(tokens.end(), s.tokens.begin(), s.tokens.end());
    offset[i + 1] = static_cast<int64_t>(tokens.size());
    ended[i] = s.ended;
    text[i] = s.text;
    belief[i] = s.belief_id;
    belief_text[i] = s.belief_text;
  }
  auto i64 = [](std::vector<int64_t>& v) {
    return torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, torch::kInt64);
  };
  f.write_tensor("samples/row", i64(row));
  f.write_tensor("samples/sample", i64(sample));
  f.write_tensor("samples/offset", i64(offset));
  f.write_tensor("samples/tokens", i64(tokens));
  f.write_tensor("samples/ended",
                 torch::from_blob(ended.data(), {n}, torch::kUInt8).to(torch::kBool));
  f.write_tensor("samples/belief_id", i64(belief));
  f.write_strings("samples/text", text);
  f.write_strings("samples/belief_text", belief_text);
}

std::vector<int64_t> read_i64(const io::H5File& f, const std::string& name, int64_t n) {
  const torch::Tensor t = f.read_tensor(name, torch::kInt64, {n});
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
}

std::vector<GeneratedSample> read_samples(const io::H5File& f) {
  const auto info = f.tensor_info("samples/row");
  if (info.shape.size() != 1)
    GDPO_THROW(InputError, f.path() << ": samples/row is not 1-D");
  const int64_t n = info.shape[0];
  const auto row = read_i64(f, "samples/row", n);
  const auto sample = read_i64(f, "samples/sample", n);
  const auto offset = read_i64(f, "samples/offset", n + 1);
  const auto belief = read_i64(f, "samples/belief_id", n);
  const auto tokens_info = f.tensor_info("samples/tokens");
  const int64_t n_tokens = tokens_info.shape.empty() ? 0 : tokens_info.shape[0];
  const auto tokens = read_i64(f, "samples/tokens", n_tokens);
  const torch::Tensor ended = f.read_tensor("samples/ended", torch::kBool, {n});
  const auto text = f.read_strings("samples/text");
  const auto belief_text = f.read_strings("samples/belief_text");
  if (static_cast<int64_t>(text.size()) != n || static_cast<int64_t>(belief_text.size()) != n)
    GDPO_THROW(InputError, f.path() << ": samples/text and samples/belief_text must hold " << n
                                    << " strings");
  std::vector<GeneratedSample> out(n);
  for (int64_t i = 0; i < n; ++i) {
    if (offset[i] < 0 || offset[i] > offset[i + 1] || offset[i + 1] > n_tokens)
      GDPO_THROW(InputError, f.path() << ": samples/offset is not increasing within samples/tokens"
                                      << " at sample " << i);
    auto& s = out[i];
    s.row = row[i];
    s.sample = sample[i];
    s.tokens.assign(tokens.begin() + offset[i], tokens.begin() + offset[i + 1]);
    s.ended = ended[i].item<bool>();
    s.text = text[i];
    s.belief_id = belief[i];
    s.belief_text = belief_text[i];
  }
  return out;
}

void check_format(const io::H5File& f, const char* format) {
  if (!f.has_attr("/", "format") || f.string_attr("/", "format") != format)
    GDPO_THROW(InputError, f.path() << ": not a " << format << " file");
  if (f.int_attr("/", "version") != kVersion)
    GDPO_THROW(InputError, f.path() << ": " << format << " version " << f.int_attr("/", "version")
                                    << ", this gdpo reads version " << kVersion);
}

}  // namespace

GenerationStore::GenerationStore(std::string output, std::string settings, int64_t rows,
                                 int64_t samples_per_row, int64_t chunk_rows)
    : output_(std::move(output)), settings_(std::move(settings)), rows_(rows),
      samples_per_row_(samples_per_row), chunk_rows_(chunk_rows) {
  GDPO_CHECK(rows >= 0 && samples_per_row >= 1 && chunk_rows >= 1, "GenerationStore: bad sizes");
}

int64_t GenerationStore::chunk_row_count(int64_t chunk) const {
  return std::min(chunk_rows_, rows_ - chunk * chunk_rows_);
}

std::string GenerationStore::chunk_path(int64_t chunk) const {
  char name[64];
  std::snprintf(name, sizeof name, "chunk-%06lld.h5", static_cast<long long>(chunk));
  return parts_dir() + "/" + name;
}

std::string GenerationStore::partial_path(int64_t chunk) const {
  char name[64];
  std::snprintf(name, sizeof name, "chunk-%06lld.partial.h5", static_cast<long long>(chunk));
  return parts_dir() + "/" + name;
}

void GenerationStore::require_settings(const std::string& settings) const {
  if (settings != settings_)
    GDPO_THROW(UsageError, parts_dir() << " holds a killed generation made with other settings:\n  "
                                       << settings << "\nnow:\n  " << settings_
                                       << "\nrerun with those settings to finish it, or remove "
                                       << parts_dir());
}

bool GenerationStore::complete() const {
  if (!fs::exists(output_)) return false;
  const auto f = io::H5File::open_read(output_);
  check_format(f, "gdpo-generations");
  if (f.string_attr("/", "settings") != settings_)
    GDPO_THROW(UsageError, output_ << " holds generations made with other settings:\n  "
                                   << f.string_attr("/", "settings") << "\nnow:\n  " << settings_
                                   << "\nchoose another --generate.output or remove it");
  return true;
}

bool GenerationStore::has_chunk(int64_t chunk) const {
  const std::string path = chunk_path(chunk);
  if (!fs::exists(path)) return false;
  std::string settings;
  try {
    const auto f = io::H5File::open_read(path);
    check_format(f, "gdpo-generations-chunk");
    settings = f.string_attr("/", "settings");
  } catch (const InputError& e) {
    log::warn("redoing chunk ", chunk, ": ", e.what());
    fs::remove(path);
    return false;
  }
  require_settings(settings);
  return true;
}

int64_t GenerationStore::chunks_written() const {
  int64_t n = 0;
  for (int64_t c = 0; c < chunks(); ++c) n += fs::exists(chunk_path(c));
  return n;
}

std::vector<GeneratedSample> GenerationStore::partial_chunk(int64_t chunk) const {
  const std::string path = partial_path(chunk);
  if (!fs::exists(path)) return {};
  std::string settings;
  std::vector<GeneratedSample> samples;
  try {
    const auto f = io::H5File::open_read(path);
    check_format(f, "gdpo-generations-partial");
    settings = f.string_attr("/", "settings");
    if (settings == settings_) {
      if (f.int_attr("/", "chunk") != chunk)
        GDPO_THROW(InputError, path << ": holds chunk " << f.int_attr("/", "chunk"));
      samples = read_samples(f);
      const int64_t first = chunk_first_row(chunk);
      if (samples.empty() ||
          static_cast<int64_t>(samples.size()) >= chunk_row_count(chunk) * samples_per_row_)
        GDPO_THROW(InputError, path << ": " << samples.size()
                                    << " samples, not a part of a chunk of "
                                    << chunk_row_count(chunk) * samples_per_row_);
      for (int64_t i = 0; i < static_cast<int64_t>(samples.size()); ++i)
        if (samples[i].row != first + i / samples_per_row_ ||
            samples[i].sample != i % samples_per_row_)
          GDPO_THROW(InputError, path << ": sample " << i << " is out of row-major order");
    }
  } catch (const InputError& e) {
    log::warn("redoing the kept part of chunk ", chunk, ": ", e.what());
    fs::remove(path);
    return {};
  }
  require_settings(settings);
  return samples;
}

void GenerationStore::write_partial_chunk(int64_t chunk,
                                          const std::vector<GeneratedSample>& samples) const {
  const auto n = static_cast<int64_t>(samples.size());
  GDPO_CHECK(n >= 1 && n < chunk_row_count(chunk) * samples_per_row_,
             "write_partial_chunk: " << n << " samples for chunk " << chunk);
  const int64_t first = chunk_first_row(chunk);
  for (int64_t i = 0; i < n; ++i)
    GDPO_CHECK(samples[i].row == first + i / samples_per_row_ &&
                   samples[i].sample == i % samples_per_row_,
               "write_partial_chunk: sample " << i << " of chunk " << chunk << " is out of order");
  fs::create_directories(parts_dir());
  io::write_h5_atomic(partial_path(chunk), [&](io::H5File& f) {
    f.set_attr("/", "format", "gdpo-generations-partial");
    f.set_attr("/", "version", kVersion);
    f.set_attr("/", "settings", settings_);
    f.set_attr("/", "chunk", chunk);
    write_samples(f, samples);
  });
}

void GenerationStore::write_chunk(int64_t chunk, const std::vector<GeneratedSample>& samples) const {
  GDPO_CHECK(static_cast<int64_t>(samples.size()) == chunk_row_count(chunk) * samples_per_row_,
             "write_chunk: " << samples.size() << " samples for chunk " << chunk);
  fs::create_directories(parts_dir());
  io::write_h5_atomic(chunk_path(chunk), [&](io::H5File& f) {
    f.set_attr("/", "format", "gdpo-generations-chunk");
    f.set_attr("/", "version", kVersion);
    f.set_attr("/", "settings", settings_);
    f.set_attr("/", "chunk", chunk);
    write_samples(f, samples);
  });
  fs::remove(partial_path(chunk));  // the chunk is whole: a kept part of it is no longer needed
}

void GenerationStore::merge(const std::vector<int64_t>& row_question,
                            const std::vector<std::string>& row_prompt,
                            const std::string& jsonl) const {
  GDPO_CHECK(static_cast<int64_t>(row_question.size()) == rows_ &&
                 static_cast<int64_t>(row_prompt.size()) == rows_,
             "merge: row metadata of the wrong size");
  std::vector<GeneratedSample> all;
  all.reserve(static_cast<size_t>(rows_ * samples_per_row_));
  for (int64_t c = 0; c < chunks(); ++c) {
    const auto f = io::H5File::open_read(chunk_path(c));
    auto part = read_samples(f);
    const int64_t first = chunk_first_row(c);
    for (int64_t i = 0; i < static_cast<int64_t>(part.size()); ++i)
      GDPO_CHECK(part[i].row == first + i / samples_per_row_ && part[i].sample == i % samples_per_row_,
                 chunk_path(c) << ": sample " << i << " is out of order");
    std::move(part.begin(), part.end(), std::back_inserter(all));
  }
  io::write_h5_atomic(output_, [&](io::H5File& f) {
    f.set_attr("/", "format", "gdpo-generations");
    f.set_attr("/", "version", kVersion);
    f.set_attr("/", "settings", settings_);
    f.set_attr("/", "rows", rows_);
    f.set_attr("/", "samples", samples_per_row_);
    std::vector<int64_t> q = row_question;
    f.write_tensor("rows/question", torch::from_blob(q.data(), {rows_}, torch::kInt64));
    f.write_strings("rows/prompt", row_prompt);
    write_samples(f, all);
  });
  if (!jsonl.empty()) {
    std::string text;
    for (const auto& s : all) {
      nlohmann::ordered_json j = {{"row", s.row},
                                  {"question", row_question[s.row]},
                                  {"sample", s.sample},
                                  {"text", s.text},
                                  {"belief_id", s.belief_id},
                                  {"belief_text", s.belief_text},
                                  {"ended", s.ended},
                                  {"tokens", s.tokens.size()}};
      text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    io::write_file_atomic(jsonl, text);
  }
  fs::remove_all(parts_dir());
}

Generations read_generations(const std::string& path) {
  const auto f = io::H5File::open_read(path);
  check_format(f, "gdpo-generations");
  Generations g;
  g.settings = f.string_attr("/", "settings");
  const int64_t rows = f.int_attr("/", "rows");
  g.samples_per_row = f.int_attr("/", "samples");
  g.row_question = read_i64(f, "rows/question", rows);
  g.row_prompt = f.read_strings("rows/prompt");
  if (static_cast<int64_t>(g.row_prompt.size()) != rows)
    GDPO_THROW(InputError, path << ": rows/prompt must hold " << rows << " strings");
  g.samples = read_samples(f);
  if (static_cast<int64_t>(g.samples.size()) != rows * g.samples_per_row)
    GDPO_THROW(InputError, path << ": " << g.samples.size() << " samples, expected " << rows
                                << " rows x " << g.samples_per_row);
  for (size_t i = 0; i < g.samples.size(); ++i)
    if (g.samples[i].row != static_cast<int64_t>(i) / g.samples_per_row ||
        g.samples[i].sample != static_cast<int64_t>(i) % g.samples_per_row)
      GDPO_THROW(InputError, path << ": sample " << i << " is out of row-major order");
  return g;
}

}  // namespace gdpo::eval
