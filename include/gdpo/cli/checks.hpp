// Value checks for option validators: each throws gdpo::UsageError naming the option, e.g.
// "--train.precision must be one of fp32, bf16; got 'fp16'".
#pragma once
#include <initializer_list>
#include <string>

namespace gdpo::cli {

// `value` must equal one of `choices`.
void require_one_of(const std::string& option, const std::string& value,
                    std::initializer_list<const char*> choices);
// `value` must be > 0 (NaN fails).
void require_positive(const std::string& option, double value);

}  // namespace gdpo::cli
