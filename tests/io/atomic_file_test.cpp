// AtomicFile / write_file_atomic / AtomicDirectory: the target is replaced in one step and no
// temporary stays behind; temporary_target() recognises what a killed writer leaves.
#include "gdpo/io/atomic_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFile, WriteFileAtomicReplacesTheTargetAndLeavesNoTemporary) {
  gdpo::test::TempDir dir;
  write_file_atomic(dir.file("state.json"), "{\"step\": 1}");
  EXPECT_EQ(gdpo::test::read_file(dir.file("state.json")), "{\"step\": 1}");
  write_file_atomic(dir.file("state.json"), "{}");
  EXPECT_EQ(gdpo::test::read_file(dir.file("state.json")), "{}");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>({"state.json"}));
}

TEST(AtomicFile, TemporaryIsAHiddenSiblingAndTheTargetIsUntouchedUntilCommit) {
  gdpo::test::TempDir dir;
  gdpo::test::write_file(dir.file("a.bin"), "old");
  {
    AtomicFile f(dir.file("a.bin"));
    EXPECT_EQ(fs::path(f.temp_path()).parent_path(), dir.path());
    EXPECT_EQ(fs::path(f.temp_path()).filename().string().rfind(".a.bin.tmp.", 0), 0u);
    gdpo::test::write_file(f.temp_path(), "new");
    EXPECT_EQ(gdpo::test::read_file(dir.file("a.bin")), "old");
    f.commit();
    EXPECT_EQ(gdpo::test::read_file(dir.file("a.bin")), "new");
    EXPECT_FALSE(fs::exists(f.temp_path()));
    EXPECT_THROW(f.commit(), Error);  // twice
  }
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>({"a.bin"}));
}

TEST(AtomicFile, AbandonedTemporaryIsRemovedAndTheOldFileKept) {
  gdpo::test::TempDir dir;
  gdpo::test::write_file(dir.file("a.bin"), "old");
  {
    AtomicFile f(dir.file("a.bin"));
    gdpo::test::write_file(f.temp_path(), "half");
  }  // no commit
  EXPECT_EQ(gdpo::test::read_file(dir.file("a.bin")), "old");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>({"a.bin"}));
}

TEST(AtomicFile, TwoWritersGetDistinctTemporaries) {
  gdpo::test::TempDir dir;
  AtomicFile a(dir.file("x")), b(dir.file("x"));
  EXPECT_NE(a.temp_path(), b.temp_path());
}

TEST(AtomicFile, FailuresNameThePath) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("no/such/dir/f.txt");
  try {
    write_file_atomic(path, "x");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir/"), std::string::npos) << e.what();
  }
}

TEST(AtomicDirectory, CreatesThenReplacesAFolderWhole) {
  gdpo::test::TempDir dir;
  const std::string target = dir.file("model");
  {
    AtomicDirectory d(target);
    EXPECT_TRUE(fs::is_directory(d.temp_path()));
    EXPECT_EQ(fs::path(d.temp_path()).filename().string().rfind(".model.tmp.", 0), 0u);
    gdpo::test::write_file(d.temp_path() + "/a.txt", "1");
    gdpo::test::write_file(d.temp_path() + "/old-only.txt", "x");
    EXPECT_FALSE(fs::exists(target));
    d.commit();
  }
  EXPECT_EQ(entries(target), std::vector<std::string>({"a.txt", "old-only.txt"}));
  {
    AtomicDirectory d(target);
    gdpo::test::write_file(d.temp_path() + "/a.txt", "2");
    // The old folder is intact until the commit.
    EXPECT_EQ(gdpo::test::read_file(target + "/a.txt"), "1");
    d.commit();
  }
  // The new folder only: no file of the old one survives, and no sibling stays behind.
  EXPECT_EQ(entries(target), std::vector<std::string>({"a.txt"}));
  EXPECT_EQ(gdpo::test::read_file(target + "/a.txt"), "2");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>({"model"}));
}

TEST(AtomicDirectory, AbandonedFolderIsRemovedAndTheOldOneKept) {
  gdpo::test::TempDir dir;
  gdpo::test::write_file(dir.file("model/a.txt"), "old");
  {
    AtomicDirectory d(dir.file("model"));
    gdpo::test::write_file(d.temp_path() + "/a.txt", "half");
  }
  EXPECT_EQ(gdpo::test::read_file(dir.file("model/a.txt")), "old");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>({"model"}));
}

TEST(AtomicFile, TemporaryTargetRecognisesOnlyTheWritersNames) {
  AtomicFile f("/x/config.ini");
  EXPECT_EQ(temporary_target(fs::path(f.temp_path()).filename().string()), "config.ini");
  EXPECT_EQ(temporary_target(".step-00000004.h5.tmp.123.7"), "step-00000004.h5");
  EXPECT_EQ(temporary_target(".model.old.99.0"), "model");
  for (const char* other : {"config.ini", ".config.ini", ".config.ini.tmp.", ".config.ini.tmp.1",
                            ".config.ini.tmp.a.1", "config.ini.tmp.1.2", ".x.bak.1.2"})
    EXPECT_FALSE(temporary_target(other).has_value()) << other;
}

}  // namespace
}  // namespace gdpo::io
