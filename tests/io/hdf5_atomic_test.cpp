// write_h5_atomic: a writer SIGKILLed in the middle of a (tens of MB) file leaves the previous
// version intact; a fill that throws leaves it intact and no temporary behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

namespace fs = std::filesystem;

void write_version_one(const std::string& path) {
  write_h5_atomic(path, [](H5File& f) {
    f.write_tensor("w", torch::arange(1000, torch::kFloat));
    f.write_string("config", "[train]\nlr = 1e-6\n");
    f.set_attr("/", "version", 1);
  });
}

void expect_version_one(const std::string& path) {
  H5File f = H5File::open_read(path);
  EXPECT_EQ(f.int_attr("/", "version"), 1);
  EXPECT_TRUE(
      torch::equal(f.read_tensor("w", torch::kFloat, {1000}), torch::arange(1000, torch::kFloat)));
  EXPECT_EQ(f.read_string("config"), "[train]\nlr = 1e-6\n");
  EXPECT_EQ(f.list(), std::vector<std::string>({"config", "w"}));
}

// Runs `child` in a forked process (which must not return) and returns its wait status.
template <class F>
int in_child(F child) {
  pid_t pid = fork();
  if (pid == 0) {
    try {
      child();
    } catch (...) {
      _exit(2);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(WriteH5Atomic, WritesAndReplacesAWholeFile) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("ckpt.h5");
  write_version_one(path);
  expect_version_one(path);
  write_h5_atomic(path, [](H5File& f) { f.set_attr("/", "version", 2); });
  EXPECT_EQ(H5File::open_read(path).int_attr("/", "version"), 2);
  EXPECT_FALSE(H5File::open_read(path).exists("w"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(WriteH5Atomic, FillThatThrowsKeepsThePreviousFileAndNoTemporary) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("ckpt.h5");
  write_version_one(path);
  EXPECT_THROW(write_h5_atomic(path,
                               [](H5File& f) {
                                 f.write_tensor("w", torch::zeros({10}));
                                 f.read_tensor("missing");
                               }),
               InputError);
  expect_version_one(path);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(WriteH5Atomic, SigkillMidWriteLeavesThePreviousVersionIntact) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("ckpt.h5");
  write_version_one(path);
  // Made before fork: the child only writes (no LibTorch kernels after fork).
  torch::Tensor block = torch::full({1 << 18}, 2.5f);  // 1 MiB
  int status = in_child([&] {
    write_h5_atomic(path, [&](H5File& f) {
      f.set_attr("/", "version", 2);
      for (int i = 0; i < 40; ++i) {
        f.write_tensor("blocks/" + std::to_string(i), block);
        if (i == 24) kill(getpid(), SIGKILL);  // 25 MiB written, 15 to go
      }
    });
  });
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  expect_version_one(path);
  // The killed writer's temporary is all that is left besides the intact target.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename());
  ASSERT_EQ(names.size(), 2u);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names[0].rfind(".ckpt.h5.tmp.", 0), 0u);
  EXPECT_GT(fs::file_size(dir.path() / names[0]), size_t{20} << 20);
  EXPECT_EQ(names[1], "ckpt.h5");
}

TEST(WriteH5Atomic, SigkillFromOutsideLeavesEitherTheOldOrTheNewFileComplete) {
  gdpo::test::TempDir dir;
  std::string path = dir.file("ckpt.h5");
  write_version_one(path);
  torch::Tensor block = torch::full({1 << 18}, 2.5f);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    try {
      write_h5_atomic(path, [&](H5File& f) {
        f.set_attr("/", "version", 2);
        for (int i = 0; i < 48; ++i) {
          f.write_tensor("blocks/" + std::to_string(i), block);
          if (i == 0 && write(ready[1], "x", 1) != 1) _exit(3);
        }
      });
    } catch (...) {
      _exit(2);
    }
    _exit(0);
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);  // the child has started writing its 48 MiB
  kill(pid, SIGKILL);
  close(ready[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  H5File f = H5File::open_read(path);
  if (f.int_attr("/", "version") == 1) {
    expect_version_one(path);
  } else {  // the child finished before the signal arrived: then the new file is complete
    EXPECT_EQ(f.list("blocks").size(), 48u);
    EXPECT_TRUE(torch::equal(f.read_tensor("blocks/47"), block));
  }
}

}  // namespace
}  // namespace gdpo::io
