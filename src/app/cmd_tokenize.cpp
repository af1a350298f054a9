// `gdpo tokenize --tokenizer.path PATH [--tokenizer.decode]`: text on stdin -> token ids on stdout,
// one output line per input line (ids separated by spaces), or the reverse with --tokenizer.decode.
// For checking exactly what a prompt format turns into. Errors name the input line.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "command.hpp"
#include "gdpo/app/options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::app {
namespace {

// The whitespace-separated ids of `line`; InputError naming the line for anything else.
std::vector<int64_t> parse_ids(const std::string& line, size_t number) {
  std::vector<int64_t> ids;
  size_t pos = 0;
  while (true) {
    pos = line.find_first_not_of(" \t\r", pos);
    if (pos == std::string::npos) break;
    size_t end = line.find_first_of(" \t\r", pos);
    if (end == std::string::npos) end = line.size();
    const std::string field = line.substr(pos, end - pos);
    char* stop = nullptr;
    errno = 0;
    long long id = std::strtoll(field.c_str(), &stop, 10);
    if (errno != 0 || *stop != '\0')
      GDPO_THROW(gdpo::InputError, "stdin line " << number << ": '" << field
                                                  << "' is not an integer token id");
    ids.push_back(id);
    pos = end;
  }
  return ids;
}

}  // namespace

int cmd_tokenize(const Args& args) {
  std::string path;
  bool decode = false;
  OptionSet options(
      "gdpo tokenize",
      "encode each line of stdin to token ids (space-separated, one line per line), or decode "
      "ids back to text");
  options.group("tokenizer")
      .required("path", &path,
                "tokenizer: a directory with tokenizer.json or vocab.json + merges.txt, a "
                "tokenizer.json file, or 'bytes'")
      .flag("decode", &decode, "read ids (one sequence per line) and print their text");
  if (!options.parse(args)) return gdpo::kExitOk;

  const auto tokenizer = gdpo::tokenizer::load_tokenizer(path);
  std::string line, out;
  std::vector<int64_t> ids;
  for (size_t number = 1; std::getline(std::cin, line); ++number) {
    out.clear();
    if (decode) {
      try {
        out = tokenizer->decode(parse_ids(line, number));
      } catch (const gdpo::InputError& e) {
        if (std::string(e.what()).rfind("stdin line", 0) == 0) throw;
        GDPO_THROW(gdpo::InputError, "stdin line " << number << ": " << e.what());
      }
    } else {
      ids.clear();
      tokenizer->encode_append(line, ids);
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out.push_back(' ');
        out += std::to_string(ids[i]);
      }
    }
    out.push_back('\n');
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
  }
  std::cout.flush();
  if (!std::cout) GDPO_THROW(gdpo::Error, "gdpo tokenize: cannot write to stdout");
  return gdpo::kExitOk;
}

}  // namespace gdpo::app
