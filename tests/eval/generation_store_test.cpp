// The resumable generations file: chunks written apart and merged in order, read back exactly;
// settings that differ from an existing output or killed run are refused, a corrupt chunk is
// redone; the kept part of a stopped chunk reads back as written and goes once the chunk is whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gdpo/core/error.hpp"
#include "gdpo/eval/generation_run.hpp"
#include "gdpo/eval/generation_store.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "support/test_support.hpp"

namespace gdpo::eval {
namespace {

namespace fs = std::filesystem;

// Chunk c's samples for 5 rows x 2 samples in chunks of 2 rows.
std::vector<GeneratedSample> chunk_samples(const GenerationStore& s, int64_t c) {
  std::vector<GeneratedSample> out;
  for (int64_t r = s.chunk_first_row(c); r < s.chunk_first_row(c) + s.chunk_row_count(c); ++r)
    for (int64_t k = 0; k < 2; ++k) {
      GeneratedSample g;
      g.row = r;
      g.sample = k;
      g.tokens = std::vector<int64_t>(static_cast<size_t>(r + k), r * 10 + k);  // r + k tokens
      g.ended = k == 0;
      g.text = std::to_string(k) + "<opt " + std::to_string(r) + "> ünïcode\nline";
      g.belief_id = k;
      g.belief_text = "opt " + std::to_string(r);
      out.push_back(g);
    }
  return out;
}

TEST(GenerationStore, ChunksMergeInOrderAndReadBackExactly) {
  test::TempDir dir;
  GenerationStore store(dir.file("gen.h5"), "{\"seed\":1}", 5, 2, 2);
  ASSERT_EQ(store.chunks(), 3);
  EXPECT_EQ(store.chunk_row_count(2), 1);
  EXPECT_FALSE(store.complete());
  for (int64_t c : {2, 0, 1}) {  // any order: ranks finish when they finish
    EXPECT_FALSE(store.has_chunk(c));
    store.write_chunk(c, chunk_samples(store, c));
    EXPECT_TRUE(store.has_chunk(c));
  }
  store.merge({0, 1, 2, 3, 4}, {"p0", "p1", "p2", "p3", "p4"}, dir.file("gen.jsonl"));
  EXPECT_FALSE(fs::exists(store.parts_dir()));
  EXPECT_TRUE(store.complete());
  const Generations g = read_generations(dir.file("gen.h5"));
  EXPECT_EQ(g.settings, "{\"seed\":1}");
  EXPECT_EQ(g.samples_per_row, 2);
  EXPECT_EQ(g.row_prompt[3], "p3");
  ASSERT_EQ(g.samples.size(), 10u);
  for (int64_t i = 0; i < 10; ++i) {
    const auto& s = g.samples[i];
    EXPECT_EQ(s.row, i / 2);
    EXPECT_EQ(s.sample, i % 2);
    EXPECT_EQ(s.tokens, std::vector<int64_t>(static_cast<size_t>(s.row + s.sample), s.row * 10 + s.sample));
    EXPECT_EQ(s.ended, s.sample == 0);
    EXPECT_EQ(s.text, std::to_string(s.sample) + "<opt " + std::to_string(s.row) + "> ünïcode\nline");
    EXPECT_EQ(s.belief_text, "opt " + std::to_string(s.row));
  }
  const std::string jsonl = test::read_file(dir.file("gen.jsonl"));
  EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 10);
  EXPECT_NE(jsonl.find("{\"row\":4,\"question\":4,\"sample\":1,"), std::string::npos) << jsonl;
}

TEST(GenerationStore, OtherSettingsAreRefusedNamingTheFile) {
  test::TempDir dir;
  GenerationStore a(dir.file("gen.h5"), "{\"seed\":1}", 2, 2, 1);
  a.write_chunk(0, chunk_samples(a, 0));
  GenerationStore b(dir.file("gen.h5"), "{\"seed\":2}", 2, 2, 1);
  try {
    b.has_chunk(0);
    FAIL() << "a killed run's chunk with other settings was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(b.parts_dir()), std::string::npos) << e.what();
  }
  a.write_chunk(1, chunk_samples(a, 1));
  a.merge({0, 1}, {"p0", "p1"}, "");
  EXPECT_THROW(b.complete(), UsageError);
}

TEST(GenerationStore, ACorruptChunkIsRedone) {
  test::TempDir dir;
  GenerationStore s(dir.file("gen.h5"), "{}", 2, 2, 1);
  s.write_chunk(0, chunk_samples(s, 0));
  const std::string chunk = s.parts_dir() + "/chunk-000000.h5";
  ASSERT_TRUE(fs::exists(chunk));
  fs::resize_file(chunk, fs::file_size(chunk) / 2);  // a torn file (not written by write_chunk)
  EXPECT_FALSE(s.has_chunk(0));
  EXPECT_FALSE(fs::exists(chunk));
}

TEST(GenerationStore, APartOfAStoppedChunkReadsBackUntilTheChunkIsWhole) {
  test::TempDir dir;
  GenerationStore s(dir.file("gen.h5"), "{\"seed\":1}", 5, 2, 2);  // chunk 1: rows 2-3, 4 samples
  EXPECT_TRUE(s.partial_chunk(1).empty());
  const auto whole = chunk_samples(s, 1);
  for (size_t kept : {1u, 3u}) {  // a later stop replaces the earlier part
    s.write_partial_chunk(1, std::vector<GeneratedSample>(whole.begin(), whole.begin() + kept));
    const auto part = s.partial_chunk(1);
    ASSERT_EQ(part.size(), kept);
    for (size_t i = 0; i < kept; ++i) {
      EXPECT_EQ(part[i].row, whole[i].row);
      EXPECT_EQ(part[i].sample, whole[i].sample);
      EXPECT_EQ(part[i].tokens, whole[i].tokens);
      EXPECT_EQ(part[i].text, whole[i].text);
      EXPECT_EQ(part[i].ended, whole[i].ended);
    }
  }
  EXPECT_FALSE(s.has_chunk(1));       // a part is not a chunk
  EXPECT_EQ(s.chunks_written(), 0);
  EXPECT_TRUE(s.partial_chunk(0).empty());
  s.write_chunk(1, whole);
  EXPECT_TRUE(s.has_chunk(1));
  EXPECT_EQ(s.chunks_written(), 1);
  EXPECT_TRUE(s.partial_chunk(1).empty());
  EXPECT_FALSE(fs::exists(s.parts_dir() + "/chunk-000001.partial.h5"));
  // Only a row-major prefix shorter than the chunk is a part (a caller's mistake otherwise).
  EXPECT_THROW(s.write_partial_chunk(0, {}), Error);
  EXPECT_THROW(s.write_partial_chunk(0, chunk_samples(s, 0)), Error);
  EXPECT_THROW(s.write_partial_chunk(0, {chunk_samples(s, 0)[1]}), Error);
}

TEST(GenerationStore, APartOfOtherSettingsIsRefusedATornOneRedone) {
  test::TempDir dir;
  GenerationStore a(dir.file("gen.h5"), "{\"seed\":1}", 2, 2, 1);
  const auto samples = chunk_samples(a, 0);
  a.write_partial_chunk(0, {samples[0]});
  GenerationStore b(dir.file("gen.h5"), "{\"seed\":2}", 2, 2, 1);
  try {
    b.partial_chunk(0);
    FAIL() << "a stopped run's part with other settings was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(b.parts_dir()), std::string::npos) << e.what();
  }
  const std::string part = a.parts_dir() + "/chunk-000000.partial.h5";
  fs::resize_file(part, fs::file_size(part) / 2);  // a torn file (not written by the store)
  EXPECT_TRUE(a.partial_chunk(0).empty());
  EXPECT_FALSE(fs::exists(part));
  // A part of another chunk's rows (e.g. copied by hand) is redone too.
  a.write_partial_chunk(0, {samples[0]});
  fs::rename(part, a.parts_dir() + "/chunk-000001.partial.h5");
  EXPECT_TRUE(a.partial_chunk(1).empty());
  EXPECT_FALSE(fs::exists(a.parts_dir() + "/chunk-000001.partial.h5"));
}

TEST(GenerationStore, ForeignFilesAreInputErrorsNamingThem) {
  test::TempDir dir;
  {
    auto f = io::H5File::create(dir.file("other.h5"));
    f.set_attr("/", "format", "gdpo-checkpoint");
    f.close();
  }
  try {
    read_generations(dir.file("other.h5"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("other.h5"), std::string::npos) << e.what();
  }
  test::write_file(dir.file("text.h5"), "not hdf5");
  EXPECT_THROW(read_generations(dir.file("text.h5")), InputError);
}

TEST(GenerationStore, StoredTextIsValidUtf8WithoutNul) {
  // Byte tokens can end inside a character or be NUL: as Hugging Face decodes (U+FFFD), and NUL,
  // which an HDF5 string cannot hold, as U+FFFD too. The tokens themselves are stored exactly.
  EXPECT_EQ(printable_text(std::string("1<a\0b>\xF0\x9F", 7)),
            "1<a\xEF\xBF\xBD" "b>\xEF\xBF\xBD");
  test::TempDir dir;
  GenerationStore s(dir.file("gen.h5"), "{}", 1, 1, 1);
  GeneratedSample g;
  g.text = printable_text(std::string("\0\xFF", 2));
  s.write_chunk(0, {g});
  s.merge({0}, {"p"}, "");
  EXPECT_EQ(read_generations(dir.file("gen.h5")).samples[0].text, "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace gdpo::eval
