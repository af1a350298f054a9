// IniFile: sections and keys in file order with their lines, comments and whitespace, repeated
// headers, and errors that start with "file:line: " (malformed lines, duplicate keys, bad values).
#include "gdpo/io/ini_file.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

// The message of the InputError that `fn` throws, or "(no error)".
template <class Fn>
std::string input_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(IniFile, ReadsSectionsAndKeysInOrderWithTheirLines) {
  const IniFile ini = IniFile::parse(
      "# a comment\n"           // 1
      "; another\n"             // 2
      "\n"                      // 3
      "[model]\n"               // 4
      "family = gpt2\n"         // 5
      "  heads=4  \n"           // 6
      "empty =\n"               // 7
      "[ train ]\r\n"           // 8
      "lr = 1e-4 = a lot\n",    // 9: the value is everything after the first '='
      "c.ini");
  ASSERT_EQ(ini.sections().size(), 2u);
  const IniSection& model = ini.sections()[0];
  EXPECT_EQ(model.name, "model");
  EXPECT_EQ(model.line, 4);
  ASSERT_EQ(model.entries.size(), 3u);
  EXPECT_EQ(model.entries[0].key, "family");
  EXPECT_EQ(model.entries[0].value, "gpt2");
  EXPECT_EQ(model.entries[0].line, 5);
  EXPECT_EQ(model.entries[1].key, "heads");
  EXPECT_EQ(model.entries[1].value, "4");
  EXPECT_EQ(model.entries[1].line, 6);
  EXPECT_EQ(model.entries[1].name(), "model.heads");
  EXPECT_EQ(model.entries[2].value, "");
  const IniSection* train = ini.section("train");
  ASSERT_NE(train, nullptr);
  EXPECT_EQ(train->line, 8);
  ASSERT_NE(train->find("lr"), nullptr);
  EXPECT_EQ(train->find("lr")->value, "1e-4 = a lot");
  EXPECT_EQ(train->find("lr")->line, 9);
  EXPECT_EQ(train->find("heads"), nullptr);
  EXPECT_EQ(ini.section("eval"), nullptr);
  EXPECT_EQ(ini.where(9), "c.ini:9");
}

TEST(IniFile, KeysBeforeAnyHeaderAndRepeatedHeaders) {
  const IniFile ini = IniFile::parse("seed = 1\n[a]\nx = 1\n[b]\ny = 2\n[a]\nz = 3\n", "c.ini");
  ASSERT_EQ(ini.sections().size(), 3u);
  EXPECT_EQ(ini.sections()[0].name, "");
  EXPECT_EQ(ini.sections()[0].entries[0].name(), "seed");
  const IniSection* a = ini.section("a");
  ASSERT_EQ(a->entries.size(), 2u);  // the second [a] continues the first
  EXPECT_EQ(a->entries[1].key, "z");
  EXPECT_EQ(a->entries[1].line, 7);
  EXPECT_TRUE(IniFile::parse("", "c.ini").sections().empty());
}

TEST(IniFile, MalformedLinesNameFileAndLine) {
  EXPECT_EQ(input_error_of([] { IniFile::parse("[model]\nfamily gpt2\n", "c.ini"); }),
            "c.ini:2: expected '[section]' or 'key = value', got 'family gpt2'");
  EXPECT_EQ(input_error_of([] { IniFile::parse("\n\n[model\n", "c.ini"); }),
            "c.ini:3: malformed section header '[model' (expected [name])");
  EXPECT_EQ(input_error_of([] { IniFile::parse("[]\n", "c.ini"); }),
            "c.ini:1: malformed section header '[]' (expected [name])");
  EXPECT_EQ(input_error_of([] { IniFile::parse("[a]\n= 3\n", "c.ini"); }),
            "c.ini:2: a value without a key");
}

TEST(IniFile, DuplicateKeysAreErrors) {
  EXPECT_EQ(input_error_of([] { IniFile::parse("[a]\nx = 1\ny = 2\nx = 3\n", "c.ini"); }),
            "c.ini:4: a.x is given twice (first at line 2)");
  EXPECT_EQ(input_error_of([] { IniFile::parse("[a]\nx = 1\n[b]\n[a]\nx = 1\n", "c.ini"); }),
            "c.ini:5: a.x is given twice (first at line 2)");
  // The same key in two sections is two keys.
  EXPECT_NO_THROW(IniFile::parse("[a]\nx = 1\n[b]\nx = 1\n", "c.ini"));
}

TEST(IniFile, TypedValues) {
  const IniFile ini = IniFile::parse(
      "[v]\nint = -42\nplus = +7\nnum = 1e-05\nwhole = 3\nyes = Yes\noff = off\none = 1\nno = NO\n",
      "c.ini");
  const IniSection& v = *ini.section("v");
  EXPECT_EQ(ini.integer(*v.find("int")), -42);
  EXPECT_EQ(ini.integer(*v.find("plus")), 7);
  EXPECT_DOUBLE_EQ(ini.number(*v.find("num")), 1e-5);
  EXPECT_DOUBLE_EQ(ini.number(*v.find("whole")), 3.0);
  EXPECT_TRUE(ini.boolean(*v.find("yes")));
  EXPECT_FALSE(ini.boolean(*v.find("off")));
  EXPECT_TRUE(ini.boolean(*v.find("one")));
  EXPECT_FALSE(ini.boolean(*v.find("no")));
}

TEST(IniFile, BadValuesNameFileLineAndKey) {
  const IniFile ini = IniFile::parse(
      "[m]\nheads = 3.5\nwidth = 12x\nbig = 9223372036854775808\neps = tiny\nflag = maybe\n"
      "none =\n",
      "m.ini");
  const IniSection& m = *ini.section("m");
  EXPECT_EQ(input_error_of([&] { ini.integer(*m.find("heads")); }),
            "m.ini:2: m.heads: '3.5' is not an integer");
  EXPECT_EQ(input_error_of([&] { ini.integer(*m.find("width")); }),
            "m.ini:3: m.width: '12x' is not an integer");
  EXPECT_EQ(input_error_of([&] { ini.integer(*m.find("big")); }),
            "m.ini:4: m.big: '9223372036854775808' is not an integer in the 64-bit range");
  EXPECT_EQ(input_error_of([&] { ini.number(*m.find("eps")); }),
            "m.ini:5: m.eps: 'tiny' is not a number");
  EXPECT_EQ(input_error_of([&] { ini.boolean(*m.find("flag")); }),
            "m.ini:6: m.flag: 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)");
  EXPECT_EQ(input_error_of([&] { ini.integer(*m.find("none")); }),
            "m.ini:7: m.none: '' is not an integer");
  EXPECT_EQ(input_error_of([&] { ini.number(*m.find("none")); }),
            "m.ini:7: m.none: '' is not a number");
}

TEST(IniFile, ReadsAFile) {
  gdpo::test::TempDir dir;
  gdpo::test::write_file(dir.file("c.ini"), "[model]\nlayers = 2\n");
  const IniFile ini = IniFile::read(dir.file("c.ini"));
  EXPECT_EQ(ini.path(), dir.file("c.ini"));
  EXPECT_EQ(ini.integer(*ini.section("model")->find("layers")), 2);
  EXPECT_EQ(input_error_of([&] { IniFile::read(dir.file("absent.ini")); }),
            dir.file("absent.ini") + ": cannot open for reading");
}

}  // namespace
}  // namespace gdpo::io
