// Rank-aware, thread-safe logging: `log::info("step ", step, " loss ", loss)`. By default debug/info
// lines print only on rank 0 and warnings/errors on every rank, prefixed with "[rank R]". Every line
// goes to stderr (stdout stays for a command's results) with a "[YYYY-mm-dd HH:MM:SS]" prefix.
#pragma once
#include <ostream>
#include <sstream>
#include <string>

namespace gdpo::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// Process-wide settings. The defaults may come from the environment, read once at first use:
// GDPO_LOG_LEVEL=debug|info|warn|error, GDPO_LOG_ALL_RANKS=1, GDPO_LOG_TIMESTAMPS=0.
struct Settings {
  Level level = Level::Info;  // lines below this level are dropped
  bool all_ranks = false;     // debug/info from every rank too (each line then names its rank)
  bool timestamps = true;     // "[2026-11-27 15:10:47] " prefix (local time)
  std::ostream* stream = nullptr;  // nullptr: std::cerr (tests inject a std::ostringstream)
};
Settings settings();
void configure(const Settings& settings);

// This process's rank in the job; set by gdpo::dist when it starts MPI (default 0 of 1).
void set_rank(int rank, int world_size);
int rank();
int world_size();

// "debug" | "info" | "warn" (or "warning") | "error"; anything else is a gdpo::UsageError.
Level parse_level(const std::string& name);
const char* level_name(Level level);

// True when a line at `level` would print on this rank.
bool enabled(Level level);
// Prints one line (the prefix, then `message`) when enabled(level).
void write(Level level, const std::string& message);

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
// The prefix of a line: "[timestamp] [rank R] warning: " (parts per the settings and the level).
// `with_rank` forces the rank part (when world_size() > 1).
std::string prefix(Level level, bool with_rank = false);
// The stream lines go to (settings().stream or std::cerr).
std::ostream& stream();
// A status line redrawn in place on a terminal (gdpo::Progress). While one is shown on a stream,
// log lines written to the same stream erase it first and redraw it below themselves.
void show_status(std::ostream& out, const std::string& text);
// Replaces the status line by `final_text` (when not empty) and ends the line.
void end_status(std::ostream& out, const std::string& final_text);
// Writes `line` + "\n" under the log lock (erasing and redrawing a status line as above).
void write_line(std::ostream& out, const std::string& line);
}  // namespace detail

template <class... Args>
void debug(const Args&... args) {
  if (enabled(Level::Debug)) write(Level::Debug, detail::concat(args...));
}
template <class... Args>
void info(const Args&... args) {
  if (enabled(Level::Info)) write(Level::Info, detail::concat(args...));
}
template <class... Args>
void warn(const Args&... args) {
  if (enabled(Level::Warn)) write(Level::Warn, detail::concat(args...));
}
template <class... Args>
void error(const Args&... args) {
  if (enabled(Level::Error)) write(Level::Error, detail::concat(args...));
}

}  // namespace gdpo::log
