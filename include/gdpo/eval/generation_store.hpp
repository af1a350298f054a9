// The output of `gdpo generate`: generations.h5, built from parts so that a killed generation
// continues where it stopped. The work is cut into fixed chunks of test rows (independent of the
// batch size and the number of ranks); rank r does chunks c with c % world == r and writes each one
// atomically to <output>.parts/chunk-<c>.h5; a rerun with the same settings skips the chunks present.
// A generation stopped by a signal in the middle of a chunk keeps the samples it has, a row-major
// prefix of the chunk, in <output>.parts/chunk-<c>.partial.h5 (same layout); the rerun continues
// the chunk after them (a sample depends only on the seed, its row and its index, not its batch).
// Rank 0 then merges the chunks, in order, into <output> (atomically) and removes the parts.
//
// generations.h5 (h5py reads every dataset as an array):
//   /                 attrs format = "gdpo-generations", version, settings (JSON text), rows, samples
//   rows/question     int64 [R]    question index of each test row
//   rows/prompt       str   [R]
//   samples/row       int64 [S]    test row of each sample (S = R x n, row-major)
//   samples/sample    int64 [S]    sample index within its row
//   samples/offset    int64 [S+1]  samples/tokens[offset[i] : offset[i+1]] are sample i's new tokens
//   samples/tokens    int64 [T]    end-of-text excluded
//   samples/ended     bool  [S]    stopped at end-of-text (else at the length limit)
//   samples/text      str   [S]    the decoded new tokens (printable_text: valid UTF-8, no NUL)
//   samples/belief_id int64 [S]    the parsed belief id (-1: the text does not start with a digit)
//   samples/belief_text str [S]    the first <...> of the text, brackets stripped ("" if none)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gdpo::eval {

struct GeneratedSample {
  int64_t row = 0, sample = 0;
  std::vector<int64_t> tokens;
  bool ended = false;
  std::string text;
  int64_t belief_id = -1;
  std::string belief_text;
};

struct Generations {
  std::string settings;                 // JSON: what produced them
  std::vector<int64_t> row_question;    // [R]
  std::vector<std::string> row_prompt;  // [R]
  int64_t samples_per_row = 0;
  std::vector<GeneratedSample> samples; // [R x n], row-major
};

class GenerationStore {
 public:
  // `settings` is compared exactly with what existing parts or the output were made with.
  GenerationStore(std::string output, std::string settings, int64_t rows, int64_t samples_per_row,
                  int64_t chunk_rows);

  const std::string& output() const { return output_; }
  std::string parts_dir() const { return output_ + ".parts"; }
  int64_t chunks() const { return (rows_ + chunk_rows_ - 1) / chunk_rows_; }
  // Test rows [first, first + count) of chunk c.
  int64_t chunk_first_row(int64_t chunk) const { return chunk * chunk_rows_; }
  int64_t chunk_row_count(int64_t chunk) const;

  // The output exists and was made with these settings (UsageError naming the file if it was made
  // with others: nothing is overwritten silently).
  bool complete() const;
  // Chunk c's part exists, reads and holds these settings (an unreadable part is removed and redone;
  // one made with other settings is a UsageError naming the parts folder).
  bool has_chunk(int64_t chunk) const;
  // The number of chunks whose part is present (not read: a count for messages).
  int64_t chunks_written() const;
  // Writes chunk c's samples (row-major, chunk_row_count x samples_per_row) atomically, then
  // removes the chunk's partial part if any.
  void write_chunk(int64_t chunk, const std::vector<GeneratedSample>& samples) const;
  // The samples a stopped generation kept of chunk c: a row-major prefix, shorter than the chunk
  // (empty when none; an unreadable or inconsistent partial part is removed, with a warning, and
  // its samples redone; one made with other settings is a UsageError naming the parts folder).
  std::vector<GeneratedSample> partial_chunk(int64_t chunk) const;
  // Writes the first samples.size() samples of chunk c (a row-major prefix, fewer than the chunk's)
  // atomically, replacing an earlier partial part.
  void write_partial_chunk(int64_t chunk, const std::vector<GeneratedSample>& samples) const;
  // Merges every chunk into the output (atomically), writes `jsonl` when not empty, removes the parts.
  void merge(const std::vector<int64_t>& row_question, const std::vector<std::string>& row_prompt,
             const std::string& jsonl) const;

 private:
  std::string output_, settings_;
  int64_t rows_, samples_per_row_, chunk_rows_;
  std::string chunk_path(int64_t chunk) const;
  std::string partial_path(int64_t chunk) const;
  // Throws UsageError when a part holds other settings than this store's.
  void require_settings(const std::string& settings) const;
};

// Reads a generations.h5 (InputError naming the file and dataset on anything missing or malformed).
Generations read_generations(const std::string& path);

}  // namespace gdpo::eval
