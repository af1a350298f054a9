#include "gdpo/core/progress.hpp"

#include <unistd.h>

#include <chrono>

#include "gdpo/core/log.hpp"

namespace gdpo {

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

Progress::Progress(int64_t total, Options options)
    : total_(total), opt_(std::move(options)), done_(opt_.initial) {
  if (!opt_.clock) opt_.clock = steady_seconds;
  out_ = opt_.out ? opt_.out : &log::detail::stream();
  terminal_ = opt_.terminal.value_or(opt_.out == nullptr && log::settings().stream == nullptr &&
                                     isatty(STDERR_FILENO));
  printing_ = opt_.every_rank || log::rank() == 0;
  start_ = last_print_ = opt_.clock();
}

Progress::~Progress() {
  try {
    finish();
  } catch (...) {  // never throw from a destructor (it may run during unwinding)
  }
}

void Progress::merge(const Fields& fields) {
  for (const auto& f : fields) {
    auto it = std::find_if(fields_.begin(), fields_.end(),
                           [&](const Field& g) { return g.name == f.name; });
    if (it != fields_.end()) {
      it->text = f.text;
    } else {
      fields_.push_back(f);
    }
  }
}

void Progress::update(int64_t done, const Fields& fields) {
  done_ = done;
  merge(fields);
  if (!printing_ || finished_) return;
  const double now = opt_.clock();
  if (terminal_) {
    if (printed_ && now - last_print_ < opt_.redraw_s) return;
    log::detail::show_status(*out_, text(false));
  } else {
    if (now - last_print_ < opt_.interval_s) return;
    log::detail::write_line(*out_, log::detail::prefix(log::Level::Info, opt_.every_rank) +
                                       text(false));
  }
  printed_ = true;
  last_print_ = now;
}

void Progress::advance(int64_t n, const Fields& fields) { update(done_ + n, fields); }

void Progress::finish(const Fields& fields) {
  if (finished_) return;
  merge(fields);
  finished_ = true;
  if (!printing_) return;
  if (terminal_) {
    log::detail::end_status(*out_, text(true));
  } else {
    log::detail::write_line(*out_, log::detail::prefix(log::Level::Info, opt_.every_rank) +
                                       text(true));
  }
}

double Progress::elapsed() const { return opt_.clock() - start_; }

double Progress::rate() const {
  const double t = elapsed();
  return t > 0 ? static_cast<double>(done_ - opt_.initial) / t : 0.0;
}

std::string Progress::line() const { return text(false); }

std::string Progress::text(bool final) const {
  std::string s = opt_.label.empty() ? "" : opt_.label + " ";
  if (total_ > 0) {
    s += std::to_string(done_) + "/" + std::to_string(total_) +
         format(" (%.1f%%)", 100.0 * static_cast<double>(done_) / static_cast<double>(total_));
  } else {
    s += std::to_string(done_) + " " + opt_.unit;
  }
  const double t = elapsed();
  const double r = rate();
  if (t <= 0) {
    s += " ? " + opt_.unit + "/s";
  } else if (r > 0 && r < 1) {
    s += format(" %.2f s/", 1.0 / r) + opt_.unit;
  } else {
    s += format(" %.2f ", r) + opt_.unit + "/s";
  }
  s += " elapsed " + format_duration(t);
  if (!final && total_ > 0 && r > 0 && done_ < total_)
    s += " ETA " + format_duration(static_cast<double>(total_ - done_) / r);
  for (const auto& f : fields_) s += " " + f.name + " " + f.text;
  return s;
}

std::string Progress::format_duration(double seconds) {
  if (!(seconds >= 0 && seconds < 1e9)) return "?";  // negative, NaN or absurd
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

}  // namespace gdpo
