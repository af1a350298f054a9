// `gdpo tokenize`, in-process with its stdin given: line-per-line encode and decode, a round trip,
// and errors that name the input line (exit code 3) or the missing option (exit code 2).
#include <gtest/gtest.h>

#include "support/app_runner.hpp"
#include "support/test_support.hpp"
#include "tokenizer/tiny_bpe.hpp"

namespace gdpo::tokenizer {
namespace {

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

test::RunResult tokenize(const test::TempDir&, const std::string& input, const std::string& args) {
  return test::run_app("tokenize " + args, input);
}

TEST(CmdTokenize, EncodesEachLineWithTheByteTokenizer) {
  test::TempDir dir;
  auto r = tokenize(dir, "Hi\n\nab<|endoftext|>\n", "--tokenizer.path bytes");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "72 105\n\n97 98 256\n");
  r = tokenize(dir, "72 105\n\n97 98 256\n", "--tokenizer.path bytes --tokenizer.decode");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "Hi\n\nab<|endoftext|>\n");
}

TEST(CmdTokenize, RoundTripsThroughABpeTokenizer) {
  test::TempDir dir;
  testing::write_tiny_gpt2_files(dir.file("tiny"));
  const std::string text = "hello world\n  hello\thello<|endoftext|>\ncaf\xc3\xa9 aaaaa\n";
  auto enc = tokenize(dir, text, "--tokenizer.path '" + dir.file("tiny") + "'");
  ASSERT_EQ(enc.exit_code, 0) << enc.output;
  EXPECT_EQ(enc.output.substr(0, enc.output.find('\n')), "259 260 111 114 108 100");
  auto dec = tokenize(dir, enc.output, "--tokenizer.path '" + dir.file("tiny") + "' --tokenizer.decode");
  ASSERT_EQ(dec.exit_code, 0) << dec.output;
  EXPECT_EQ(dec.output, text);
}

TEST(CmdTokenize, BadIdsNameTheLine) {
  test::TempDir dir;
  auto r = tokenize(dir, "1 2\n3 x 4\n", "--tokenizer.path bytes --tokenizer.decode");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_CONTAINS(r.output, "stdin line 2");
  EXPECT_CONTAINS(r.output, "'x'");
  r = tokenize(dir, "1 2\n\n300\n", "--tokenizer.path bytes --tokenizer.decode");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_CONTAINS(r.output, "stdin line 3");
  EXPECT_CONTAINS(r.output, "300");
}

TEST(CmdTokenize, UsageErrors) {
  test::TempDir dir;
  auto r = tokenize(dir, "x\n", "");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_CONTAINS(r.output, "tokenizer.path");
  r = tokenize(dir, "x\n", "--tokenizer.path '" + dir.file("missing") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_CONTAINS(r.output, dir.file("missing"));
}

}  // namespace
}  // namespace gdpo::tokenizer
