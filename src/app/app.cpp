#include "gdpo/app/app.hpp"

#include <c10/util/Exception.h>

#include <algorithm>

#include "command.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/core/version.hpp"
#include "gdpo/dist/fatal.hpp"

namespace gdpo::app {

namespace {

// Points std::cin/cout/cerr at the given streams while alive.
class StreamRedirect {
 public:
  StreamRedirect(std::istream& in, std::ostream& out, std::ostream& err)
      : in_(std::cin.rdbuf(in.rdbuf())),
        out_(std::cout.rdbuf(out.rdbuf())),
        err_(std::cerr.rdbuf(err.rdbuf())) {}
  ~StreamRedirect() {
    std::cout.flush();
    std::cerr.flush();
    std::cin.rdbuf(in_);
    std::cout.rdbuf(out_);
    std::cerr.rdbuf(err_);
  }
  StreamRedirect(const StreamRedirect&) = delete;
  StreamRedirect& operator=(const StreamRedirect&) = delete;

 private:
  std::streambuf *in_, *out_, *err_;
};

bool is_help(const std::string& a) { return a == "--help" || a == "-h" || a == "help"; }

std::string group_summary(const std::string& name) {
  for (const auto& [g, summary] : command_groups())
    if (g == name) return summary;
  return "";
}

// The one listing format of `gdpo help` and `gdpo <group> --help`: a title, a usage line and the
// commands under `prefix` ("" for the top level), groups shown once by their name.
void print_listing(std::ostream& out, const std::string& prefix) {
  const std::string program = prefix.empty() ? "gdpo" : "gdpo " + prefix;
  if (prefix.empty())
    out << "gdpo " << version()
        << ": Group Distributional Preference Optimization (ICLR 2025, \"No Preference Left "
           "Behind\")\n(not TRL's \"GDPO\", which is a different method)\n\n";
  else
    out << program << ": " << group_summary(prefix) << "\n\n";
  out << "usage: " << program << " <command> [options]    " << program << " <command> --help\n\n"
      << "commands:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  const std::string lead = prefix.empty() ? "" : prefix + " ";
  for (const auto& c : commands()) {
    if (c.path.compare(0, lead.size(), lead) != 0) continue;
    const std::string rest = c.path.substr(lead.size());
    const auto space = rest.find(' ');
    if (space == std::string::npos) {
      rows.emplace_back(rest, c.summary);
    } else {
      const std::string group = rest.substr(0, space);
      if (std::none_of(rows.begin(), rows.end(), [&](const auto& r) { return r.first == group; }))
        rows.emplace_back(group, group_summary(lead + group));
    }
  }
  size_t width = 12;
  for (const auto& r : rows) width = std::max(width, r.first.size() + 2);
  for (const auto& [name, summary] : rows)
    out << "  " << name << std::string(width - name.size(), ' ') << summary << "\n";
  if (prefix.empty())
    out << "\noptions are dotted (--train.lr 5e-7) and may come from INI files (--config F.ini)\n";
}

bool is_group(const std::string& path) {
  for (const auto& c : commands())
    if (c.path.size() > path.size() && c.path.compare(0, path.size() + 1, path + " ") == 0)
      return true;
  return false;
}

// The command whose path is the longest match of the leading words of `args`, and how many words
// it took; nullptr when none matches.
const Command* resolve(const Args& args, size_t& words) {
  const Command* best = nullptr;
  std::string path;
  for (size_t n = 1; n <= args.size(); ++n) {
    path += (n > 1 ? " " : "") + args[n - 1];
    for (const auto& c : commands())
      if (c.path == path) best = &c, words = n;
    if (!is_group(path)) break;
  }
  return best;
}

int fail(std::ostream& err, const std::string& where, const std::string& message, int code) {
  err << where << ": error: " << message << std::endl;
  dist::abort_world_if_distributed(code);
  return code;
}

// Dispatches `args`; exceptions propagate to run().
int dispatch(const Args& args, std::string& where) {
  if (args.empty()) {
    print_listing(std::cerr, "");
    return kExitUsage;
  }
  if (is_help(args[0])) {
    if (args.size() == 1) {
      print_listing(std::cout, "");
      return kExitOk;
    }
    Args rest(args.begin() + 1, args.end());
    rest.push_back("--help");
    return dispatch(rest, where);
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::cout << build_description() << "\n";
    return kExitOk;
  }
  size_t words = 0;
  const Command* cmd = resolve(args, words);
  if (!cmd) {
    // A group: list its commands when asked (or when nothing follows), else name the mistake.
    std::string group;
    size_t n = 0;
    while (n < args.size() && is_group(group.empty() ? args[n] : group + " " + args[n]))
      group += (group.empty() ? "" : " ") + args[n++];
    if (group.empty())
      throw UsageError("unknown command '" + args[0] + "' (see 'gdpo help')");
    where = "gdpo " + group;
    if (n == args.size()) {
      print_listing(std::cerr, group);
      return kExitUsage;
    }
    if (is_help(args[n])) {
      print_listing(std::cout, group);
      return kExitOk;
    }
    throw UsageError("unknown command '" + args[n] + "' (see 'gdpo " + group + " --help')");
  }
  where = "gdpo " + cmd->path;
  return cmd->run(Args(args.begin() + static_cast<std::ptrdiff_t>(words), args.end()));
}

}  // namespace

int run(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
        std::ostream& err) {
  StreamRedirect redirect(in, out, err);
  std::string where = "gdpo";
  try {
    return dispatch(args, where);
  } catch (const Error& e) {
    return fail(std::cerr, where, e.what(), e.exit_code());
  } catch (const c10::Error& e) {
    return fail(std::cerr, where, std::string("LibTorch: ") + e.what_without_backtrace(),
                kExitFailure);
  } catch (const std::exception& e) {
    return fail(std::cerr, where, e.what(), kExitFailure);
  }
}

}  // namespace gdpo::app
