// Counts of examples left out, per reason: invalid input skipped with --data.skip-invalid, or data a
// builder cannot use (a movie with too few reviews). Always reported, never silently dropped.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "gdpo/core/error.hpp"

namespace gdpo::data {

class SkipCounts {
 public:
  void add(const std::string& reason, int64_t n = 1) { counts_[reason] += n; }
  // A bad example: counted under `reason` when `skip` (--data.skip-invalid), else an InputError
  // "<where>: <message>", `where` naming the file and line ("data.jsonl:12").
  void skip_or_throw(bool skip, const std::string& reason, const std::string& where,
                     const std::string& message) {
    if (!skip) throw InputError(where + ": " + message);
    add(reason);
  }
  void merge(const SkipCounts& other) {
    for (const auto& [reason, n] : other.counts_) counts_[reason] += n;
  }
  int64_t count(const std::string& reason) const {
    auto it = counts_.find(reason);
    return it == counts_.end() ? 0 : it->second;
  }
  int64_t total() const {
    int64_t t = 0;
    for (const auto& kv : counts_) t += kv.second;
    return t;
  }
  const std::map<std::string, int64_t>& reasons() const { return counts_; }
  // "3 skipped (2 malformed JSON, 1 probabilities do not sum to 1)", or "" when nothing was skipped.
  std::string summary(const std::string& what = "skipped") const {
    if (counts_.empty()) return "";
    std::string s = std::to_string(total()) + " " + what + " (";
    bool first = true;
    for (const auto& [reason, n] : counts_) {
      s += (first ? "" : ", ") + std::to_string(n) + " " + reason;
      first = false;
    }
    return s + ")";
  }

 private:
  std::map<std::string, int64_t> counts_;
};

}  // namespace gdpo::data
