// Value checks for the library's config structs: each throws gdpo::UsageError naming the option, e.g.
// "--train.lr must be positive, got 0". Configs are validated once, where they are built.
#pragma once
#include <string>

namespace gdpo {

// `value` must be > 0 and finite (NaN and infinities fail).
void require_positive(const std::string& option, double value);
// `value` must be >= `minimum` and finite (NaN and infinities fail).
void require_at_least(const std::string& option, double value, double minimum);

}  // namespace gdpo
