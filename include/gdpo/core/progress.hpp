// Progress of long work on rank 0: "train 250/1000 (25.0%) 2.50 it/s elapsed 1m40s ETA 5m00s loss
// 0.5231". On a terminal one line is redrawn in place ("\r"); otherwise (Slurm logs, pipes) a plain
// log line is printed every `interval_s` seconds and at the end. Output, terminal test and clock are
// injectable for tests.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace gdpo {

// Options of a Progress (a namespace-scope struct so that `Options options = {}` works).
struct ProgressOptions {
  std::string label;               // first word of the line, e.g. "train" (may be empty)
  std::string unit = "it";         // items are "it" -> "it/s"
  int64_t initial = 0;             // done at start (a resumed run); the rate counts from here
  std::ostream* out = nullptr;     // nullptr: the log stream (stderr, see gdpo/core/log.hpp)
  std::optional<bool> terminal;    // redraw in place; default: `out` is null and stderr is a tty
  double interval_s = 30.0;        // plain mode: at most one line per interval (and the last)
  double redraw_s = 0.2;           // terminal mode: at most one redraw per this many seconds
  std::function<double()> clock;   // seconds on a monotonic clock; default: steady_clock
  bool every_rank = false;         // default: only rank 0 (gdpo::log::rank()) prints
};

class Progress {
 public:
  // A caller-provided "name value" pair shown after the counters; numbers get 4 significant digits.
  struct Field {
    template <class T>
    Field(std::string name, const T& value) : name(std::move(name)), text(to_text(value)) {}
    std::string name;
    std::string text;

   private:
    template <class T>
    static std::string to_text(const T& v) {
      if constexpr (std::is_floating_point_v<T>) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4g", static_cast<double>(v));
        return buf;
      } else {
        std::ostringstream os;
        os << v;
        return os.str();
      }
    }
  };
  using Fields = std::vector<Field>;
  // Seconds on a monotonic clock.
  using Clock = std::function<double()>;

  using Options = ProgressOptions;

  // `total` <= 0: unknown (no percentage, no ETA).
  explicit Progress(int64_t total, Options options = {});
  // Calls finish() unless it was called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets the count of items done (absolute) and merges `fields` (same name: replaced; new: appended),
  // then prints if it is time to.
  void update(int64_t done, const Fields& fields = {});
  // update(done() + n, fields).
  void advance(int64_t n = 1, const Fields& fields = {});
  // Prints the final line (no ETA) and ends it. Later calls do nothing.
  void finish(const Fields& fields = {});

  // The current line, without prefix, "\r" or newline.
  std::string line() const;
  int64_t done() const { return done_; }
  int64_t total() const { return total_; }
  // Items per second since the start; 0 before any time has passed.
  double rate() const;
  double elapsed() const;

  // "42s", "4m05s", "1h02m", "2d03h".
  static std::string format_duration(double seconds);

 private:
  void merge(const Fields& fields);
  std::string text(bool final) const;

  int64_t total_;
  Options opt_;
  std::ostream* out_;
  bool terminal_;
  bool printing_;
  double start_;
  double last_print_;
  bool printed_ = false;
  bool finished_ = false;
  int64_t done_;
  Fields fields_;
};

}  // namespace gdpo
