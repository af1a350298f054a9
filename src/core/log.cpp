#include "gdpo/core/log.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>

#include "gdpo/core/error.hpp"

namespace gdpo::log {

namespace {

struct State {
  std::mutex mutex;  // guards stream, timestamps, status_* and every write
  std::atomic<int> level{static_cast<int>(Level::Info)};
  std::atomic<bool> all_ranks{false};
  std::atomic<int> rank{0};
  std::atomic<int> world{1};
  bool timestamps = true;
  std::ostream* stream = nullptr;
  std::ostream* status_stream = nullptr;  // where a status line is shown, if any
  std::string status_text;

  State() {
    if (const char* v = std::getenv("GDPO_LOG_LEVEL"); v && *v) {
      try {
        level = static_cast<int>(parse_level(v));
      } catch (const Error&) {
        std::cerr << "warning: ignoring GDPO_LOG_LEVEL='" << v
                  << "' (expected debug, info, warn or error)" << std::endl;
      }
    }
    auto truthy = [](const char* v) {
      return v && *v && std::string(v) != "0" && std::string(v) != "false";
    };
    all_ranks = truthy(std::getenv("GDPO_LOG_ALL_RANKS"));
    if (const char* v = std::getenv("GDPO_LOG_TIMESTAMPS"); v && *v) timestamps = truthy(v);
  }
};

State& state() {
  static State s;
  return s;
}

std::string timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "[%Y-%m-%d %H:%M:%S] ", &tm);
  return buf;
}

// Writes `line` + "\n" to `out`; the caller holds the lock.
void write_locked(State& s, std::ostream& out, const std::string& line) {
  const bool under_status = s.status_stream == &out;
  if (under_status) out << "\r\033[K";
  out << line << '\n';
  if (under_status) out << '\r' << s.status_text << "\033[K";
  out.flush();
}

}  // namespace

Settings settings() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  Settings out;
  out.level = static_cast<Level>(s.level.load());
  out.all_ranks = s.all_ranks;
  out.timestamps = s.timestamps;
  out.stream = s.stream;
  return out;
}

void configure(const Settings& settings) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.level = static_cast<int>(settings.level);
  s.all_ranks = settings.all_ranks;
  s.timestamps = settings.timestamps;
  if (s.stream != settings.stream) s.status_stream = nullptr;
  s.stream = settings.stream;
}

void set_rank(int rank, int world_size) {
  GDPO_CHECK(world_size >= 1 && rank >= 0 && rank < world_size,
             "bad rank " << rank << " of " << world_size);
  state().rank = rank;
  state().world = world_size;
}
int rank() { return state().rank; }
int world_size() { return state().world; }

Level parse_level(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "debug") return Level::Debug;
  if (n == "info") return Level::Info;
  if (n == "warn" || n == "warning") return Level::Warn;
  if (n == "error") return Level::Error;
  GDPO_THROW(UsageError, "unknown log level '" << name << "' (expected debug, info, warn or error)");
}

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
  }
  return "?";
}

bool enabled(Level level) {
  const State& s = state();
  if (static_cast<int>(level) < s.level.load(std::memory_order_relaxed)) return false;
  return level >= Level::Warn || s.rank.load(std::memory_order_relaxed) == 0 ||
         s.all_ranks.load(std::memory_order_relaxed);
}

void write(Level level, const std::string& message) {
  if (!enabled(level)) return;
  std::string line = detail::prefix(level) + message;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  write_locked(s, s.stream ? *s.stream : std::cerr, line);
}

namespace detail {

std::string prefix(Level level, bool with_rank) {
  State& s = state();
  std::string out;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.timestamps) out = timestamp();
  }
  const int world = s.world;
  if (world > 1 && (with_rank || level >= Level::Warn || s.all_ranks))
    out += "[rank " + std::to_string(s.rank.load()) + "] ";
  if (level != Level::Info) out += std::string(level_name(level)) + ": ";
  return out;
}

std::ostream& stream() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.stream ? *s.stream : std::cerr;
}

void show_status(std::ostream& out, const std::string& text) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  out << '\r' << text << "\033[K";
  out.flush();
  s.status_stream = &out;
  s.status_text = text;
}

void end_status(std::ostream& out, const std::string& final_text) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (final_text.empty() && s.status_stream != &out) return;
  if (!final_text.empty()) out << '\r' << final_text << "\033[K";
  out << '\n';
  out.flush();
  if (s.status_stream == &out) {
    s.status_stream = nullptr;
    s.status_text.clear();
  }
}

void write_line(std::ostream& out, const std::string& line) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  write_locked(s, out, line);
}

}  // namespace detail

}  // namespace gdpo::log
